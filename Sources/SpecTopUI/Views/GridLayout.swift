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
