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

    /// `parts` (one name in several colours) in at most `width` columns. What
    /// every name on screen shares goes first — `affixes.prefix` scalars at
    /// the start, then `affixes.suffix` at the end, each replaced by the
    /// ellipsis (a sweep's date and model, the same in every panel) — then,
    /// if still too long, the middle as `middleEllipsis` cuts it. Each kept
    /// scalar keeps its part's colour; an ellipsis takes the colour of the
    /// part it cuts.
    static func shortened(_ parts: [TitlePart], width: Int, ellipsis: String, affixes: (prefix: Int, suffix: Int) = (0, 0)) -> [TitlePart] {
        guard !parts.isEmpty else { return parts }
        // Each scalar of the name with the part it comes from.
        var name: [(scalar: Unicode.Scalar, owner: Int)] = parts.enumerated().flatMap { index, part in part.text.unicodeScalars.map { ($0, index) } }
        guard name.count > width else { return parts }
        let mark = Array(ellipsis.unicodeScalars)
        func elided(_ owner: Int) -> [(scalar: Unicode.Scalar, owner: Int)] { mark.map { ($0, owner) } }
        // Shared parts go only where that leaves more than the ellipsis.
        if affixes.prefix > mark.count, affixes.prefix < name.count {
            name = elided(name[affixes.prefix - 1].owner) + name[affixes.prefix...]
        }
        if name.count > width, affixes.suffix > mark.count, affixes.suffix < name.count - mark.count {
            name = Array(name[..<(name.count - affixes.suffix)]) + elided(name[name.count - affixes.suffix].owner)
        }
        if name.count > width {
            if width <= mark.count {
                name = Array(name.prefix(max(0, width)))
            } else {
                // The end usually tells names apart: it gets the larger half.
                let kept = width - mark.count, head = kept / 2, tail = kept - head
                name = Array(name.prefix(head)) + elided(name[head].owner) + Array(name.suffix(tail))
            }
        }
        var result: [TitlePart] = []
        for (scalar, owner) in name {
            if let last = result.last, last.role == parts[owner].role, last.attributes == parts[owner].attributes {
                result[result.count - 1].text.unicodeScalars.append(scalar)
            } else {
                result.append(TitlePart(String(scalar), role: parts[owner].role, attributes: parts[owner].attributes, shrinks: true))
            }
        }
        return result
    }

    /// Scalars at the start and end of the name that every name on screen
    /// shares (`sharedAffixes`), left out first when the title is short of room.
    public var nameAffixes: (prefix: Int, suffix: Int) = (0, 0)

    /// What the names in `names` share at their start and at their end, each
    /// ending (or starting) at a separator (`-`, `_`, `/`, `.`, space) so no
    /// word is cut: for `sweep-…-seed-01/w8-active` and `sweep-…-seed-02/w8-active`
    /// the prefix through `seed-` and the suffix `/w8-active`. Nothing for fewer than two names.
    public static func sharedAffixes(_ names: [String]) -> (prefix: Int, suffix: Int) {
        let scalars = names.map { Array($0.unicodeScalars) }
        guard scalars.count > 1, let shortest = scalars.map(\.count).min() else { return (0, 0) }
        let separators: Set<Unicode.Scalar> = ["-", "_", "/", ".", " "]
        var prefix = 0
        while prefix < shortest, scalars.allSatisfy({ $0[prefix] == scalars[0][prefix] }) { prefix += 1 }
        var suffix = 0
        while suffix < shortest - prefix, scalars.allSatisfy({ $0[$0.count - 1 - suffix] == scalars[0][scalars[0].count - 1 - suffix] }) { suffix += 1 }
        // Back to a word boundary: the prefix through a separator, the suffix from one.
        while prefix > 0, !separators.contains(scalars[0][prefix - 1]) { prefix -= 1 }
        while suffix > 0, !separators.contains(scalars[0][scalars[0].count - suffix]) { suffix -= 1 }
        return (prefix, suffix)
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
            parts.replaceSubrange(first...last, with: BoxFrame.shortened(Array(parts[first...last]), width: room, ellipsis: glyphs.ellipsis,
                                                                         affixes: nameAffixes))
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
