import SpecTopRecord

/// The bottom row: a status message if there is one, then the most useful
/// keys, taken from the key table.
public struct FooterView: Sendable {
    public var keyTable: KeyTable
    public var status: String?
    /// The engine's state, so space offers what it will do: `resume` when paused, `pause` while playing a replay.
    public var engineState: EngineState?

    public init(keyTable: KeyTable, status: String?, engineState: EngineState? = nil) {
        self.keyTable = keyTable; self.status = status; self.engineState = engineState
    }

    /// The footer word of `binding` now.
    func label(_ binding: KeyBinding) -> String {
        guard binding.action == .togglePause, let engineState else { return binding.footer ?? "" }
        switch (keyTable.mode, engineState) {
        case (.live, .paused): return "resume"
        case (.replay, .running): return "pause"
        default: return binding.footer ?? ""
        }
    }

    public func render(into buffer: inout CellBuffer, row: Rect, glyphs: GlyphSet) {
        guard !row.isEmpty else { return }
        buffer.fill(row, with: Cell(" ", role: .text))
        var x = row.x + 1
        if let status, !status.isEmpty {
            x += buffer.put(status, x: x, y: row.y, role: .warning, attributes: .bold, maxWidth: row.maxX - x)
            x += 2
        }
        // `? help` always survives (it leads to every other key): the others
        // fill the room left before it, in table order.
        let shown = keyTable.bindings.filter { $0.footer != nil && !$0.keys.isEmpty }
        func width(_ binding: KeyBinding) -> Int { binding.keys[0].label.count + 1 + label(binding).count + 2 }
        let help = shown.first { $0.action == .toggleHelp }
        let reserved = help.map(width) ?? 0
        var chosen: [KeyBinding] = []
        var used = x
        for binding in shown where binding.action != .toggleHelp {
            guard used + width(binding) + reserved <= row.maxX + 2 else { break }
            chosen.append(binding)
            used += width(binding)
        }
        if let help, used + reserved <= row.maxX + 2 { chosen.append(help) }
        for binding in chosen {
            x += buffer.put(binding.keys[0].label, x: x, y: row.y, role: .text, attributes: [.bold, .reverse])
            x += 1
            x += buffer.put(label(binding), x: x, y: row.y, role: .muted)
            x += 2
        }
    }
}
