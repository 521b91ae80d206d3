/// A box around a rectangle with a title set into its top edge.
public struct BoxFrame: Sendable {
    /// One piece of the title, so parts can differ in colour.
    public struct TitlePart: Sendable {
        public var text: String
        public var role: ColorRole
        public var attributes: CellAttributes
        public init(_ text: String, role: ColorRole = .text, attributes: CellAttributes = []) {
            self.text = text; self.role = role; self.attributes = attributes
        }
    }

    public var title: [TitlePart]
    public var role: ColorRole
    public var attributes: CellAttributes

    public init(title: [TitlePart] = [], role: ColorRole = .muted, attributes: CellAttributes = []) {
        self.title = title; self.role = role; self.attributes = attributes
    }

    /// Draws the border on the outermost cells of `area`; the title parts are
    /// placed left to right and a part that does not fit whole is dropped,
    /// except the first, which is truncated.
    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        guard area.width >= 2, area.height >= 2 else { return }
        let top = area.y, bottom = area.maxY - 1, left = area.x, right = area.maxX - 1
        for x in (left + 1)..<right {
            buffer.put(glyphs.horizontalLine, x: x, y: top, role: role, attributes: attributes)
            buffer.put(glyphs.horizontalLine, x: x, y: bottom, role: role, attributes: attributes)
        }
        for y in (top + 1)..<bottom {
            buffer.put(glyphs.verticalLine, x: left, y: y, role: role, attributes: attributes)
            buffer.put(glyphs.verticalLine, x: right, y: y, role: role, attributes: attributes)
        }
        buffer.put(glyphs.topLeft, x: left, y: top, role: role, attributes: attributes)
        buffer.put(glyphs.topRight, x: right, y: top, role: role, attributes: attributes)
        buffer.put(glyphs.bottomLeft, x: left, y: bottom, role: role, attributes: attributes)
        buffer.put(glyphs.bottomRight, x: right, y: bottom, role: role, attributes: attributes)

        var x = left + 1
        let limit = right
        for (index, part) in title.enumerated() {
            let text = part.text
            let available = limit - x
            guard available > 0 else { break }
            if text.unicodeScalars.count > available && index > 0 { break }
            x += buffer.put(text, x: x, y: top, role: part.role, attributes: part.attributes, maxWidth: available)
        }
    }
}
