/// Log10-spaced eigenvalue histogram with the residual weight per bin.
public struct SpectrumHistogram: Sendable, Equatable {
    /// log10 of the bin edges, ascending; `counts.count + 1` values.
    public var log10Edges: [Double]
    /// Eigenvalues per bin (ascending eigenvalue order).
    public var counts: [Int]
    /// Σ w_k of the eigenvalues in each bin.
    public var residualWeights: [Double]
    /// Eigenvalues below 1e-12·λ_1 (including round-off negatives).
    public var nearZeroCount: Int
    public var nearZeroWeight: Double
    /// Bin holding λ_eff, nil if λ_eff is undefined or in the ≈0 bin.
    public var markerBin: Int?
    /// For an estimated histogram (stochastic Lanczos quadrature): the
    /// half-width of an about-95% interval of each bin's count, same order as
    /// `counts`. Empty when the counts are exact.
    public var countUncertainty: [Double]

    public init(log10Edges: [Double], counts: [Int], residualWeights: [Double], nearZeroCount: Int, nearZeroWeight: Double, markerBin: Int?,
                countUncertainty: [Double] = []) {
        self.log10Edges = log10Edges; self.counts = counts; self.residualWeights = residualWeights
        self.nearZeroCount = nearZeroCount; self.nearZeroWeight = nearZeroWeight; self.markerBin = markerBin
        self.countUncertainty = countUncertainty
    }

    /// True when the counts are estimates (they carry uncertainties).
    public var isEstimate: Bool { !countUncertainty.isEmpty }
}
