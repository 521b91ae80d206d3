import Foundation
import SpecTopRecord
import SpecTopUI

/// Plays a recorded run back through the monitor: a cursor moves through the
/// steps; every view sees the models as they were at that step.
package final class ReplaySource: MonitorSource, @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    package let record: RunRecord
    private let lock = NSLock()
    private let lastStep: Int
    private var cursor: Double = 0
    private var playing = true
    private var stepsPerSecond: Double
    private var lastTick = Date()
    private var histories: [String: (history: MetricHistory, next: Int)] = [:]
    /// The first stop of each model: its step and whether it diverged or failed.
    private let stopped: [String: (step: Int, kind: RecordEventKind)]
    /// Why a model gets no spectrum, when the run said so at its start.
    private let spectrumUnavailable: [String: String]

    package init(record: RunRecord) {
        self.record = record
        lastStep = record.steps.values.compactMap { $0.last?.step }.max() ?? 0
        // From the events once: the record does not change under a replay.
        stopped = Dictionary(record.events.filter(\.kind.stopsTheModel).compactMap { e in e.model.map { ($0, (e.step ?? 0, e.kind)) } },
                             uniquingKeysWith: { $0.0 <= $1.0 ? $0 : $1 })
        spectrumUnavailable = Dictionary(record.events.filter { $0.kind == .noSpectrum }.compactMap { e in
            e.model.flatMap { model in e.detail.map { (model, $0) } }
        }, uniquingKeysWith: { first, _ in first })
        // Play the whole run in about 30 seconds by default.
        stepsPerSecond = max(1, Double(lastStep) / 30)
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
        return "replay \(record.file): step \(Int(cursor))/\(lastStep) \(playing ? "playing" : "paused") at \(JSONLine.number(stepsPerSecond.rounded())) steps/s"
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
        var models: [ModelSnapshot] = []
        var wall = 0.0
        for info in record.models {
            let samples = record.steps[info.id] ?? []
            // Incremental history: append forward, rebuild when scrubbing back.
            var cached = histories[info.id] ?? (MetricHistory(), 0)
            if cached.next > 0 && cached.next <= samples.count && samples[cached.next - 1].step > at { cached = (MetricHistory(), 0) }
            while cached.next < samples.count && samples[cached.next].step <= at {
                cached.history.append(samples[cached.next])
                cached.next += 1
            }
            histories[info.id] = cached
            let visible = samples.prefix(cached.next)
            let latest = visible.last
            if let w = latest?.wall { wall = max(wall, w) }
            let spectra = (record.spectra[info.id] ?? []).filter { $0.step <= at }
            // After a live freeze χ_net counts the readout alone: amplification
            // is relative to χ_net at the freeze, not to the all-layer χ_net(0).
            let freezeStep = info.mode == .frozen ? nil : record.freezeStep(of: info.id).flatMap { $0 <= at ? $0 : nil }
            let chiNets = visible.filter { $0.step >= (freezeStep ?? Int.min) }.map(\.chiNet).filter(\.isFinite)
            var status = ModelStatus.training
            if let (step, kind) = stopped[info.id], step <= at { status = kind == .failed ? .failed : .diverged }
            else if let last = samples.last, last.step <= at { status = .finished }
            models.append(ModelSnapshot(
                id: info.id, width: info.width, depth: info.depth, mode: info.mode,
                featuresFrozen: info.mode == .frozen || freezeStep != nil,
                parameterCount: info.parameterCount, trainableParameterCount: info.trainableParameterCount ?? info.parameterCount,
                step: latest?.step ?? 0, stepBudget: samples.last?.step ?? 0, status: status, trainLoss: latest?.loss,
                latest: latest, history: cached.history, spectrum: spectra.last, layers: latest?.layerShares ?? [],
                minChiPos: visible.compactMap(\.chiPos).filter(\.isFinite).min(),
                maxREff: spectra.compactMap(\.rEff).max(),
                amplification: chiNets.first.flatMap { first in first > 0 ? chiNets.last.map { $0 / first } : nil },
                stepsPerSecond: 0))
            models[models.count - 1].batchSize = info.batchSize
            models[models.count - 1].spectrumUnavailable = spectrumUnavailable[info.id]
        }
        let state: EngineState = at >= lastStep ? .finished : (playing ? .running : .paused)
        var snapshot = EngineSnapshot(state: state, models: models, elapsed: wall, stepsPerSecond: 0)
        snapshot.marks = Array(record.marks.filter { $0.step <= at }.suffix(RunMark.limit))
        return snapshot
    }
}
