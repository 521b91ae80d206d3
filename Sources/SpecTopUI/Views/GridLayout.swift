import SpecTopRecord

/// Places one panel per model: sizes left to right, each size a column with
/// its runs stacked (active above frozen). When the sizes do not fit side by
/// side they wrap into further rows of columns.
public struct GridLayout: Sendable, Equatable {
    /// A model's panel.
    public struct Slot: Sendable, Equatable {
        /// Index into the snapshot's `models`.
        public var modelIndex: Int
        public var rect: Rect
    }

    /// Narrowest panel that still shows `w1024 frozen` and a value with its sparkline.
    public static let minimumPanelWidth = 18
    /// Lowest panel: a border and the three sparklines with values.
    public static let minimumPanelHeight = 5

    public let slots: [Slot]
    /// Sizes per row of panels.
    public let columns: Int
    /// When not every model fits (a sweep of hundreds of records): the page
    /// shown (0-based) and how many there are; nil when every model is shown.
    public private(set) var page: (index: Int, count: Int)?

    public static func == (a: GridLayout, b: GridLayout) -> Bool {
        a.slots == b.slots && a.columns == b.columns && a.page?.index == b.page?.index && a.page?.count == b.page?.count
    }

    private init(slots: [Slot], columns: Int, page: (index: Int, count: Int)?) {
        self.slots = slots; self.columns = columns; self.page = page
    }

    /// What the grid shows in `area`: every model by size when they fit, else
    /// the page of smallest panels that holds `selected` (Tab and the arrows
    /// move the selection, and so the page), with one row left below for the
    /// page line. Nil only when not even one panel and that row fit.
    public static func display(models: [ModelSnapshot], area: Rect, selected: Int?) -> GridLayout? {
        if let whole = GridLayout(models: models, area: area) { return whole }
        let columns = area.width / minimumPanelWidth, rows = (area.height - 1) / minimumPanelHeight
        guard columns >= 1, rows >= 1 else { return nil }
        let order = ModelOrder(models).flat
        let perPage = columns * rows
        let pages = (order.count + perPage - 1) / perPage
        let position = selected.flatMap { order.firstIndex(of: $0) } ?? 0
        let page = position / perPage
        let panelWidth = area.width / columns, panelHeight = (area.height - 1) / rows
        let shown = order[(page * perPage)..<min(order.count, (page + 1) * perPage)]
        let slots = shown.enumerated().map { offset, modelIndex in
            Slot(modelIndex: modelIndex, rect: Rect(x: area.x + (offset % columns) * panelWidth, y: area.y + (offset / columns) * panelHeight,
                                                 width: panelWidth, height: panelHeight))
        }
        return GridLayout(slots: slots, columns: columns, page: (page, pages))
    }

    /// The smallest body any number of models can be paged in: one panel and the page line.
    public static let pagedMinimum = (width: minimumPanelWidth, height: minimumPanelHeight + 1)

    /// The layout of `models` in `area`; nil when the panels would be smaller
    /// than the minimum.
    public init?(models: [ModelSnapshot], area: Rect) {
        let order = ModelOrder(models)
        let groupCount = order.groups.count
        let runs = order.runsPerGroup
        guard groupCount > 0 else {
            slots = []; columns = 0
            return
        }
        var chosen: (columns: Int, groupRows: Int)?
        for wanted in 1...groupCount {
            let columns = (groupCount + wanted - 1) / wanted
            let groupRows = (groupCount + columns - 1) / columns
            if area.width / columns >= GridLayout.minimumPanelWidth && area.height / (groupRows * runs) >= GridLayout.minimumPanelHeight {
                chosen = (columns, groupRows)
                break
            }
        }
        guard let chosen else { return nil }
        let panelRows = chosen.groupRows * runs
        // Every panel gets the same size (the few spare columns and rows stay
        // blank), so every panel drops the same rows as space runs short:
        // never reach and amplification in one row of panels but not the next.
        let panelWidth = area.width / chosen.columns, panelHeight = area.height / panelRows
        var slots: [Slot] = []
        for (g, group) in order.groups.enumerated() {
            let column = g % chosen.columns
            for (r, modelIndex) in group.enumerated() {
                let row = (g / chosen.columns) * runs + r
                slots.append(Slot(modelIndex: modelIndex, rect: Rect(x: area.x + column * panelWidth, y: area.y + row * panelHeight,
                                                                  width: panelWidth, height: panelHeight)))
            }
        }
        self.slots = slots
        self.columns = chosen.columns
        self.page = nil
    }

    /// The smallest body of every arrangement of `models` (sizes per row of
    /// panels), none larger in both directions than another: what the
    /// too-small message offers.
    public static func minimumSizes(models: [ModelSnapshot]) -> [(width: Int, height: Int)] {
        let order = ModelOrder(models)
        let groupCount = max(1, order.groups.count)
        let runs = max(1, order.runsPerGroup)
        var sizes: [(width: Int, height: Int)] = []
        for wanted in 1...groupCount {
            let columns = (groupCount + wanted - 1) / wanted
            let groupRows = (groupCount + columns - 1) / columns
            let size = (width: columns * minimumPanelWidth, height: groupRows * runs * minimumPanelHeight)
            if !sizes.contains(where: { $0.width <= size.width && $0.height <= size.height }) { sizes.append(size) }
        }
        return sizes
    }

    /// The smallest body (without header and footer) that fits `models`,
    /// choosing the arrangement closest to `available`.
    public static func minimumSize(models: [ModelSnapshot], available: (width: Int, height: Int)) -> (width: Int, height: Int) {
        let order = ModelOrder(models)
        let groupCount = max(1, order.groups.count)
        let runs = max(1, order.runsPerGroup)
        var best = (width: minimumPanelWidth, height: minimumPanelHeight)
        var bestShortfall = Int.max
        for wanted in 1...groupCount {
            let columns = (groupCount + wanted - 1) / wanted
            let groupRows = (groupCount + columns - 1) / columns
            let size = (width: columns * minimumPanelWidth, height: groupRows * runs * minimumPanelHeight)
            let shortfall = max(0, size.width - available.width) + max(0, size.height - available.height)
            if shortfall < bestShortfall { best = size; bestShortfall = shortfall }
        }
        return best
    }
}
