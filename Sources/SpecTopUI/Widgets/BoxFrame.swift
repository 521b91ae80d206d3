/// A box around a rectangle with a title set into its top edge.
public struct BoxFrame: Sendable {
    /// One piece of the title, so parts can differ in colour.
    public struct TitlePart: Sendable {
        public var text: String
        public var role: ColorRole
        public var attributes: CellAttributes
        /// Shortened in the middle (keeping both ends, where long names differ)
        /// rather than dropped when the title does not fit: a model's name.
        public var shrinks: Bool
        public init(_ text: String, role: ColorRole = .text, attributes: CellAttributes = [], shrinks: Bool = false) {
            self.text = text; self.role = role; self.attributes = attributes; self.shrinks = shrinks
        }
    }

    /// `text` in at most `width` columns: whole when it fits, else its start
    /// and end around the ellipsis (one column per Unicode scalar).
    public static func middleEllipsis(_ text: String, width: Int, ellipsis: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > width else { return text }
        let mark = Array(ellipsis.unicodeScalars)
        guard width > mark.count else { return String(String.UnicodeScalarView(scalars.prefix(max(0, width)))) }
        let kept = width - mark.count
        // The end usually tells names apart (w16-active/cnn-w16 and …-w32): it gets the larger half.
        let head = kept / 2, tail = kept - head
        return String(String.UnicodeScalarView(scalars.prefix(head) + mark + scalars.suffix(tail)))
    }

    public var title: [TitlePart]
    public var role: ColorRole
    public var attributes: CellAttributes

    public init(title: [TitlePart] = [], role: ColorRole = .muted, attributes: CellAttributes = []) {
        self.title = title; self.role = role; self.attributes = attributes
    }

    /// Draws the border on the outermost cells of `area`; the title parts are
    /// placed left to right. When they do not fit, a shrinking part (a name)
    /// is shortened in the middle down to a few columns, parts after it that
    /// still do not fit are dropped, and a first part is truncated.
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
        var parts = title
        let total = parts.reduce(0) { $0 + $1.text.unicodeScalars.count }
        if total > limit - x, let index = parts.firstIndex(where: \.shrinks) {
            // Room for the name: what the other parts leave, but at least a few
            // columns, taken from the parts after it (which are then dropped).
            let others = total - parts[index].text.unicodeScalars.count
            let room = max(min(parts[index].text.unicodeScalars.count, 6), limit - x - others)
            parts[index].text = BoxFrame.middleEllipsis(parts[index].text, width: room, ellipsis: glyphs.ellipsis)
        }
        for (index, part) in parts.enumerated() {
            let text = part.text
            let available = limit - x
            guard available > 0 else { break }
            if text.unicodeScalars.count > available && index > 0 && !part.shrinks { break }
            x += buffer.put(text, x: x, y: top, role: part.role, attributes: part.attributes, maxWidth: available)
        }
    }
}
