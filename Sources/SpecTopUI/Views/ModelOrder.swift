import SpecTopRecord

/// The order models are shown and selected in: sizes (width) ascending left to
/// right, and within a size the active run above the frozen one. Models of
/// several records (`spectop watch`) are grouped by run first, runs ordered by
/// their smallest model (then as given), so each run's sizes stand side by
/// side and a sweep of one model per file reads smallest to largest.
public struct ModelOrder: Sendable, Equatable {
    /// Indices into the snapshot's `models`, one array per size.
    public let groups: [[Int]]
    /// The runs (records) in the order their panels stand, when several are shown.
    public let runs: [String]

    public init(_ models: [ModelSnapshot]) {
        struct GroupKey: Hashable { var run: Int; var width: Int }
        var firstSeen: [String: Int] = [:]
        var smallest: [String: Int] = [:]
        for (index, model) in models.enumerated() {
            guard let name = model.run else { continue }
            if firstSeen[name] == nil { firstSeen[name] = index }
            smallest[name] = min(smallest[name] ?? Int.max, model.parameterCount)
        }
        let ranked = firstSeen.keys.sorted { a, b in
            (smallest[a] ?? 0, firstSeen[a] ?? 0) < (smallest[b] ?? 0, firstSeen[b] ?? 0)
        }
        runs = ranked
        let runRank = Dictionary(uniqueKeysWithValues: ranked.enumerated().map { ($1, $0) })
        var byGroup: [GroupKey: [Int]] = [:]
        for (index, model) in models.enumerated() {
            let run = model.run.flatMap { runRank[$0] } ?? -1  // -1: the monitor's own models, which belong to no record
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

    /// The colour of `run`'s name in panel titles: the runs take the series
    /// colours in the order they stand, so neighbouring runs differ.
    public func role(ofRun run: String?) -> ColorRole? {
        guard runs.count > 1, let run, let rank = runs.firstIndex(of: run) else { return nil }
        return ColorRole.series(rank)
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
