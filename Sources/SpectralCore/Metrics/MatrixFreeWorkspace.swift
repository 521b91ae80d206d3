import CLinalg

/// Every buffer a matrix-free spectrum needs, allocated once per model and
/// reused at each of its spectrum steps (as `SpectrumWorkspace` is for the
/// exact path), so a spectrum step allocates only its small results.
///
/// For m = nC, top k, ARPACK's ncv = 2k + 1 Lanczos vectors, a block of b
/// (`MatrixFreeSettings.blockSize(size:)`) and s block steps it holds, in doubles:
/// - ARPACK: the Lanczos basis m·ncv, its work vectors 4m, the Ritz vectors m·k;
/// - the quadrature: the starts m·b, the block Krylov basis m·b·s, one block
///   of products m·b, and the projected matrix (b·s)² with its `dsyevd` work;
/// - the unit residual ĝ and Θĝ: 2m.
/// At m = 10,240 with the defaults (k = 32, b = 5: 4 starts at that size, s = 48)
/// that is about 29 MB (353 m; 453 m with 6 starts), next to the kernel
/// factors' nC·Σ fan_out (42 MB for width 256).
public final class MatrixFreeWorkspace: @unchecked Sendable {
    // @unchecked: owned by one worker together with its model's operator.
    public let size: Int
    public let topK: Int
    public let blockCapacity: Int
    public let stepCapacity: Int
    /// ARPACK's number of Lanczos vectors.
    let lanczosCount: Int

    // ARPACK (TopEigenpairs).
    let resid: UnsafeMutablePointer<Double>
    let lanczosBasis: UnsafeMutablePointer<Double>
    let arpackWork: UnsafeMutablePointer<Double>
    let arpackLocalWork: UnsafeMutablePointer<Double>
    var arpackLocalWorkCount: Int { lanczosCount * (lanczosCount + 8) }
    /// The top-k unit eigenvectors after `TopEigenpairs.compute`, head first (vector j at j·m).
    public let ritzVectors: UnsafeMutablePointer<Double>

    // Block Lanczos quadrature (SpectralDensity).
    let starts: UnsafeMutablePointer<Double>
    let krylovBasis: UnsafeMutablePointer<Double>
    let products: UnsafeMutablePointer<Double>
    let projected: UnsafeMutablePointer<Double>
    let coefficients: UnsafeMutablePointer<Double>
    let ritzValues: UnsafeMutablePointer<Double>
    private(set) var eigenWork: UnsafeMutablePointer<Double>
    private(set) var eigenWorkCount: Int
    private(set) var eigenIntegerWork: UnsafeMutablePointer<Int32>
    private(set) var eigenIntegerWorkCount: Int

    // The residual direction (MatrixFreeSpectrum).
    let unitResidual: UnsafeMutablePointer<Double>
    let thetaResidual: UnsafeMutablePointer<Double>

    /// Buffers for an operator of `size` = m rows and the work `settings` asks.
    public init(size m: Int, settings: MatrixFreeSettings) {
        size = max(1, m)
        topK = max(1, min(settings.topK, size))
        blockCapacity = settings.blockSize(size: size)
        stepCapacity = max(1, settings.steps)
        lanczosCount = min(size, 2 * topK + 1)
        resid = .allocate(capacity: size)
        lanczosBasis = .allocate(capacity: size * lanczosCount)
        arpackWork = .allocate(capacity: 3 * size)
        arpackLocalWork = .allocate(capacity: lanczosCount * (lanczosCount + 8))
        ritzVectors = .allocate(capacity: size * topK)
        starts = .allocate(capacity: size * blockCapacity)
        krylovBasis = .allocate(capacity: size * blockCapacity * stepCapacity)
        products = .allocate(capacity: size * blockCapacity)
        let nodes = blockCapacity * stepCapacity
        projected = .allocate(capacity: nodes * nodes)
        coefficients = .allocate(capacity: max(nodes, topK) * blockCapacity)
        ritzValues = .allocate(capacity: nodes)
        unitResidual = .allocate(capacity: size)
        thetaResidual = .allocate(capacity: size)
        // dsyevd's own workspace query for the largest projected matrix.
        (eigenWorkCount, eigenIntegerWorkCount) = SymmetricEigen.dsyevdWorkspaceSizes(order: nodes, matrix: projected, eigenvalues: ritzValues)
        eigenWork = .allocate(capacity: eigenWorkCount)
        eigenIntegerWork = .allocate(capacity: eigenIntegerWorkCount)
    }

    deinit {
        resid.deallocate(); lanczosBasis.deallocate(); arpackWork.deallocate(); arpackLocalWork.deallocate(); ritzVectors.deallocate()
        starts.deallocate(); krylovBasis.deallocate(); products.deallocate(); projected.deallocate(); coefficients.deallocate()
        ritzValues.deallocate(); eigenWork.deallocate(); eigenIntegerWork.deallocate()
        unitResidual.deallocate(); thetaResidual.deallocate()
    }

    /// True when a spectrum of an m-row operator with `settings` fits.
    public func fits(size m: Int, settings: MatrixFreeSettings) -> Bool {
        m == size && min(settings.topK, m) <= topK && settings.blockSize(size: m) <= blockCapacity && settings.steps <= stepCapacity
    }

    /// Eigenvalues (ascending, into `ritzValues`) and eigenvectors (column-major
    /// in `projected`: eigenvector k is `projected[k·order ..< (k+1)·order]`) of
    /// the symmetric order × order matrix in `projected` (upper triangle read).
    func decomposeProjected(order: Int) throws(TopEigenpairs.Failure) {
        let n = Int32(order)
        let info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), n, projected, n,
                                       ritzValues, eigenWork, Int32(eigenWorkCount), eigenIntegerWork, Int32(eigenIntegerWorkCount))
        guard info == 0 else { throw .lapack(routine: "dsyevd", info: info) }
    }
}
