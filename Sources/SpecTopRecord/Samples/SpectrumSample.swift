import Foundation

/// The exact eNTK spectrum at one step (METHOD.md, "Computing the exact eNTK").
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

    public init(step: Int, eigenvalues: [Double], weights: [Double], chiPosExact: Double?, lambdaEff: Double?, rEff: Double?, effectiveRank: Double, histogram: SpectrumHistogram) {
        self.step = step; self.eigenvalues = eigenvalues; self.weights = weights; self.chiPosExact = chiPosExact
        self.lambdaEff = lambdaEff; self.rEff = rEff; self.effectiveRank = effectiveRank; self.histogram = histogram
    }

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
