import CLinalg
import Foundation

/// The Gauss quadrature rule of one Lanczos run: nodes θ_k (ascending) and
/// weights τ_k (Σ τ_k = 1) such that Σ τ_k f(θ_k) ≈ qᵀ f(Θ) q for the unit
/// start vector q, i.e. the spectral measure Σ_i (v_i·q)² δ(λ_i) of q.
public struct GaussQuadrature: Sendable, Equatable {
    public var nodes: [Double]
    /// Summing to the start's squared norm (1, or less outside a deflated head).
    public var weights: [Double]
    /// The run exhausted its Krylov space: the rule is the measure itself.
    public var isExact = false
    /// The nodes are all of Θ's nonzero eigenvalues outside the head, with
    /// their multiplicities; any other eigenvalue outside the head is 0
    /// (the space spanned the whole complement, or became invariant: small or
    /// rank-deficient kernels).
    public var isComplete = false

    public init(nodes: [Double], weights: [Double], isExact: Bool = false) {
        self.nodes = nodes; self.weights = weights; self.isExact = isExact
    }

    /// The measure's mass strictly below x, with the half-width of the
    /// Chebyshev–Markov–Stieltjes bound: the true distribution function and
    /// the rule's staircase cross at every node, so between nodes θ_p < x < θ_{p+1}
    /// the mass lies in (Σ_{k<p} τ_k, Σ_{k≤p+1} τ_k); the estimate lies in that
    /// interval and the bound reaches both its ends. Outside the nodes the staircase value (0, or the
    /// whole mass) is kept, because there the truth is usually at the end of
    /// its interval (0 below λ_min), with the whole interval as the bound. An
    /// exact rule (`isExact`) is its own staircase, with no bound.
    public func massBelow(_ x: Double) -> (estimate: Double, bound: Double) {
        let s = nodes.count
        guard s > 0 else { return (0, 0) }
        var p = 0
        var below = 0.0
        while p < s && nodes[p] < x { below += weights[p]; p += 1 }
        if isExact { return (below, 0) }
        if p == 0 { return (0, weights[0]) }
        if p == s { return (below, weights[s - 1]) }
        // The truth crosses the staircase at each node, so the middle of each
        // step, c_p = Σ_{k<p} τ_k + τ_p/2 at θ_p, is the estimate there; between
        // two nodes it is interpolated linearly in log λ (the histogram's own
        // scale: a density smooth per decade), which resolves a bulk spread over
        // decades far better than a constant between nodes would.
        let left = weights[p - 1], right = weights[p]
        let lowerBound = below - left, upperBound = below + right
        let atLeft = below - left / 2, atRight = below + right / 2
        let a = nodes[p - 1], b = nodes[p]
        let t: Double
        if a > 0 { t = Foundation.log(x / a) / Foundation.log(b / a) } else { t = (x - a) / (b - a) }
        let estimate = atLeft + min(1, max(0, t)) * (atRight - atLeft)
        return (estimate, max(estimate - lowerBound, upperBound - estimate))
    }

    /// Σ τ_k f(θ_k).
    public func integrate(_ f: (Double) -> Double) -> Double {
        zip(nodes, weights).reduce(0) { $0 + $1.1 * f($1.0) }
    }
}

/// Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017) in its block
/// form: for random unit starts z with E[zzᵀ] = I/m, zᵀ f(Θ) z is an unbiased
/// estimate of tr f(Θ)/m; with f an indicator, that is the fraction of
/// eigenvalues in a range. Each zᵀ f(Θ) z is read from the Ritz pairs of Θ on
/// the block Krylov space of all the starts together.
public enum SpectralDensity {
    /// Block Lanczos from the `count` vectors in `starts` (vector j at j·m)
    /// for `steps` block steps — each one batched product of `count` vectors —
    /// restricted to the complement of the orthonormal `deflation` vectors
    /// (`deflationCount` of them, contiguous; the ARPACK head). Returns one
    /// rule per start: the Ritz values θ_k of Θ on the space, and start j's
    /// weights τ_jk = (z'_j · y_k)² for its part z'_j outside the head, so
    /// Σ_k τ_jk f(θ_k) ≈ z'_jᵀ f(Θ) z'_j.
    ///
    /// Why one block space instead of one Lanczos run per start: every start's
    /// rule then has b·s nodes instead of s for the same b·s products, and the
    /// histogram's bins are resolved by the nodes (each rule is exact for
    /// polynomials of degree 2s − 1, as a single run of s steps is, and its
    /// nodes are b times denser). On the presets this reached the previous
    /// accuracy (11 runs of 80 steps: 880 products) with about 100.
    ///
    /// Why deflate: the nodes spread over the range of the operator, and λ_1
    /// is often 10²–10³ times the bulk, so without the head the few nodes
    /// that would land in the bulk become many. Why reorthogonalise fully
    /// (a local pass, one against the head and one against the whole basis,
    /// as GEMMs, and a second full pass where the first removed much of a
    /// vector): without it a multiple eigenvalue, in particular the exact
    /// null space of a rank-deficient kernel, is not resolved. The projected
    /// matrix is formed as Qᵀ(ΘQ) from the products themselves, so it is Θ's
    /// exact Rayleigh quotient on the space even where a column had to be
    /// replaced: a column that the block lost (its part outside the space is
    /// round-off) is replaced by a random direction, which only enlarges the
    /// space. When the whole block is lost the space is invariant and every
    /// rule is the exact measure (`isExact`).
    public static func quadratures(_ op: NTKOperator, starts: UnsafePointer<Double>, count b: Int, steps: Int,
                                   deflation: UnsafePointer<Double>?, deflationCount: Int, workspace: MatrixFreeWorkspace,
                                   seed: UInt64 = 0xB10C,
                                   interrupted: () -> Bool = { false }) throws(TopEigenpairs.Failure) -> [GaussQuadrature] {
        let m = op.size
        precondition(b >= 1 && b <= op.blockCapacity && b <= workspace.blockCapacity && workspace.size == m)
        precondition(deflationCount == 0 || deflation != nil)
        // Enough steps to span the whole complement of the head, and no more.
        let s = max(1, min(steps, workspace.stepCapacity, (m - deflationCount + b - 1) / b))
        var lanczos = BlockLanczos(op: op, block: b, steps: s, deflation: deflation, deflationCount: deflationCount,
                                   workspace: workspace, seed: seed)
        let start = lanczos.begin(from: starts)
        let (used, exhausted) = try lanczos.run(interrupted: interrupted)
        let size = used * b
        lanczos.symmetriseProjected(size: size)
        try workspace.decomposeProjected(order: size)
        let complete = lanczos.spansTheComplement(size: size, exhausted: exhausted)
        return lanczos.rules(size: size, start: start, exact: exhausted || complete, complete: complete)
    }

    /// `quadratures` over arrays, with a workspace of its own (tests and one-off uses).
    public static func quadratures(_ op: NTKOperator, starts: [Double], count b: Int, steps: Int,
                                   deflation: [Double] = [], deflationCount: Int = 0) throws(TopEigenpairs.Failure) -> [GaussQuadrature] {
        let m = op.size
        precondition(starts.count == m * b && deflation.count == m * deflationCount)
        let workspace = MatrixFreeWorkspace(size: m, settings: MatrixFreeSettings(topK: max(1, deflationCount), starts: max(2, b - 1), steps: steps))
        return try starts.withUnsafeBufferPointer { z throws(TopEigenpairs.Failure) in
            try deflation.withUnsafeBufferPointer { d throws(TopEigenpairs.Failure) in
                try quadratures(op, starts: z.baseAddress!, count: b, steps: steps, deflation: deflationCount > 0 ? d.baseAddress : nil,
                                deflationCount: deflationCount, workspace: workspace)
            }
        }
    }

    /// The nodes and weights of the tridiagonal T: its eigenvalues, and the
    /// squared first components of its unit eigenvectors (LAPACK `dstev`).
    static func gaussRule(diagonal: [Double], offDiagonal: [Double]) throws(TopEigenpairs.Failure) -> GaussQuadrature {
        let s = diagonal.count
        guard s > 0 else { return GaussQuadrature(nodes: [], weights: []) }
        var d = diagonal
        var e = offDiagonal + [0]
        var z = [Double](repeating: 0, count: s * s)
        let info = LAPACKE_dstev(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), Int32(s), &d, &e, &z, Int32(s))
        guard info == 0 else { throw .lapack(routine: "dstev", info: info) }
        // Column-major: eigenvector k is z[k·s ..< (k+1)·s]; its first component is z[k·s].
        let weights = (0..<s).map { z[$0 * s] * z[$0 * s] }
        return GaussQuadrature(nodes: d, weights: weights)
    }

    /// The 97.5% quantile of Student's t with `dof` degrees of freedom: a
    /// mean of N starts ± t·SE holds the truth with 95% probability.
    static func studentT975(dof: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                               2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        guard dof >= 1 else { return .infinity }
        return dof <= table.count ? table[dof - 1] : 1.96 + 2.4 / Double(dof)
    }
}

