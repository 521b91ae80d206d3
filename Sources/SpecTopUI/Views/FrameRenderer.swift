import SpecTopRecord

/// Renders one whole frame (header, view, footer, help overlay) into a
/// `CellBuffer` without a terminal: the monitor uses it every frame, tests and
/// benchmarks call it directly.
public enum FrameRenderer {
    /// The smallest terminal any view is drawn in.
    public static let absoluteMinimum = (width: 40, height: 10)

    /// Every terminal size the current view works in for `snapshot` (the grid
    /// has one per arrangement of its panels): what the too-small message names.
    public static func workingSizes(snapshot: EngineSnapshot, state: MonitorState) -> [(width: Int, height: Int)] {
        let bodies: [(width: Int, height: Int)]
        switch state.view {
        case .grid: bodies = GridLayout.minimumSizes(models: snapshot.models) + [GridLayout.pagedMinimum]
        case .compare: bodies = [CompareView.minimumSize]
        case .scaling: bodies = [ScalingView.minimumSize]
        case .spectrum: bodies = [SpectrumView.minimumSize]
        case .claims: bodies = [ClaimsView.minimumSize]
        }
        var sizes: [(width: Int, height: Int)] = []
        for body in bodies {
            let size = (width: max(absoluteMinimum.width, body.width), height: max(absoluteMinimum.height, body.height + 2))
            if !sizes.contains(where: { $0.width <= size.width && $0.height <= size.height }) { sizes.append(size) }
        }
        // Only sizes no other one beats in both directions.
        return sizes.filter { size in !sizes.contains { $0 != size && $0.width <= size.width && $0.height <= size.height } }
    }

    /// The terminal size the current view needs for `snapshot`.
    public static func requiredSize(snapshot: EngineSnapshot, state: MonitorState, available: (width: Int, height: Int)) -> (width: Int, height: Int) {
        let body: (width: Int, height: Int)
        switch state.view {
        case .grid: body = GridView.minimumSize(snapshot: snapshot, available: (available.width, available.height - 2))
        case .compare: body = CompareView.minimumSize
        case .scaling: body = ScalingView.minimumSize
        case .spectrum: body = SpectrumView.minimumSize
        case .claims: body = ClaimsView.minimumSize
        }
        return (max(absoluteMinimum.width, body.width), max(absoluteMinimum.height, body.height + 2))
    }

    /// One frame of `snapshot` at `width` x `height`.
    public static func render(_ snapshot: EngineSnapshot, info: MonitorInfo, state: MonitorState = MonitorState(),
                              width: Int, height: Int, glyphs: GlyphSet = .unicode, status: String? = nil) -> CellBuffer {
        var buffer = CellBuffer(width: width, height: height, asciiOnly: !glyphs.isUnicode)
        render(snapshot, info: info, state: state, glyphs: glyphs, status: status, into: &buffer)
        return buffer
    }

    /// Draws over every cell of `buffer` (its size is the frame size), so a
    /// buffer can be reused from frame to frame.
    public static func render(_ snapshot: EngineSnapshot, info: MonitorInfo, state: MonitorState = MonitorState(),
                              glyphs: GlyphSet = .unicode, status: String? = nil, into buffer: inout CellBuffer) {
        buffer.asciiOnly = !glyphs.isUnicode
        let have = (width: buffer.width, height: buffer.height)
        let need = requiredSize(snapshot: snapshot, state: state, available: have)
        guard have.width >= need.width, have.height >= need.height else {
            let others = workingSizes(snapshot: snapshot, state: state).filter { $0 != need }
            TooSmallView(need: need, have: have, alternatives: others).render(into: &buffer)
            return
        }
        let (header, rest) = buffer.bounds.splitTop(1)
        let (body, footer) = rest.splitBottom(1)
        HeaderView(snapshot: snapshot, info: info, state: state).render(into: &buffer, row: header, glyphs: glyphs)
        let keyTable = KeyTable.forMode(state.mode, view: state.view)
        FooterView(keyTable: keyTable, status: status ?? info.status, engineState: snapshot.state).render(into: &buffer, row: footer, glyphs: glyphs)

        let selected = ModelOrder(snapshot.models).resolve(state.selectedModelID, in: snapshot.models)
        switch state.view {
        case .grid:
            GridView(snapshot: snapshot, state: state, selectedIndex: selected).render(into: &buffer, area: body, glyphs: glyphs)
        case .compare:
            CompareView(snapshot: snapshot, state: state, selectedIndex: selected).render(into: &buffer, area: body, glyphs: glyphs)
        case .scaling:
            ScalingView(snapshot: snapshot, state: state).render(into: &buffer, area: body, glyphs: glyphs)
        case .claims:
            ClaimsView(snapshot: snapshot, state: state).render(into: &buffer, area: body, glyphs: glyphs)
        case .spectrum:
            SpectrumView(model: selected.map { snapshot.models[$0] }, state: state).render(into: &buffer, area: body, glyphs: glyphs)
        }
        if state.showHelp {
            if state.helpPage == 1 {
                // The whole screen: a dozen entries, some wrapped, fill 80x24.
                HelpOverlay.renderGlossary(into: &buffer, area: Rect(x: 0, y: 0, width: buffer.width, height: buffer.height), glyphs: glyphs)
            } else {
                HelpOverlay(keyTable: keyTable).render(into: &buffer, area: body, glyphs: glyphs)
            }
        }
    }
}
