/// A horizontal bar for a fraction in [0, 1], quantised to eighths of a cell.
public struct BarGauge: Sendable {
    public var fraction: Double?
    public var role: ColorRole

    public init(fraction: Double?, role: ColorRole) {
        self.fraction = fraction
        self.role = role
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        guard area.width > 0, area.height > 0 else { return }
        buffer.fill(Rect(x: area.x, y: area.y, width: area.width, height: 1), with: Cell(" ", role: role))
        guard let fraction, fraction.isFinite else { return }
        let eighths = Int((min(1, max(0, fraction)) * Double(8 * area.width)).rounded())
        for column in 0..<area.width {
            let fill = min(8, max(0, eighths - 8 * column))
            guard let glyph = glyphs.horizontal(fill) else { break }
            buffer.put(glyph, x: area.x + column, y: area.y, role: role)
        }
    }
}
