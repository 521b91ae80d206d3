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

    /// `parts` (one name in several colours) in at most `width` columns, as
    /// `middleEllipsis` shortens their joined text: each kept scalar keeps
    /// its part's colour, the ellipsis takes the colour of the part it cuts.
    static func shortened(_ parts: [TitlePart], width: Int, ellipsis: String) -> [TitlePart] {
        let joined = parts.map(\.text).joined()
        let short = Array(middleEllipsis(joined, width: width, ellipsis: ellipsis).unicodeScalars)
        let full = Array(joined.unicodeScalars)
        guard short.count < full.count else { return parts }
        // The part each scalar of the joined text comes from.
        let owner = parts.enumerated().flatMap { index, part in Array(repeating: index, count: part.text.unicodeScalars.count) }
        let mark = ellipsis.unicodeScalars.count
        let kept = width - mark
        guard width > mark, kept >= 0 else {
            // Too narrow for the ellipsis: the start, in its first part's colour.
            return [TitlePart(String(String.UnicodeScalarView(short)), role: parts[0].role, attributes: parts[0].attributes, shrinks: true)]
        }
        let head = kept / 2, tail = kept - head
        var sources = Array(owner.prefix(head))
        sources += Array(repeating: owner[head], count: mark)
        sources += Array(owner.suffix(tail))
        var result: [TitlePart] = []
        for (scalar, source) in zip(short, sources) {
            if let lastPart = result.last, lastPart.role == parts[source].role, lastPart.attributes == parts[source].attributes {
                result[result.count - 1].text.unicodeScalars.append(scalar)
            } else {
                result.append(TitlePart(String(scalar), role: parts[source].role, attributes: parts[source].attributes, shrinks: true))
            }
        }
        return result
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
        if total > limit - x, let first = parts.firstIndex(where: \.shrinks) {
            // The name may be several adjacent parts in their own colours (a
            // sweep's RUN prefix and its MODEL): shortened as one text, so the
            // ellipsis falls in its middle whichever part that is.
            let last = parts[first...].firstIndex { !$0.shrinks }.map { $0 - 1 } ?? parts.count - 1
            let name = parts[first...last].reduce(0) { $0 + $1.text.unicodeScalars.count }
            // Room for the name: what the other parts leave, but at least a few
            // columns, taken from the parts after it (which are then dropped).
            let room = max(min(name, 6), limit - x - (total - name))
            parts.replaceSubrange(first...last, with: BoxFrame.shortened(Array(parts[first...last]), width: room, ellipsis: glyphs.ellipsis))
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
