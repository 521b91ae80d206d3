/// A sentence broken at spaces into the rows of an area, for messages too
/// long for one panel row (why a model has no spectrum). A word wider than
/// the area is cut; when the rows run out the last one ends in the glyph
/// set's ellipsis.
public struct WrappedText: Sendable {
    public var text: String
    public var role: ColorRole

    public init(_ text: String, role: ColorRole = .muted) {
        self.text = text
        self.role = role
    }

    /// The rows `text` takes at `width` columns, at most `maxRows` (one
    /// column per Unicode scalar, as `CellBuffer.put` writes them).
    public static func rows(_ text: String, width: Int, maxRows: Int, ellipsis: String = "\u{2026}") -> [String] {
        guard width > 0, maxRows > 0 else { return [] }
        var rows: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            let scalars = Array(word.unicodeScalars.prefix(width))
            if current.isEmpty {
                current = scalars
            } else if current.count + 1 + scalars.count <= width {
                current += [" "] + scalars
            } else {
                rows.append(current)
                current = scalars
            }
        }
        if !current.isEmpty { rows.append(current) }
        if rows.count > maxRows {
            rows = Array(rows.prefix(maxRows))
            let mark = Array(ellipsis.unicodeScalars.prefix(width))
            var last = rows[maxRows - 1]
            if last.count + mark.count > width { last.removeLast(last.count + mark.count - width) }
            rows[maxRows - 1] = last + mark
        }
        return rows.map { String(String.UnicodeScalarView($0)) }
    }

    /// Draws the rows from the top of `area`, centred vertically when they
    /// leave rows free.
    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        let lines = WrappedText.rows(text, width: area.width, maxRows: area.height, ellipsis: glyphs.ellipsis)
        let top = area.y + (area.height - lines.count) / 2
        for (row, line) in lines.enumerated() {
            buffer.put(line, x: area.x, y: top + row, role: role, maxWidth: area.width)
        }
    }
}
