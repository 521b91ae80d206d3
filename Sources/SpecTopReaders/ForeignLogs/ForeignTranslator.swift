import Foundation
import SpecTopRecord

/// One scalar as a foreign log holds it: a TensorBoard `Summary.Value`
/// with its event's step and wall time, or one cell of a Lightning
/// `metrics.csv` row.
package struct ForeignScalar: Sendable, Equatable {
    package var tag: String
    package var step: Int
    /// Seconds since the Unix epoch (TensorBoard), nil where the log has none (CSV).
    package var wall: Double?
    package var value: Double

    package init(tag: String, step: Int, wall: Double?, value: Double) {
        self.tag = tag; self.step = step; self.wall = wall; self.value = value
    }
}

/// Turns a foreign log's scalars into spectop's own record lines, so they
/// reach the model state through the one reducer (`LiveRun`, `RunRecord`)
/// like any record's lines. Loggers write one value per tag; a step line
/// holds all of a step's numbers, so the values of one model are gathered
/// until its step changes (`add`) or the caller knows the step is complete
/// (`flush`: the end of a whole read, or a followed file that stopped growing).
///
/// Per group the names go through `ForeignNames`: the prefix with the most
/// step fields is the model's metrics prefix (bound for good once a step
/// shows two or more fields under it); every other name becomes a user
/// scalar of a `scalars` line, named in `keptNames`.
package struct ForeignTranslator: Sendable {
    /// What the name table makes of one tag, worked out once per distinct tag.
    private struct Tag: Sendable {
        var prefix: String
        var key: String
        var entry: ForeignNames.Entry?
        var perspicOnly: Bool
    }

    private struct Group: Sendable {
        var step: Int
        var wall: Double?
        var values: [(tag: String, value: Double, info: Tag)] = []
        /// User scalars already sent in a `scalars` line (a reopened step sends only the new ones).
        var sentScalars: Set<String> = []
    }

    private var pending: [String: Group] = [:]
    private var tags: [String: Tag] = [:]
    /// Each model's last flushed step: values that arrive for it later (a
    /// writer's buffer flushed mid-step) reopen it, and the whole step is sent again.
    private var flushed: [String: Group] = [:]
    private var prefixes: [String: String] = [:]
    private var startWall: [String: Double] = [:]
    /// Names kept as user scalars, in order of first appearance, with why (nil: no table knows the key).
    package private(set) var keptNames: [(name: String, reason: String?)] = []
    private var keptSet = Set<String>()
    /// Problems of meaning (not of framing), each said once: perspic's
    /// normalised factors without a batch size, a tag logged twice at a step.
    package private(set) var notes: [String] = []
    private var noteSet = Set<String>()

    package init() {}

    /// The wall time step lines count from: the earliest one said of the model
    /// (its first event file's first event, or its first value).
    package mutating func setStart(_ wall: Double, model: String) {
        startWall[model] = min(startWall[model] ?? wall, wall)
    }

    /// Adds one value; returns the lines of the model's previous step when this one starts a new step.
    package mutating func add(_ scalar: ForeignScalar, model: String) -> [RecordLine] {
        var out: [RecordLine] = []
        if let group = pending[model], group.step != scalar.step {
            out = lines(group, model: model)
            pending[model] = nil
        }
        if let wall = scalar.wall, wall.isFinite, startWall[model] == nil { setStart(wall, model: model) }
        if pending[model] == nil, let last = flushed[model], last.step == scalar.step { pending[model] = last }
        var group = pending[model] ?? Group(step: scalar.step)
        if let wall = scalar.wall, wall.isFinite { group.wall = max(group.wall ?? wall, wall) }
        let info: Tag
        if let known = tags[scalar.tag] {
            info = known
        } else {
            let (prefix, key) = ForeignNames.split(scalar.tag)
            info = Tag(prefix: String(prefix), key: String(key), entry: ForeignNames.entry(String(key)),
                       perspicOnly: ForeignNames.perspicOnlyKeys.contains(String(key)))
            if tags.count < 100_000 { tags[scalar.tag] = info }  // a writer naming a new tag every step must not grow this without bound
        }
        if let index = group.values.firstIndex(where: { $0.tag == scalar.tag }) {
            // Lightning repeats `epoch` in every row of a step: only a different value is news.
            if group.values[index].value != scalar.value && !(group.values[index].value.isNaN && scalar.value.isNaN) {
                note("\(model): \(scalar.tag) is logged more than once at step \(scalar.step) with different values; the last is used")
            }
            group.values[index].value = scalar.value
        } else {
            group.values.append((scalar.tag, scalar.value, info))
        }
        pending[model] = group
        return out
    }

    /// The lines of a model's gathered step (none when nothing is pending).
    package mutating func flush(model: String) -> [RecordLine] {
        guard let group = pending.removeValue(forKey: model) else { return [] }
        return lines(group, model: model)
    }

    /// Every model's gathered step, models in name order.
    package mutating func flushAll() -> [RecordLine] {
        pending.keys.sorted().flatMap { flush(model: $0) }
    }

    package var hasPending: Bool { !pending.isEmpty }

    private mutating func note(_ text: String) {
        if noteSet.insert(text).inserted { notes.append(text) }
    }

    private mutating func keep(_ name: String) {
        guard keptSet.insert(name).inserted else { return }
        keptNames.append((name, ForeignNames.reasonKept(String(ForeignNames.split(name).key))))
    }

    /// The metrics prefix of a model at this step: the bound one, else the
    /// prefix with the most step fields here (spectop's own `spectop/` first on a tie, then none, then by name).
    private mutating func prefix(for group: Group, model: String) -> String? {
        if let bound = prefixes[model] { return bound }
        var counts: [String: Int] = [:]
        for value in group.values where value.info.entry != nil { counts[value.info.prefix, default: 0] += 1 }
        func rank(_ prefix: String) -> Int { prefix == "spectop/" ? 0 : prefix.isEmpty ? 1 : 2 }
        guard let best = counts.max(by: { a, b in
            a.value != b.value ? a.value < b.value : (rank(a.key), a.key) > (rank(b.key), b.key)
        }) else { return nil }
        if best.value >= 2 { prefixes[model] = best.key }
        return best.key
    }

    private mutating func lines(_ group: Group, model: String) -> [RecordLine] {
        var group = group
        defer { flushed[model] = group }
        let metricsPrefix = prefix(for: group, model: model)
        var fields: [ForeignNames.Field: Double] = [:]
        var scalars: [ScalarsSample.Value] = []
        var perspic = false
        var normalised: [(field: ForeignNames.Field, tag: String, value: Double)] = []
        if let metricsPrefix {
            perspic = group.values.contains { $0.info.perspicOnly && $0.info.prefix == metricsPrefix }
        }
        for (tag, value, info) in group.values {
            guard info.prefix == metricsPrefix, let entry = info.entry,
                  entry.scheme == .both || entry.scheme == (perspic ? .perspic : .spectop) else {
                keep(tag)
                scalars.append(.init(name: tag, value: value))
                continue
            }
            if perspic, [.chiLoss, .chiNet, .crossChiLoss, .crossChiNet].contains(entry.field) {
                normalised.append((entry.field, tag, value))
            } else {
                fields[entry.field] = value
            }
        }
        let rows = Self.count(fields[.rows])
        let crossRows = Self.count(fields[.crossRows])
        // perspic's χ_loss and χ_net are normalised by its batch size: the
        // record's factors are n·χ_loss / n and (χ_net/n)·n. Without n the
        // raw factors are unknown, so the logged numbers stay user scalars.
        var recorded: [ForeignNames.Field: Double] = [:]
        for (field, tag, value) in normalised {
            let isCross = field == .crossChiLoss || field == .crossChiNet
            let scale = isCross ? (rows > 0 && crossRows > 0 ? (Double(rows) * Double(crossRows)).squareRoot() : 0) : Double(rows)
            guard scale > 0 else {
                note("\(model): \(tag) is perspic's batch-normalised factor, but no \(isCross ? "batch_size and cross_batch_size" : "batch_size") is logged with it; kept as a user scalar")
                keep(tag)
                scalars.append(.init(name: tag, value: value))
                continue
            }
            recorded[field] = value
            fields[field] = (field == .chiLoss || field == .crossChiLoss) ? value / scale : value * scale
        }
        let wall = max(0, (group.wall ?? 0) - (startWall[model] ?? group.wall ?? 0))
        var out: [RecordLine] = []
        if fields.keys.contains(where: \.isMeasurement) {
            var sample = MetricSample(step: group.step, loss: fields[.loss] ?? .nan, chiLoss: fields[.chiLoss] ?? .nan,
                                      chiNet: fields[.chiNet] ?? .nan, chiPos: fields[.chiPos], gradSq: fields[.gradSq] ?? .nan,
                                      wall: wall, chiNetStandardError: fields[.chiNetStderr])
            sample.rows = rows
            sample.window = fields[.window].flatMap { $0 >= 0 && $0 < 1e15 && $0 == $0.rounded() ? Int($0) : nil }
            sample.recordedNormalizedChiLoss = recorded[.chiLoss]
            sample.recordedNormalizedChiNet = recorded[.chiNet]
            if let dot = fields[.crossGradDot], let chiLoss = fields[.crossChiLoss], let chiNet = fields[.crossChiNet] {
                var cross = CrossBatchSample(loss: fields[.crossLoss] ?? .nan, gradDot: dot, chiLoss: chiLoss, chiNet: chiNet,
                                             chiPos: fields[.crossChiPos], rows: crossRows)
                cross.recordedNormalizedChiLoss = recorded[.crossChiLoss]
                cross.recordedNormalizedChiNet = recorded[.crossChiNet]
                sample.cross = cross
            } else {
                // A cross measurement needs δL, χ_loss^AB and χ_net^AB; a part alone is kept as it was logged.
                for (tag, value, info) in group.values {
                    guard info.prefix == metricsPrefix, info.key.hasPrefix("cross_"), let entry = info.entry,
                          entry.field != .crossRows, !scalars.contains(where: { $0.name == tag }) else { continue }
                    note("\(model): \(tag) without the rest of a cross measurement (cross δL, χ_loss and χ_net); kept as a user scalar")
                    keep(tag)
                    scalars.append(.init(name: tag, value: value))
                }
            }
            out.append(.step(model: model, sample))
        } else {
            // No measured quantity at this step: whatever mapped is kept as it was logged.
            for (tag, value, _) in group.values where !scalars.contains(where: { $0.name == tag }) {
                scalars.append(.init(name: tag, value: value))
                keep(tag)
            }
        }
        scalars.removeAll { group.sentScalars.contains($0.name) }
        group.sentScalars.formUnion(scalars.map(\.name))
        if !scalars.isEmpty { out.append(.scalars(model: model, ScalarsSample(step: group.step, wall: wall, values: scalars))) }
        return out
    }
}

extension ForeignTranslator {
    /// A logged count (a batch size, as a float): 0 (unknown) unless a whole number in 1 ..< 10^15.
    static func count(_ value: Double?) -> Int {
        guard let value, value >= 1, value < 1e15, value == value.rounded() else { return 0 }
        return Int(value)
    }
}