/// The state of one block Lanczos run of `SpectralDensity.quadratures`: the
/// basis Q (vector-major, `steps`·b vectors of m), the products ΘQ of the
/// current block, the projected matrix T = Qᵀ(ΘQ) (row-major, order wide)
/// and the columns that had to be replaced.
struct BlockLanczos {
    let op: NTKOperator
    let m: Int
    /// Vectors per block (the starts).
    let b: Int
    let steps: Int
    /// b · steps: T's full width.
    let order: Int
    let deflation: UnsafePointer<Double>?
    let deflationCount: Int
    let workspace: MatrixFreeWorkspace
    let basis: UnsafeMutablePointer<Double>
    let products: UnsafeMutablePointer<Double>
    let projected: UnsafeMutablePointer<Double>
    /// Scratch for Gram–Schmidt coefficients.
    let h: UnsafeMutablePointer<Double>
    var generator: SeededGenerator
    /// Columns with nothing left outside the space (their rows of T are dropped).
    var zeroColumns = 0
    var normsBefore: [Double]

    init(op: NTKOperator, block b: Int, steps: Int, deflation: UnsafePointer<Double>?, deflationCount: Int,
         workspace: MatrixFreeWorkspace, seed: UInt64) {
        self.op = op; m = op.size; self.b = b; self.steps = steps; order = b * steps
        self.deflation = deflation; self.deflationCount = deflationCount; self.workspace = workspace
        basis = workspace.krylovBasis; products = workspace.products; projected = workspace.projected; h = workspace.coefficients
        generator = SeededGenerator(seed: seed)
        normsBefore = [Double](repeating: 0, count: b)
    }

    // MARK: Gram–Schmidt

    /// v (rows × m, vector-major) -= (v·Fᵀ)F for the `against` rows F: one
    /// block Gram–Schmidt pass, two GEMMs.
    func project(_ v: UnsafeMutablePointer<Double>, rows: Int, against f: UnsafePointer<Double>, count: Int) {
        guard count > 0 else { return }
        Double.gemm(transA: false, transB: true, m: rows, n: count, k: m, alpha: 1, a: v, lda: m, b: f, ldb: m,
                    beta: 0, c: h, ldc: count)
        Double.gemm(transA: false, transB: false, m: rows, n: m, k: count, alpha: -1, a: h, lda: count, b: f, ldb: m,
                    beta: 1, c: v, ldc: m)
    }

    /// Twice against the head and the first `known` basis vectors.
    func orthogonalise(_ v: UnsafeMutablePointer<Double>, rows: Int, known: Int) {
        for _ in 0..<2 {
            if let deflation { project(v, rows: rows, against: deflation, count: deflationCount) }
            project(v, rows: rows, against: basis, count: known)
        }
    }

    func norm(_ v: UnsafePointer<Double>) -> Double { cblas_dnrm2(Int32(m), v, 1) }

    /// Orthonormalises the `rows` vectors at basis[known...] among themselves
    /// (already orthogonal to everything before), replacing a vector whose
    /// length is round-off relative to `scale` by a random one orthogonal to all.
    mutating func orthonormaliseBlock(known: Int, rows: Int, scale: Double) {
        for j in 0..<rows {
            let v = basis + (known + j) * m
            for _ in 0..<2 { project(v, rows: 1, against: basis + known * m, count: j) }
            var length = norm(v)
            if !(length > 1e-10 * scale) {
                for i in 0..<m { v[i] = generator.gaussian() }
                orthogonalise(v, rows: 1, known: known)
                for _ in 0..<2 { project(v, rows: 1, against: basis + known * m, count: j) }
                length = norm(v)
                // Nothing is left outside the space: a zero column, whose
                // exact zero row and column in T are dropped below.
                if !(length > 1e-8) { zeroColumns += 1; length = .infinity }
            }
            cblas_dscal(Int32(m), 1 / length, v, 1)
        }
    }

    /// The b vectors at `next` −= cᵀF for the `count` basis vectors F from
    /// `first` on, with their coefficients c = F·nextᵀ ([count, b], rows
    /// `stride` apart) kept for T.
    func removeAlongBasis(_ next: UnsafeMutablePointer<Double>, first: Int, count: Int,
                          coefficients c: UnsafeMutablePointer<Double>, stride: Int) {
        Double.gemm(transA: false, transB: true, m: count, n: b, k: m, alpha: 1, a: basis + first * m, lda: m,
                    b: next, ldb: m, beta: 0, c: c, ldc: stride)
        Double.gemm(transA: true, transB: false, m: b, n: m, k: count, alpha: -1, a: c, lda: stride,
                    b: basis + first * m, ldb: m, beta: 1, c: next, ldc: m)
    }

