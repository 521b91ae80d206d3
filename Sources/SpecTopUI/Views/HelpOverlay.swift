/// The `?` overlay, generated from the key table that dispatches keys.
public struct HelpOverlay: Sendable {
    public var keyTable: KeyTable

    public init(keyTable: KeyTable) {
        self.keyTable = keyTable
    }

    /// Draws a box centred in `area` listing every binding; two columns when
    /// one does not fit the height.
    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        let bindings = keyTable.bindings
        let keyWidth = bindings.map { $0.keyLabel.count }.max() ?? 0
        let summaryWidth = bindings.map { $0.summary.count }.max() ?? 0
        let entryWidth = keyWidth + 2 + summaryWidth
        // The frame takes two rows; the closing hint sits on its bottom edge;
        // the mouse, which no key table row can describe, has the last row.
        let columnCount = bindings.count + 3 <= area.height ? 1 : 2
        let rowsPerColumn = (bindings.count + columnCount - 1) / columnCount
        var width = min(area.width, max(columnCount * entryWidth + (columnCount - 1) * 3 + 4, HelpOverlay.mouse.count + 4))
        // Equal margins on both sides.
        if (area.width - width) % 2 == 1 { width = min(area.width, width + 1) }
        let height = min(area.height, rowsPerColumn + 3)
        let box = Rect(x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width: width, height: height)
        buffer.fill(box, with: .blank)
        let title: String
        switch keyTable.mode {
        case .live: title = " keys "
        case .replay: title = " keys (replay) "
        case .watch: title = " keys (watch) "
        }
        BoxFrame(title: [.init(title, role: .text, attributes: .bold)], role: .selection, attributes: .bold)
            .render(into: &buffer, area: box, glyphs: glyphs)
        let inner = box.inset(by: 1)
        let columnWidth = columnCount == 1 ? inner.width : (inner.width - 3) / 2
        for (index, binding) in bindings.enumerated() {
            let column = index / rowsPerColumn, row = index % rowsPerColumn
            guard row < inner.height else { continue }
            let x = inner.x + 1 + column * (columnWidth + 3)
            let y = inner.y + row
            let available = max(0, min(columnWidth - 1, inner.maxX - x))
            buffer.put(binding.keyLabel, x: x, y: y, role: .selection, attributes: .bold, maxWidth: available)
            let summaryX = x + keyWidth + 2
            if summaryX < x + available {
                buffer.put(binding.summary, x: summaryX, y: y, role: .text, maxWidth: x + available - summaryX)
            }
        }
        if rowsPerColumn < inner.height {
            buffer.put(HelpOverlay.mouse, x: inner.x + 1, y: inner.y + rowsPerColumn, role: .muted, maxWidth: inner.width - 1)
        }
        let hint = " ? glossary, Esc closes "
        if box.width >= hint.count + 4 {
            buffer.put(hint, x: box.maxX - hint.count - 2, y: box.maxY - 1, role: .muted)
        }
    }

    /// What the mouse does (`--no-mouse` leaves it to the terminal).
    public static let mouse = "mouse: click selects a model, double-click its spectrum, wheel the cursor"

    /// The second page: one line per quantity on screen (`Glossary`), the
    /// meaning wrapped when the terminal is narrow.
    public static func renderGlossary(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        let entries = Glossary.entries.map { Glossary.text($0, unicode: glyphs.isUnicode) }
        let termWidth = entries.map { $0.term.unicodeScalars.count }.max() ?? 0
        let width = min(area.width, max(40, min(110, termWidth + 4 + (entries.map { $0.meaning.unicodeScalars.count }.max() ?? 0) + 2)))
        let meaningWidth = max(10, width - termWidth - 6)
        var rows: [(String, String)] = []
        for entry in entries {
            let lines = WrappedText.rows(entry.meaning, width: meaningWidth, maxRows: 4, ellipsis: glyphs.ellipsis)
            for (k, line) in lines.enumerated() { rows.append((k == 0 ? entry.term : "", line)) }
        }
        let height = min(area.height, rows.count + 2)
        let box = Rect(x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width: width, height: height)
        buffer.fill(box, with: .blank)
        BoxFrame(title: [.init(" what the numbers mean ", role: .text, attributes: .bold)], role: .selection, attributes: .bold)
            .render(into: &buffer, area: box, glyphs: glyphs)
        let inner = box.inset(by: 1)
        for (index, row) in rows.enumerated() where index < inner.height {
            buffer.put(row.0, x: inner.x + 1, y: inner.y + index, role: .selection, attributes: .bold, maxWidth: termWidth)
            buffer.put(row.1, x: inner.x + termWidth + 3, y: inner.y + index, role: .text, maxWidth: max(0, inner.maxX - inner.x - termWidth - 3))
        }
        let hint = " ? or Esc closes "
        if box.width >= hint.count + 4 { buffer.put(hint, x: box.maxX - hint.count - 2, y: box.maxY - 1, role: .muted) }
    }
}
