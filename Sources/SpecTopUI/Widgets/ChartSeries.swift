/// One data series of a `LineChart`.
public struct ChartSeries: Sendable {
    /// How the series is drawn.
    public enum Style: Sendable {
        /// Consecutive points joined by dots; NaN breaks the line.
        case line
        /// One glyph per point, on top of every line.
        case markers
        /// A fitted line drawn faintly behind the data.
        case fit
        /// The raw data behind its smoothed line, drawn faintly like a fit.
        case raw
    }

    public var label: String
    public var xs: [Double]
    public var ys: [Double]
    public var role: ColorRole
    public var glyph: Unicode.Scalar
    public var style: Style
    /// Drawn bold (the selected model).
    public var emphasised: Bool

    public init(label: String, xs: [Double], ys: [Double], role: ColorRole, glyph: Unicode.Scalar, style: Style = .line, emphasised: Bool = false) {
        self.label = label; self.xs = xs; self.ys = ys; self.role = role
        self.glyph = glyph; self.style = style; self.emphasised = emphasised
    }
}
