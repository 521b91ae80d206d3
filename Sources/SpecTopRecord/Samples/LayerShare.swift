/// One layer's part of the eNTK: Θ = Σ_l Θ_l over parameter groups.
public struct LayerShare: Sendable, Equatable {
    /// 0-based layer index; the last one is the readout.
    public var layer: Int
    /// Tr Θ_l / Tr Θ.
    public var chiNetShare: Double
    /// gᵀΘ_l g / gᵀΘg = ‖∇_{θ_l} L‖² / ‖∇_θ L‖².
    public var gradientShare: Double
    /// Tr Θ_l (absolute).
    public var chiNet: Double
    /// gᵀΘ_l g (absolute).
    public var gradSq: Double

    public init(layer: Int, chiNetShare: Double, gradientShare: Double, chiNet: Double, gradSq: Double) {
        self.layer = layer; self.chiNetShare = chiNetShare; self.gradientShare = gradientShare
        self.chiNet = chiNet; self.gradSq = gradSq
    }

    /// Shares from per-layer Tr Θ_l and gᵀΘ_l g (empty if the lists differ in length).
    public static func shares(chiNet: [Double], gradSq: [Double], totalChiNet: Double, totalGradSq: Double) -> [LayerShare] {
        guard chiNet.count == gradSq.count else { return [] }
        return chiNet.indices.map { l in
            LayerShare(layer: l, chiNetShare: totalChiNet > 0 ? chiNet[l] / totalChiNet : 0,
                       gradientShare: totalGradSq > 0 ? gradSq[l] / totalGradSq : 0,
                       chiNet: chiNet[l], gradSq: gradSq[l])
        }
    }
}
