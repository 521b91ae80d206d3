/// The cross-batch LNP of one measurement (METHOD.md, *Cross-batch spectral
/// position*): A is the probe batch, B a second batch (held out, or the next
/// training batch), both at the same parameters θ_t.
public struct CrossBatchSample: Sendable, Equatable {
    /// L_B, the loss on batch B.
    public var loss: Double
    /// δL = ∇_θL_Bᵀ ∇_θL_A: how much a gradient step on A moves the loss on B.
    public var gradDot: Double
    /// χ_loss^{AB} = ‖∇_f L_A‖ ‖∇_f L_B‖ (χ_loss itself when B = A).
    public var chiLoss: Double
    /// χ_net^{AB} = ‖J_A‖_F ‖J_B‖_F (χ_net when B = A).
    public var chiNet: Double
    /// χ_pos^{AB} = δL / (χ_loss^{AB} χ_net^{AB}) in [−1, 1]; negative is
    /// interference. Nil where undefined (a zero factor).
    public var chiPos: Double?
    /// |B|, the rows of batch B; 0 when the writer did not say.
    public var rows: Int
    /// The normalised factors as recorded (nil: derived from the rows).
    public var recordedNormalizedChiLoss: Double?
    public var recordedNormalizedChiNet: Double?

    public init(loss: Double, gradDot: Double, chiLoss: Double, chiNet: Double, chiPos: Double?, rows: Int = 0) {
        self.loss = loss; self.gradDot = gradDot; self.chiLoss = chiLoss; self.chiNet = chiNet; self.chiPos = chiPos; self.rows = rows
    }

    /// The cross quantities from the two batches' own: `a` and `b` are the
    /// self measurements, `gradDot` the dot product of their parameter gradients.
    public static func combining(chiLossA: Double, chiNetA: Double, lossB: Double, chiLossB: Double, chiNetB: Double, gradDot: Double,
                                 rows: Int) -> CrossBatchSample {
        let chiLoss = (chiLossA * chiLossB).squareRoot(), chiNet = (chiNetA * chiNetB).squareRoot()
        let denominator = chiLoss * chiNet
        var chiPos: Double? = denominator > 0 && denominator.isFinite && gradDot.isFinite ? gradDot / denominator : nil
        // Cauchy–Schwarz bounds it by 1 in exact arithmetic; round-off may not.
        if let value = chiPos { chiPos = Swift.min(1, Swift.max(-1, value)) }
        return CrossBatchSample(loss: lossB, gradDot: gradDot, chiLoss: chiLoss, chiNet: chiNet, chiPos: chiPos, rows: rows)
    }

    /// χ̃_loss^{AB} = √(|A||B|)·χ_loss^{AB}; nil when a batch size is unknown.
    public func normalizedChiLoss(rowsA: Int) -> Double? {
        recordedNormalizedChiLoss ?? (rows > 0 && rowsA > 0 ? chiLoss * (Double(rowsA) * Double(rows)).squareRoot() : nil)
    }

    /// χ̃_net^{AB} = χ_net^{AB}/√(|A||B|); nil when a batch size is unknown.
    public func normalizedChiNet(rowsA: Int) -> Double? {
        recordedNormalizedChiNet ?? (rows > 0 && rowsA > 0 ? chiNet / (Double(rowsA) * Double(rows)).squareRoot() : nil)
    }
}
