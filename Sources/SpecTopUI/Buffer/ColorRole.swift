/// What a cell's colour means; a `Theme` maps each role to a colour, so widgets
/// never name a colour themselves.
public enum ColorRole: String, Sendable, CaseIterable, Hashable {
    case background
    case text
    case muted
    case loss
    case chiNet = "chi_net"
    case chiPos = "chi_pos"
    case active
    case frozen
    case histogram
    case residual
    case marker
    case warning
    case selection
    case series1, series2, series3, series4, series5, series6, series7, series8

    /// The series colours of the compare view, in legend order.
    public static let series: [ColorRole] = [.series1, .series2, .series3, .series4, .series5, .series6, .series7, .series8]

    /// The colour of the `index`-th overlaid series (wraps around).
    public static func series(_ index: Int) -> ColorRole {
        series[((index % series.count) + series.count) % series.count]
    }

    /// The key naming this role in a theme file.
    public var themeKey: String { rawValue }

    /// Attributes that stand in for this role's colour on a terminal without
    /// colour (or with NO_COLOR), so the roles that carry meaning stay distinct.
    public var monochromeAttributes: CellAttributes {
        switch self {
        case .muted, .residual, .frozen: return .dim
        case .warning, .marker, .selection: return .bold
        default: return []
        }
    }
}
