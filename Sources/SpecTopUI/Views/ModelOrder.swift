import SpecTopRecord

/// The order models are shown and selected in: sizes (width) ascending left to
/// right, and within a size the active run above the frozen one.
public struct ModelOrder: Sendable, Equatable {
    /// Indices into the snapshot's `models`, one array per size.
    public let groups: [[Int]]

    public init(_ models: [ModelSnapshot]) {
        var byWidth: [Int: [Int]] = [:]
        for (index, model) in models.enumerated() { byWidth[model.width, default: []].append(index) }
        groups = byWidth.keys.sorted().map { width in
            (byWidth[width] ?? []).sorted { a, b in
                let ma = models[a], mb = models[b]
                if ma.mode != mb.mode { return ma.mode == .active }
                if ma.depth != mb.depth { return ma.depth < mb.depth }
                return ma.id < mb.id
            }
        }
    }

    /// Every model index, group by group.
    public var flat: [Int] { groups.flatMap { $0 } }

    /// The most runs any size has (the panel rows per size).
    public var runsPerGroup: Int { groups.map(\.count).max() ?? 0 }

    /// (group, run) of model `index`.
    public func position(of index: Int) -> (group: Int, run: Int)? {
        for (g, group) in groups.enumerated() {
            if let r = group.firstIndex(of: index) { return (g, r) }
        }
        return nil
    }
}

extension ModelOrder {
    /// The index of the model with `id`, or the first model shown when `id`
    /// is nil or no longer present.
    public func resolve(_ id: String?, in models: [ModelSnapshot]) -> Int? {
        if let id, let index = models.firstIndex(where: { $0.id == id }) { return index }
        return flat.first
    }
}
