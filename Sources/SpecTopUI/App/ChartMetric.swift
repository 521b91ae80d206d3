/// The metrics every model plots over time.
public enum ChartMetric: String, Sendable, CaseIterable, Hashable {
    case loss
    case chiNet
    case chiPos
    /// The cross-batch χ_pos^{AB} (METHOD.md), shown only where a record has it.
    case crossChiPos

    /// The metrics to chart: the cross-batch one only where some model has it.
    public static func shown(cross: Bool) -> [ChartMetric] {
        cross ? allCases : [.loss, .chiNet, .chiPos]
    }

    /// The label in the glyph set's alphabet (`χ_net` or `chi_net`).
    public func label(_ glyphs: GlyphSet) -> String {
        switch self {
        case .loss: return "loss"
        case .chiNet: return glyphs.chiNet
        case .chiPos: return glyphs.chiPos
        case .crossChiPos: return "cross " + glyphs.chiPos
        }
    }

    /// The colour role of the metric.
    public var role: ColorRole {
        switch self {
        case .loss: return .loss
        case .chiNet: return .chiNet
        case .chiPos, .crossChiPos: return .chiPos
        }
    }

    /// The next metric of the `m` cycle, over those shown.
    public func next(cross: Bool) -> ChartMetric {
        let shown = ChartMetric.shown(cross: cross)
        guard let index = shown.firstIndex(of: self) else { return .loss }
        return shown[(index + 1) % shown.count]
    }

    /// Can take negative values (a log axis cannot show it).
    public var isSigned: Bool { self == .crossChiPos }
}
