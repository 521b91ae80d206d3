import SpecTopRecord

/// The default view: one `ModelPanel` per model, placed by `GridLayout`.
public struct GridView: Sendable {
    public var snapshot: EngineSnapshot
    public var state: MonitorState
    /// The model to highlight (index into `snapshot.models`).
    public var selectedIndex: Int?

    public init(snapshot: EngineSnapshot, state: MonitorState, selectedIndex: Int?) {
        self.snapshot = snapshot; self.state = state; self.selectedIndex = selectedIndex
    }

    /// The smallest body that fits every model at the given available size,
    /// or, where they cannot all fit, the smallest that pages through them.
    public static func minimumSize(snapshot: EngineSnapshot, available: (width: Int, height: Int)) -> (width: Int, height: Int) {
        let whole = GridLayout.minimumSize(models: snapshot.models, available: available)
        if whole.width <= available.width && whole.height <= available.height { return whole }
        return GridLayout.pagedMinimum
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        buffer.fill(area, with: .blank)
        guard !snapshot.models.isEmpty else {
            let text = "waiting for models" + glyphs.ellipsis
            buffer.put(text, x: area.x + max(0, (area.width - text.count) / 2), y: area.y + area.height / 2, role: .muted, maxWidth: area.width)
            return
        }
        guard let layout = GridLayout.display(models: snapshot.models, area: area, selected: selectedIndex) else { return }
        let order = ModelOrder(snapshot.models)
        // A sweep's names share a date, a prefix, a model: what tells them apart is kept first.
        let affixes = BoxFrame.sharedAffixes(snapshot.models.map(\.id))
        for slot in layout.slots {
            let model = snapshot.models[slot.modelIndex]
            var panel = ModelPanel(model: model, selected: slot.modelIndex == selectedIndex, state: state)
            panel.runRole = order.role(ofRun: model.run)
            panel.nameAffixes = affixes
            panel.render(into: &buffer, area: slot.rect, glyphs: glyphs)
        }
        if let page = layout.page, page.count > 1 {
            let line = "page \(page.index + 1)/\(page.count) of \(snapshot.models.count) models: Tab and the arrows move through them"
            buffer.put(line, x: area.x + 1, y: area.maxY - 1, role: .muted, maxWidth: area.width - 1)
        }
    }
}
