/// The metrics every model plots over time.
public enum ChartMetric: String, Sendable, CaseIterable, Hashable {
    case loss
    case chiNet
    case chiPos

    /// The label in the glyph set's alphabet (`χ_net` or `chi_net`).
    public func label(_ glyphs: GlyphSet) -> String {
        switch self {
        case .loss: return "loss"
        case .chiNet: return glyphs.chiNet
        case .chiPos: return glyphs.chiPos
        }
    }

    /// The colour role of the metric.
    public var role: ColorRole {
        switch self {
        case .loss: return .loss
        case .chiNet: return .chiNet
        case .chiPos: return .chiPos
        }
    }

    /// The next metric of the `m` cycle.
    public var next: ChartMetric {
        switch self {
        case .loss: return .chiNet
        case .chiNet: return .chiPos
        case .chiPos: return .loss
        }
    }
}
