/// The bottom row: a status message if there is one, then the most useful
/// keys, taken from the key table.
public struct FooterView: Sendable {
    public var keyTable: KeyTable
    public var status: String?

    public init(keyTable: KeyTable, status: String?) {
        self.keyTable = keyTable; self.status = status
    }

    public func render(into buffer: inout CellBuffer, row: Rect, glyphs: GlyphSet) {
        guard !row.isEmpty else { return }
        buffer.fill(row, with: Cell(" ", role: .text))
        var x = row.x + 1
        if let status, !status.isEmpty {
            x += buffer.put(status, x: x, y: row.y, role: .warning, attributes: .bold, maxWidth: row.maxX - x)
            x += 2
        }
        for binding in keyTable.bindings {
            guard let footer = binding.footer, let key = binding.keys.first else { continue }
            let needed = key.label.count + 1 + footer.count
            guard x + needed <= row.maxX else { break }
            x += buffer.put(key.label, x: x, y: row.y, role: .text, attributes: [.bold, .reverse])
            x += 1
            x += buffer.put(footer, x: x, y: row.y, role: .muted)
            x += 2
        }
    }
}