    /// Θ's block W = ΘQ_step orthogonalised into `next` (holding W), and T's
    /// column block Qᵀ W (all `known` rows) from the same coefficients. In
    /// exact arithmetic W lies in the span of the last two blocks, the next
    /// one and (to ARPACK's tolerance) the head, so those components go
    /// first: local pass, head pass, then one pass against the whole basis,
    /// whose coefficients are then round-off-sized. That one pass leaves the
    /// block orthogonal to working precision unless it removed much of a
    /// vector (a replaced column's product reaches the whole space): then it
    /// gets the two full passes `orthogonalise` makes (the twice-is-enough
    /// test of Daniel, Gragg, Kaufman and Stewart). Two full passes every step
    /// would read the whole basis five times a step instead of twice.
    mutating func nextBlock(_ next: UnsafeMutablePointer<Double>, column: UnsafeMutablePointer<Double>, step: Int, known: Int) {
        let localStart = max(0, step - 1) * b
        removeAlongBasis(next, first: localStart, count: known - localStart, coefficients: column + localStart * order, stride: order)
        for r in 0..<localStart { for c in 0..<b { column[r * order + c] = 0 } }
        if let deflation { project(next, rows: b, against: deflation, count: deflationCount) }
        for j in 0..<b { normsBefore[j] = norm(next + j * m) }
        // h = [known, b]: the remaining coefficients, added to T's column.
        removeAlongBasis(next, first: 0, count: known, coefficients: h, stride: b)
        for r in 0..<known { for c in 0..<b { column[r * order + c] += h[r * b + c] } }
        if (0..<b).contains(where: { norm(next + $0 * m) < 0.5 * normsBefore[$0] }) {
            orthogonalise(next, rows: b, known: known)
        }
    }

    // MARK: The run

    /// The starts outside the head, z'_j, become the first block: their
    /// squared norms are the rules' masses, and their coordinates in the
    /// first block (R₀ = Q₀ Z'ᵀ: [b basis rows, b starts]) carry them into every rule.
    mutating func begin(from starts: UnsafePointer<Double>) -> (masses: [Double], firstCoordinates: [Double]) {
        let starting = workspace.starts
        if UnsafePointer(starting) != starts { starting.update(from: starts, count: m * b) }
        for _ in 0..<2 { if let deflation { project(starting, rows: b, against: deflation, count: deflationCount) } }
        var masses = [Double](repeating: 0, count: b)
        var scale = 0.0
        for j in 0..<b {
            let length = norm(starting + j * m)
            masses[j] = length * length
            scale = max(scale, length)
        }
        basis.update(from: starting, count: m * b)
        orthonormaliseBlock(known: 0, rows: b, scale: scale)
        var firstCoordinates = [Double](repeating: 0, count: b * b)
        firstCoordinates.withUnsafeMutableBufferPointer { r in
            Double.gemm(transA: false, transB: true, m: b, n: b, k: m, alpha: 1, a: basis, lda: m, b: starting, ldb: m,
                        beta: 0, c: r.baseAddress!, ldc: b)
        }
        return (masses, firstCoordinates)
    }

    /// The block steps: each one product of the current block, T's column
    /// block, and the next block. Returns the steps used and whether the
    /// space turned invariant (ΘQ within span(Q) ⊕ head: every rule exact).
    mutating func run(interrupted: () -> Bool) throws(TopEigenpairs.Failure) -> (used: Int, exhausted: Bool) {
        projected.update(repeating: 0, count: order * order)
        var operatorScale = 0.0
        for step in 0..<steps {
            if interrupted() { throw .interrupted }
            let current = basis + step * b * m
            op.apply(UnsafePointer(current), products, count: b)
            // Column block `step` of T = Qᵀ(ΘQ), rows 0..<(step+1)·b: [rows, b] into T (row-major, order wide).
            let known = (step + 1) * b
            let column = projected + step * b
            if step + 1 == steps {
                Double.gemm(transA: false, transB: true, m: known, n: b, k: m, alpha: 1, a: basis, lda: m, b: products, ldb: m,
                            beta: 0, c: column, ldc: order)
                return (steps, false)
            }
            // The next block: the products orthogonalised against the head and
            // the whole basis, with T's column block as the coefficients.
            let next = basis + known * m
            next.update(from: products, count: b * m)
            nextBlock(next, column: column, step: step, known: known)
            for r in 0..<known { for c in 0..<b { operatorScale = max(operatorScale, abs(column[r * order + c])) } }
            var lost = 0
            for j in 0..<b where norm(next + j * m) <= 1e-10 * operatorScale { lost += 1 }
            if lost == b { return (step + 1, true) }
            orthonormaliseBlock(known: known, rows: b, scale: operatorScale)
        }
        return (steps, false)
    }

