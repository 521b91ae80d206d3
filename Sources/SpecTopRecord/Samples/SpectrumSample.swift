import Foundation

/// How a spectrum was obtained (METHOD.md).
public enum SpectrumMethod: String, Sendable, Equatable {
    /// The full eigen-decomposition of the formed kernel: every number is exact.
    case exact
    /// Matrix-free: the top-k eigenpairs (ARPACK, exact to its tolerance) and
    /// the rest of the spectrum by stochastic Lanczos quadrature (estimates
    /// with uncertainties).
    case lanczos
}

/// The eNTK spectrum at one step (METHOD.md, "Computing the exact eNTK" and
/// "Past the exact limit").
public struct SpectrumSample: Sendable, Equatable {
    public var step: Int
    /// λ_1 ≥ … ≥ λ_m ≥ 0 (round-off negatives clamped to 0).
    public var eigenvalues: [Double]
    /// Mode weights w_k = (v_k·ĝ)², summing to 1; empty when ĝ is undefined.
    public var weights: [Double]
    /// Σ w_k λ_k / Σ λ_k; nil where undefined.
    public var chiPosExact: Double?
    /// ĝᵀΘĝ; nil where undefined.
    public var lambdaEff: Double?
    /// #{k : λ_k ≥ λ_eff} / m; nil where undefined.
    public var rEff: Double?
    /// exp(entropy of λ/TrΘ).
    public var effectiveRank: Double
    public var histogram: SpectrumHistogram
    /// `.lanczos`: `eigenvalues` and `weights` are the top-k modes only, and
    /// r_eff, the effective rank and the histogram are estimates.
    public var method: SpectrumMethod
    /// m = nC, the kernel's size (`eigenvalues.count` when exact).
    public var modeCount: Int
    /// Half-width of an interval holding the true r_eff with about 95%
    /// probability (two-sided Student t over the random starts plus the Gauss
    /// quadrature bound); nil when exact, or when r_eff is undefined.
    public var rEffUncertainty: Double?
    /// 1 − Σ w_k over the listed modes: the residual weight in the modes not
    /// listed (0 when exact, up to round-off).
    public var restWeight: Double

    public init(step: Int, eigenvalues: [Double], weights: [Double], chiPosExact: Double?, lambdaEff: Double?, rEff: Double?, effectiveRank: Double, histogram: SpectrumHistogram,
                method: SpectrumMethod = .exact, modeCount: Int? = nil, rEffUncertainty: Double? = nil, restWeight: Double = 0) {
        self.step = step; self.eigenvalues = eigenvalues; self.weights = weights; self.chiPosExact = chiPosExact
        self.lambdaEff = lambdaEff; self.rEff = rEff; self.effectiveRank = effectiveRank; self.histogram = histogram
        self.method = method; self.modeCount = modeCount ?? eigenvalues.count
        self.rEffUncertainty = rEffUncertainty; self.restWeight = restWeight
    }

    /// True when r_eff, the effective rank and the histogram are estimates.
    public var isEstimate: Bool { method != .exact }

    /// exp of the Shannon entropy of λ/Σλ: 1 for a rank-one kernel, m for a
    /// flat spectrum.
    public static func effectiveRank(_ eigenvalues: [Double]) -> Double {
        let total = eigenvalues.reduce(0) { $0 + max(0, $1) }
        guard total > 0 else { return 0 }
        var entropy = 0.0
        for value in eigenvalues where value > 0 {
            let p = value / total
            entropy -= p * Foundation.log(p)
        }
        return Foundation.exp(entropy)
    }
}
