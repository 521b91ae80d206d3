import SpecTopRecord

/// The order models are shown and selected in: sizes (width) ascending left to
/// right, and within a size the active run above the frozen one. Models of
/// several records (`spectop watch`) are grouped by run first, runs in the
/// order they were given, so each run's sizes stand side by side.
public struct ModelOrder: Sendable, Equatable {
    /// Indices into the snapshot's `models`, one array per size.
    public let groups: [[Int]]

    public init(_ models: [ModelSnapshot]) {
        struct GroupKey: Hashable { var run: Int; var width: Int }
        var runRank: [String: Int] = [:]
        var byGroup: [GroupKey: [Int]] = [:]
        for (index, model) in models.enumerated() {
            var run = -1  // the monitor's own models, which belong to no record
            if let name = model.run {
                if let rank = runRank[name] { run = rank } else { run = runRank.count; runRank[name] = run }
            }
            byGroup[GroupKey(run: run, width: model.width), default: []].append(index)
        }
        groups = byGroup.keys.sorted { ($0.run, $0.width) < ($1.run, $1.width) }.map { key in
            (byGroup[key] ?? []).sorted { a, b in
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