    /// T's leading size × size part, compacted to a size-wide layout and made
    /// exactly symmetric: the blocks above the diagonal were computed, so they
    /// are mirrored (the diagonal blocks averaged with their transposes).
    func symmetriseProjected(size: Int) {
        if size < order {
            for r in 0..<size { for c in 0..<size { projected[r * size + c] = projected[r * order + c] } }
        }
        for r in 0..<size {
            for c in (r + 1)..<max(r + 1, size) {
                let upper = projected[r * size + c], lower = projected[c * size + r]
                let value = (c / b == r / b) ? (upper + lower) / 2 : upper
                projected[r * size + c] = value; projected[c * size + r] = value
            }
        }
    }

    /// True when the space holds every eigenvector outside the head, so its
    /// Ritz values are the eigenvalues. Either it is as large as that
    /// complement (less the zero columns), or it turned invariant with no
    /// nonzero Ritz value repeated b times: an invariant space that holds b
    /// random starts meets each eigenspace of Θ (outside the head) in
    /// min(multiplicity, b) dimensions (with probability 1), and every
    /// eigenvector with a nonzero eigenvalue has a part along some start, so
    /// those Ritz values are the whole nonzero spectrum outside the head and
    /// the rest of the complement is Θ's null space.
    func spansTheComplement(size: Int, exhausted: Bool) -> Bool {
        if size - zeroColumns + deflationCount >= m { return true }
        guard exhausted else { return false }
        let ritz = UnsafeBufferPointer(start: workspace.ritzValues, count: size).sorted()
        let largest = max(abs(ritz.first ?? 0), abs(ritz.last ?? 0))
        let nonzero = ritz.filter { $0 > 1e-10 * largest }
        var longestRun = nonzero.isEmpty ? 0 : 1, run = 1
        for (a, next) in zip(nonzero, nonzero.dropFirst()) {
            run = next - a <= 1e-8 * largest ? run + 1 : 1
            longestRun = max(longestRun, run)
        }
        return longestRun < b
    }

    /// One rule per start from the decomposed T: the Ritz values (less the
    /// zero columns' zeros, the nodes nearest 0, whose weights are 0) and
    /// start j's weight on Ritz vector k, (Σ_i R₀[i, j] Y[i, k])² over Y's
    /// first b rows, rescaled to sum to ‖z'_j‖² exactly.
    func rules(size: Int, start: (masses: [Double], firstCoordinates: [Double]), exact: Bool, complete: Bool) -> [GaussQuadrature] {
        var nodes = Array(UnsafeBufferPointer(start: workspace.ritzValues, count: size))
        var dropped = Set<Int>()
        if zeroColumns > 0 {
            dropped = Set(nodes.indices.sorted { abs(nodes[$0]) < abs(nodes[$1]) }.prefix(zeroColumns))
            nodes = nodes.indices.filter { !dropped.contains($0) }.map { nodes[$0] }
        }
        var rules: [GaussQuadrature] = []
        rules.reserveCapacity(b)
        for j in 0..<b {
            var weights: [Double] = []
            weights.reserveCapacity(nodes.count)
            for k in 0..<size where !dropped.contains(k) {
                var component = 0.0
                let eigenvector = projected + k * size
                for i in 0..<b { component += start.firstCoordinates[i * b + j] * eigenvector[i] }
                weights.append(component * component)
            }
            let total = weights.reduce(0, +)
            if total > 0 { for k in weights.indices { weights[k] *= start.masses[j] / total } }
            var rule = GaussQuadrature(nodes: nodes, weights: weights, isExact: exact || start.masses[j] == 0)
            rule.isComplete = complete
            rules.append(rule)
        }
        return rules
    }
}

/// The average of several starts' estimates of one number, with its
/// about-95% half-width: Student t over the starts (the stochastic error)
/// plus the mean quadrature bound (the deterministic error of each rule).
struct StartAverage {
    var mean: Double
    var standardError: Double
    var uncertainty: Double

    init(estimates: [Double], bounds: [Double]) {
        let n = Double(estimates.count)
        mean = estimates.reduce(0, +) / n
        let m = mean
        let variance = estimates.count > 1 ? estimates.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1) : 0
        standardError = (variance / n).squareRoot()
        // One estimate is an exact count (a complete space), not a sample: no spread.
        let spread = estimates.count > 1 ? SpectralDensity.studentT975(dof: estimates.count - 1) * standardError : 0
        uncertainty = spread + bounds.reduce(0, +) / n
    }
}
