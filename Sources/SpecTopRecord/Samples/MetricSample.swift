/// One kernel-free LNP measurement on the probe set (METHOD.md).
public struct MetricSample: Sendable, Equatable {
    public var step: Int
    /// Probe-set loss L.
    public var loss: Double
    /// χ_loss = ‖g‖².
    public var chiLoss: Double
    /// χ_net = Tr Θ.
    public var chiNet: Double
    /// χ_pos = gᵀΘg / (‖g‖² Tr Θ); nil where undefined (‖g‖ = 0 or Tr Θ = 0).
    public var chiPos: Double?
    /// gᵀΘg = ‖∇_θ L‖² on the probe set.
    public var gradSq: Double
    /// Seconds since the engine started.
    public var wall: Double
    /// True when χ_net is a Hutchinson estimate rather than exact.
    public var traceIsEstimate: Bool
    /// The standard error of an estimated χ_net (absolute, same units), when
    /// the writer gave one (the PyTorch probe's Hutchinson estimate does).
    public var chiNetStandardError: Double?
    /// Tr Θ_l per layer (readout last; 0 for frozen layers). Sums to `chiNet`.
    public var layerChiNet: [Double]
    /// gᵀΘ_l g per layer. Sums to `gradSq`.
    public var layerGradSq: [Double]
    /// n, the rows the probe loss averages over (samples; an LM's valid
    /// tokens); 0 when the writer did not say. Sets the normalised factors.
    public var rows: Int = 0
    /// With a log schedule: the centre step of the window this step belongs to.
    public var window: Int?
    /// The cross-batch measurement on the same parameters, when recorded.
    public var cross: CrossBatchSample?
    /// The normalised factors as the writer recorded them (nil: derived from `rows`).
    public var recordedNormalizedChiLoss: Double?
    public var recordedNormalizedChiNet: Double?

    public init(step: Int, loss: Double, chiLoss: Double, chiNet: Double, chiPos: Double?, gradSq: Double, wall: Double,
                traceIsEstimate: Bool = false, chiNetStandardError: Double? = nil, layerChiNet: [Double] = [], layerGradSq: [Double] = []) {
        self.step = step; self.loss = loss; self.chiLoss = chiLoss; self.chiNet = chiNet
        self.chiPos = chiPos; self.gradSq = gradSq; self.wall = wall; self.traceIsEstimate = traceIsEstimate
        self.chiNetStandardError = chiNetStandardError
        self.layerChiNet = layerChiNet; self.layerGradSq = layerGradSq
    }

    /// χ̃_loss = n·χ_loss (METHOD.md, *Normalised factors*); nil when n is unknown.
    public var normalizedChiLoss: Double? {
        recordedNormalizedChiLoss ?? (rows > 0 ? chiLoss * Double(rows) : nil)
    }

    /// χ̃_net = χ_net/n; nil when n is unknown.
    public var normalizedChiNet: Double? {
        recordedNormalizedChiNet ?? (rows > 0 ? chiNet / Double(rows) : nil)
    }

    /// Each layer's share of χ_net and of the gradient, from the per-layer parts.
    public var layerShares: [LayerShare] {
        LayerShare.shares(chiNet: layerChiNet, gradSq: layerGradSq, totalChiNet: chiNet, totalGradSq: gradSq)
    }
}
