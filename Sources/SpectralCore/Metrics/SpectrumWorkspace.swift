import CLinalg

/// Every buffer an exact spectrum needs, allocated once and reused (the llm.c
/// habit: each phase's buffers sized once for its largest pass). One per
/// engine worker, sized for the largest kernel of the models it may measure:
/// a worker computes one spectrum at a time, so the models share it.
///
/// For m = nC and n probe rows it holds the kernel Θ (m², decomposed in place
/// into its eigenvectors), one layer's delta Gram (m²), the input Gram (n²),
/// the eigenvalues (m) and LAPACK `dsyevd`'s workspace (about 2m² doubles),
/// so a spectrum step allocates only its small results (eigenvalues, weights,
/// histogram: O(m)). The per-call path it replaces allocated about 7m².
public final class SpectrumWorkspace: @unchecked Sendable {
    // @unchecked: owned by one worker (or, for the state dump, one caller).
    public let capacity: Int
    public let rowCapacity: Int
    let kernel: UnsafeMutablePointer<Double>
    let deltaGram: UnsafeMutablePointer<Double>
    let inputGram: UnsafeMutablePointer<Double>
    let eigenvalues: UnsafeMutablePointer<Double>
    private(set) var work: UnsafeMutablePointer<Double>
    private(set) var workCount: Int
    private(set) var integerWork: UnsafeMutablePointer<Int32>
    private(set) var integerWorkCount: Int

    /// Buffers for kernels up to `capacity` = nC rows, with up to `rows` probe rows.
    public init(capacity: Int, rows: Int) {
        self.capacity = max(1, capacity)
        rowCapacity = max(1, rows)
        kernel = .allocate(capacity: self.capacity * self.capacity)
        deltaGram = .allocate(capacity: self.capacity * self.capacity)
        inputGram = .allocate(capacity: rowCapacity * rowCapacity)
        eigenvalues = .allocate(capacity: self.capacity)
        // dsyevd's own workspace query, for the largest size.
        (workCount, integerWorkCount) = SymmetricEigen.dsyevdWorkspaceSizes(order: self.capacity, matrix: kernel, eigenvalues: eigenvalues)
        work = .allocate(capacity: workCount)
        integerWork = .allocate(capacity: integerWorkCount)
    }

    deinit {
        kernel.deallocate(); deltaGram.deallocate(); inputGram.deallocate(); eigenvalues.deallocate()
        work.deallocate(); integerWork.deallocate()
    }

    /// True when a kernel of `size` rows built from `rows` probe rows fits.
    func fits(size: Int, rows: Int) -> Bool { size <= capacity && rows <= rowCapacity }

    /// Decomposes the `size`×`size` symmetric matrix in `kernel` in place:
    /// afterwards `kernel[k·size + i]` is component i of the eigenvector of
    /// `eigenvalues[k]`, in ascending order (LAPACK's column-major layout is
    /// the transpose of row-major, so each eigenvector is one contiguous row;
    /// the matrix is symmetric, so either triangle may be read).
    func decomposeKernel(size: Int) throws {
        guard size > 0 else { return }
        for k in 0..<(size * size) where !kernel[k].isFinite { throw SymmetricEigen.Failure.nonFinite }
        let n = Int32(size)
        let info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "L")), n, kernel, n,
                                       eigenvalues, work, Int32(workCount), integerWork, Int32(integerWorkCount))
        guard info == 0 else { throw SymmetricEigen.Failure.lapack(info: info) }
    }
}
