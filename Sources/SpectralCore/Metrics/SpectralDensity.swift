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

/// Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017): for random unit
/// starts z with E[zzᵀ] = I/m, zᵀ f(Θ) z is an unbiased estimate of
/// tr f(Θ)/m, and a few Lanczos steps from z give it through the Gauss rule
/// of the tridiagonal T (eigenvalues by LAPACK `dstev`). With f an indicator,
/// that is the fraction of eigenvalues in a range.
public enum SpectralDensity {
    /// One Lanczos run of at most `steps` steps from each of the `count`
    /// vectors in `starts` (vector j at j·m), all in lockstep so each step is
    /// one batched product, restricted to the complement of the orthonormal
    /// `deflation` vectors (`deflationCount` of them, contiguous; the ARPACK
    /// head): each start is projected off them and normalised, and its rule's
    /// weights are scaled by the squared norm that is left, so rule j is the
    /// spectral measure of start j outside the head.
    ///
    /// Why deflate: the Gauss nodes spread over the range of the operator, and
    /// λ_1 is often 10²–10³ times the bulk, so without the head the few nodes
    /// that would land in the bulk become many (the histogram is logarithmic,
    /// the quadrature linear). Why reorthogonalise fully (classical
    /// Gram–Schmidt against the head and the run's own basis, repeated when
    /// the first pass cancelled most of the vector): without it a multiple
    /// eigenvalue, in particular the exact null space of a rank-deficient
    /// kernel, is not resolved — its Ritz value stalls near √ε·λ_1 instead of 0
    /// — and an exhausted Krylov space shows no breakdown. The cost is m·j·b
    /// per step, about C·j/P of a product's (≈1% for digits), and m·steps·b
    /// doubles of basis. A run whose next β is round-off small has found an
    /// invariant subspace: its rule is then the exact measure (`isExact`).
    public static func quadratures(_ op: NTKOperator, starts: [Double], count b: Int, steps: Int,
                                   deflation: [Double] = [], deflationCount: Int = 0,
                                   interrupted: () -> Bool = { false }) throws(TopEigenpairs.Failure) -> [GaussQuadrature] {
        let m = op.size
        precondition(starts.count == m * b && b <= op.blockCapacity && deflation.count == m * deflationCount)
        let s = max(1, min(steps, m - deflationCount))
        // basis[j]: rows 0..<s of start j's Lanczos vectors.
        var basis = [[Double]](repeating: [Double](repeating: 0, count: m * s), count: b)
        var block = [Double](repeating: 0, count: m * b)
        var w = [Double](repeating: 0, count: m * b)
        var masses = [Double](repeating: 0, count: b)
        var alphas = [[Double]](repeating: [], count: b)
        var betas = [[Double]](repeating: [], count: b)
        var active = [Bool](repeating: true, count: b)
        var coefficients = [Double](repeating: 0, count: max(deflationCount, s))
        var exhausted = [Bool](repeating: false, count: b)
        var scale = 0.0

        // Projects v (m doubles) off `rows` orthonormal rows of `against`: one
        // classical Gram–Schmidt pass, two GEMVs. Returns nothing; the caller
        // measures the norm.
        func project(_ v: UnsafeMutablePointer<Double>, against: UnsafePointer<Double>, rows: Int) {
            guard rows > 0 else { return }
            coefficients.withUnsafeMutableBufferPointer { h in
                cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(m), 1, against, Int32(m), v, 1, 0, h.baseAddress!, 1)
                cblas_dgemv(CblasRowMajor, CblasTrans, Int32(rows), Int32(m), -1, against, Int32(m), h.baseAddress!, 1, 1, v, 1)
            }
        }
        func norm(_ v: UnsafePointer<Double>) -> Double { cblas_dnrm2(Int32(m), v, 1) }
        /// Orthogonalises v against the head and the first `rows` basis vectors of start j, twice when needed.
        func orthogonalise(_ v: UnsafeMutablePointer<Double>, start j: Int, rows: Int) -> Double {
            var before = norm(v)
            for _ in 0..<2 {
                deflation.withUnsafeBufferPointer { d in if deflationCount > 0 { project(v, against: d.baseAddress!, rows: deflationCount) } }
                basis[j].withUnsafeBufferPointer { q in project(v, against: q.baseAddress!, rows: rows) }
                let after = norm(v)
                // "Twice is enough" (Kahan–Parlett): repeat only when the pass cancelled most of v.
                if after > 0.5 * before { return after }
                before = after
            }
            return norm(v)
        }

        starts.withUnsafeBufferPointer { z in
            w.withUnsafeMutableBufferPointer { wp in
                for j in 0..<b {
                    let v = wp.baseAddress! + j * m
                    v.update(from: z.baseAddress! + j * m, count: m)
                    let length = orthogonalise(v, start: j, rows: 0)
                    masses[j] = length * length
                    if length > 0 {
                        for i in 0..<m { basis[j][i] = v[i] / length }
                    } else {
                        active[j] = false
                    }
                }
            }
        }
        for step in 0..<s {
            if !active.contains(true) { break }
            if interrupted() { throw .interrupted }
            for j in 0..<b {
                basis[j].withUnsafeBufferPointer { q in
                    block.withUnsafeMutableBufferPointer { x in (x.baseAddress! + j * m).update(from: q.baseAddress! + step * m, count: m) }
                }
            }
            block.withUnsafeBufferPointer { qp in
                w.withUnsafeMutableBufferPointer { wp in op.apply(qp.baseAddress!, wp.baseAddress!, count: b) }
            }
            for j in 0..<b where active[j] {
                let base = j * m
                let alpha = block.withUnsafeBufferPointer { q in
                    w.withUnsafeBufferPointer { v in cblas_ddot(Int32(m), q.baseAddress! + base, 1, v.baseAddress! + base, 1) }
                }
                alphas[j].append(alpha)
                let length = w.withUnsafeMutableBufferPointer { wp in orthogonalise(wp.baseAddress! + base, start: j, rows: step + 1) }
                scale = max(scale, abs(alpha), length)
                if length <= 1e-10 * scale || step + 1 == s {
                    active[j] = false
                    if length <= 1e-10 * scale { exhausted[j] = true }
                    continue
                }
                betas[j].append(length)
                w.withUnsafeBufferPointer { v in
                    basis[j].withUnsafeMutableBufferPointer { q in
                        let next = q.baseAddress! + (step + 1) * m
                        next.update(from: v.baseAddress! + base, count: m)
                        cblas_dscal(Int32(m), 1 / length, next, 1)
                    }
                }
            }
        }
        var rules: [GaussQuadrature] = []
        for j in 0..<b {
            var rule = try gaussRule(diagonal: alphas[j], offDiagonal: Array(betas[j].prefix(max(0, alphas[j].count - 1))))
            rule.weights = rule.weights.map { $0 * masses[j] }
            rule.isExact = exhausted[j] || masses[j] == 0
            rules.append(rule)
        }
        return rules
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
        uncertainty = SpectralDensity.studentT975(dof: estimates.count - 1) * standardError + bounds.reduce(0, +) / n
    }
}
