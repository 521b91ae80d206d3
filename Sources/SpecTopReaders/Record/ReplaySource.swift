import Foundation
import SpecTopRecord
import SpecTopUI

/// Plays a recorded run back through the monitor: a cursor moves through the
/// steps; every view sees the models as they were at that step.
///
/// The models are what `spectop watch` would have shown at that step: the
/// record's lines, ordered by the step they became visible at, are fed up to
/// the cursor into the same reducer watch uses (`LiveRun`), so the two can
/// never derive a model differently. Moving forward feeds only the new
/// lines; moving back starts again from the nearest checkpoint.
package final class ReplaySource: MonitorSource, @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    package let record: RunRecord
    private let lock = NSLock()
    private let lastStep: Int
    private var cursor: Double = 0
    private var playing = true
    private var stepsPerSecond: Double
    private var lastTick = Date()
    /// Every body line as (step it becomes visible at, what it is), in the order it is fed.
    private let timeline: [Item]
    /// The reducer fed `timeline[..<fed]`.
    private var reduced: LiveRun
    private var fed = 0
    /// Reducer states at every `checkpointSpacing` items, for scrubbing back.
    private var checkpoints: [Int: LiveRun] = [:]
    private let checkpointSpacing: Int

    /// One line of the record, by index into `record`'s arrays.
    private struct Item {
        enum Kind: UInt8 { case step, spectrum, scalars, event, end, usage }
        var at: Int
        var kind: Kind
        var model: Int32
        var index: Int32
    }

    package init(record: RunRecord) {
        self.record = record
        lastStep = record.steps.values.compactMap { $0.last?.step }.max() ?? 0
        timeline = ReplaySource.timeline(of: record, lastStep: lastStep)
        // At most 32 checkpoints: a long record scrubs back in a thirty-second of a full read.
        checkpointSpacing = max(4096, timeline.count / 32)
        reduced = LiveRun(header: ReplaySource.header(of: record))
        // Play the whole run in about 30 seconds by default.
        stepsPerSecond = max(1, Double(lastStep) / 30)
    }

    /// The header the reducer starts from: the record's models.
    private static func header(of record: RunRecord) -> RecordHeader {
        var header = RecordHeader(version: record.version, name: record.name, models: record.models)
        header.blas = record.blas
        header.toolVersion = record.toolVersion
        header.preset = record.preset
        header.data = record.header.data
        return header
    }

    /// Each model's step and spectrum lines and every event, ordered by the
    /// step they happened at — at one step a model's measurement before its
    /// spectrum, both before that step's events (a freeze at step s follows
    /// the first measurement with frozen features), events in record order —
    /// and the end line last, at the last step.
    private static func timeline(of record: RunRecord, lastStep: Int) -> [Item] {
        var items: [Item] = []
        for (m, info) in record.models.enumerated() {
            for (i, sample) in (record.steps[info.id] ?? []).enumerated() {
                items.append(Item(at: sample.step, kind: .step, model: Int32(m), index: Int32(i)))
            }
            for (i, spectrum) in (record.spectra[info.id] ?? []).enumerated() {
                items.append(Item(at: spectrum.step, kind: .spectrum, model: Int32(m), index: Int32(i)))
            }
            for (i, scalars) in (record.scalars[info.id] ?? []).enumerated() {
                items.append(Item(at: scalars.step, kind: .scalars, model: Int32(m), index: Int32(i)))
            }
        }
        for (i, event) in record.events.enumerated() {
            items.append(Item(at: event.at, kind: .event, model: -1, index: Int32(i)))
        }
        // A usage line at the step the writer had reached when it wrote it, after that step's lines.
        for (i, usage) in record.usage.enumerated() {
            items.append(Item(at: usage.at, kind: .usage, model: -1, index: Int32(i)))
        }
        if record.endReason != nil { items.append(Item(at: lastStep, kind: .end, model: -1, index: 0)) }
        // Stable: equal keys keep the order they were appended in (model, then record order).
        return items.enumerated().sorted { a, b in
            (a.element.at, a.element.kind.rawValue, a.offset) < (b.element.at, b.element.kind.rawValue, b.offset)
        }.map(\.element)
    }

    private func line(_ item: Item) -> RecordLine {
        switch item.kind {
        case .step:
            let id = record.models[Int(item.model)].id
            return .step(model: id, record.steps[id]![Int(item.index)])
        case .spectrum:
            let id = record.models[Int(item.model)].id
            return .spectrum(model: id, record.spectra[id]![Int(item.index)])
        case .scalars:
            let id = record.models[Int(item.model)].id
            return .scalars(model: id, record.scalars[id]![Int(item.index)])
        case .event: return .event(record.events[Int(item.index)])
        case .end: return .end(reason: record.endReason, wall: record.endWall, detail: nil)
        case .usage:
            let sample = record.usage[Int(item.index)]
            return .usage(sample.usage, wall: sample.wall)
        }
    }

    /// The reducer fed every line visible at step `at`.
    private func reduce(upTo at: Int) -> LiveRun {
        // The count of items visible at `at` (the timeline is sorted by step).
        var low = 0, high = timeline.count
        while low < high {
            let middle = (low + high) / 2
            if timeline[middle].at <= at { low = middle + 1 } else { high = middle }
        }
        let target = low
        if target < fed {
            let start = (target / checkpointSpacing) * checkpointSpacing
            if start > 0, let saved = checkpoints[start] {
                reduced = saved
                fed = start
            } else {
                reduced = LiveRun(header: ReplaySource.header(of: record))
                fed = 0
            }
        }
        while fed < target {
            reduced.apply(line(timeline[fed]))
            fed += 1
            if fed % checkpointSpacing == 0 && checkpoints[fed] == nil { checkpoints[fed] = reduced }
        }
        return reduced
    }

    /// The current replay position, in steps.
    package var position: Int {
        lock.lock()
        defer { lock.unlock() }
        return Int(cursor)
    }

    package func perform(_ command: MonitorCommand) {
        lock.lock()
        defer { lock.unlock() }
        advance()
        switch command {
        case .togglePause:
            if !playing && cursor >= Double(lastStep) { cursor = 0 }
            playing.toggle()
        case .singleStep: cursor = min(Double(lastStep), cursor.rounded(.down) + 1)
        case .faster: stepsPerSecond *= 2
        case .slower: stepsPerSecond = max(0.5, stepsPerSecond / 2)
        case .scrub(let amount):
            // One unit is 1% of the run (at least one step).
            let unit = max(1, Double(lastStep) / 100)
            cursor = min(Double(lastStep), max(0, cursor + Double(amount) * unit))
        case .jumpToStart: cursor = 0
        case .jumpToEnd: cursor = Double(lastStep)
        case .freezeFeatures, .export, .quit: break
        }
    }

    package func statusMessage() -> String? {
        lock.lock()
        defer { lock.unlock() }
        let name = record.runCount > 1 ? "\(record.runCount) records" : record.file
        // The last recorded step is no budget: a run quit at 17 % says so.
        let budget = record.models.map(\.stepBudget).max() ?? 0
        var end = ""
        if let reason = record.endReason, reason != "steps", budget > lastStep {
            end = " (\(TerminalSafeText.line(reason)) at \(min(99, lastStep * 100 / budget))% of \(budget))"
        } else if record.endReason == nil {
            // As claims and report say it: the last step read is where the log stops, not how the run ended.
            end = record.writesEndLine ? " (no end line: still running or cut off)"
                : " (the last logged step: TensorBoard and Lightning logs have no end line)"
        }
        return "replay \(name): step \(Int(cursor)) of \(lastStep) recorded\(end), \(playing ? "playing" : "paused") at \(JSONLine.number(stepsPerSecond.rounded())) steps/s"
    }

    private func advance() {
        let now = Date()
        if playing {
            cursor = min(Double(lastStep), cursor + stepsPerSecond * now.timeIntervalSince(lastTick))
            if cursor >= Double(lastStep) { playing = false }
        }
        lastTick = now
    }

    package func snapshot() -> EngineSnapshot {
        lock.lock()
        defer { lock.unlock() }
        advance()
        let at = Int(cursor)
        let run = reduce(upTo: at)
        let state: EngineState = at >= lastStep ? .finished : (playing ? .running : .paused)
        // The panels show the rate each model was recorded at; the header's
        // rate would read as the playback speed, which the footer gives.
        var snapshot = EngineSnapshot(state: state, models: run.modelSnapshots(), elapsed: run.lastWall, stepsPerSecond: 0)
        snapshot.marks = Array(record.marks.filter { $0.step <= at }.suffix(RunMark.limit))
        // The writer's process as its latest usage line at the cursor said (watch shows the newest).
        snapshot.process = run.usage
        return snapshot
    }
}
