/// A run being read line by line (`spectop watch`), kept at bounded memory:
/// per model the latest sample, a downsampled history (`MetricHistory`), the
/// latest spectrum and the running extremes — never every line. A week-long
/// record costs what a short one does.
public struct LiveRun: Sendable {
    public let header: RecordHeader
    /// Model ids in header order, then in order of first appearance.
    public private(set) var modelIDs: [String] = []
    public private(set) var endReason: String?
    public private(set) var endDetail: String?
    /// The latest wall time any line carried (seconds since the writer started).
    public private(set) var lastWall: Double = 0
    /// Body lines applied (header and junk not counted).
    public private(set) var lineCount = 0
    /// The latest events charts mark (at most `RunMark.limit`).
    public private(set) var marks: [RunMark] = []
    /// Lines about models past `modelLimit`, skipped.
    public private(set) var droppedModelLines = 0
    /// Ids past `modelLimit` seen so far (at most `modelLimit` of them are counted).
    public private(set) var droppedModelCount = 0
    private var droppedIDs: Set<String> = []
    private var latestStep = 0
    private var tracks: [String: Track] = [:]

    /// The most models one run keeps: a writer that names a new model on every
    /// line would otherwise grow memory and the frame time without bound.
    /// The grid pages through far fewer; no sweep record has this many.
    public static let modelLimit = 1024
    private let historyCapacity: Int

    struct Track: Sendable {
        var info: RunRecord.ModelInfo
        var history: MetricHistory
        var latest: MetricSample?
        /// Where the step-rate window starts: a sample a few seconds before `latest`
        /// (two consecutive samples can be milliseconds apart, too close for a rate).
        var rateAnchor: MetricSample?
        var beforeLatest: MetricSample?
        var firstChiNet: Double?
        var minChiPos: Double?
        var spectrum: SpectrumSample?
        var maxREff: Double?
        var stop: (status: ModelStatus, step: Int, detail: String?)?
        var featuresFrozen = false
        /// The step of the first live freeze (`F`): the first step trained and
        /// measured with frozen features; a freeze event without a step counts from 0.
        var freezeStep: Int?
        /// The user's own scalars by name, in order of first appearance (at most `scalarNameLimit`).
        var userScalars: [UserScalarSeries] = []
        /// Names past the limit, counted once each.
        var droppedScalarNames: Set<String> = []
        /// The "spectrum" event's detail: why the model gets no spectrum.
        var spectrumUnavailable: String?
    }

    public init(header: RecordHeader, historyCapacity: Int = 1024) {
        self.header = header
        self.historyCapacity = historyCapacity
        for info in header.models where tracks[info.id] == nil {
            guard modelIDs.count < LiveRun.modelLimit else {
                droppedModelCount += 1
                continue
            }
            modelIDs.append(info.id)
            tracks[info.id] = Track(info: info, history: MetricHistory(capacity: historyCapacity), featuresFrozen: info.mode == .frozen)
        }
    }

    public var isFinished: Bool { endReason != nil }

    /// The writer's latest `usage` line: its process's memory, CPU, step time, GPU.
    public private(set) var usage: ProcessUsage?

    /// Seconds of samples the step rate is measured over (at most twice this).
    static let rateWindow = 3.0

    /// How many models the run has.
    public var modelCount: Int { modelIDs.count }

    public mutating func apply(_ line: RecordLine) {
        lineCount += 1
        switch line {
        case .step(let model, var sample):
            // A writer that does not say n: the header's probe size (RECORD.md).
            if sample.rows == 0, let n = header.data?.probe, n > 0 { sample.rows = n }
            update(model) { track in
                if let latest = track.latest, latest.step == sample.step {
                    // The same step again: a foreign log's step whose values came after it was shown
                    // (ForeignTranslator sends it again, whole). One point, updated; the rate's samples stay.
                    track.history.updateLast(sample)
                    track.latest = sample
                    if track.firstChiNet == nil, sample.chiNet.isFinite { track.firstChiNet = sample.chiNet }
                    if let chiPos = sample.chiPos, chiPos.isFinite { track.minChiPos = Swift.min(track.minChiPos ?? chiPos, chiPos) }
                    return
                }
                track.history.append(sample)
                if let anchor = track.rateAnchor, sample.wall - anchor.wall <= LiveRun.rateWindow {
                    // keep the anchor: the window is still short
                } else {
                    track.rateAnchor = track.beforeLatest ?? track.latest ?? sample
                }
                track.beforeLatest = track.latest
                track.latest = sample
                if track.firstChiNet == nil, sample.chiNet.isFinite { track.firstChiNet = sample.chiNet }
                if let chiPos = sample.chiPos, chiPos.isFinite { track.minChiPos = Swift.min(track.minChiPos ?? chiPos, chiPos) }
            }
            if sample.wall.isFinite { lastWall = Swift.max(lastWall, sample.wall) }
            latestStep = Swift.max(latestStep, sample.step)
        case .spectrum(let model, let spectrum):
            update(model) { track in
                track.spectrum = spectrum
                if let rEff = spectrum.rEff, rEff.isFinite { track.maxREff = Swift.max(track.maxREff ?? rEff, rEff) }
            }
        case .event(let event):
            if event.wall.isFinite { lastWall = Swift.max(lastWall, event.wall) }
            if let mark = RunMark.from(kind: event.kind, model: event.model, step: event.step, wall: event.wall, currentStep: latestStep) {
                marks.append(mark)
                if marks.count > RunMark.limit { marks.removeFirst(marks.count - RunMark.limit) }
            }
            guard let model = event.model else { return }
            switch event.kind {
            case .diverged, .failed:
                update(model) { track in
                    guard track.stop == nil else { return }
                    track.stop = (event.kind == .failed ? .failed : .diverged, event.step ?? track.latest?.step ?? 0, event.detail)
                }
            case .noSpectrum:
                update(model) { track in track.spectrumUnavailable = event.detail }
            case .freeze:
                update(model) { track in
                    let step = event.step ?? 0
                    track.freezeStep = Swift.min(track.freezeStep ?? step, step)
                    guard !track.featuresFrozen else { return }
                    track.featuresFrozen = true
                    // From the freeze on χ_net counts the readout alone, so
                    // amplification restarts from χ_net at the freeze step
                    // (the first sample at or after it), as in the engine.
                    track.firstChiNet = track.latest.flatMap { $0.step >= step && $0.chiNet.isFinite ? $0.chiNet : nil }
                }
            default:
                break
            }
        case .end(let reason, let wall, let detail):
            endReason = reason ?? "end"
            endDetail = detail
            if let wall, wall.isFinite { lastWall = Swift.max(lastWall, wall) }
        case .scalars(let model, let sample):
            if sample.wall.isFinite { lastWall = Swift.max(lastWall, sample.wall) }
            let capacity = historyCapacity
            update(model) { track in
                for value in sample.values {
                    if let index = track.userScalars.firstIndex(where: { $0.name == value.name }) {
                        track.userScalars[index].append(step: sample.step, value: value.value, wall: sample.wall)
                    } else if track.userScalars.count < LiveRun.scalarNameLimit {
                        var series = UserScalarSeries(name: value.name, capacity: capacity)
                        series.append(step: sample.step, value: value.value, wall: sample.wall)
                        track.userScalars.append(series)
                    } else if track.droppedScalarNames.count < LiveRun.scalarNameLimit {
                        track.droppedScalarNames.insert(value.name)
                    }
                }
            }
        case .usage(let usage, let wall):
            self.usage = usage
            if wall.isFinite { lastWall = Swift.max(lastWall, wall) }
        case .ignored:
            break
        }
    }


    /// The most user scalar names one model keeps (a writer naming a new one
    /// every line would otherwise grow memory without bound).
    public static let scalarNameLimit = 64

    /// User scalar names past `scalarNameLimit`, over every model.
    public var droppedScalarNameCount: Int { tracks.values.reduce(0) { $0 + $1.droppedScalarNames.count } }

    /// The models as the header and the lines describe them, in `modelIDs` order
    /// (a model only the lines name is active, `trainable` "all", size unknown).
    public var models: [RunRecord.ModelInfo] { modelIDs.compactMap { tracks[$0]?.info } }

    /// The step of a model's first live freeze (`F`), nil when it was never frozen live.
    public func freezeStep(of model: String) -> Int? { tracks[model]?.freezeStep }

    /// Models a `diverged` or `failed` event stopped before their budget.
    public var stoppedModelIDs: Set<String> { Set(tracks.compactMap { $0.value.stop == nil ? nil : $0.key }) }

    private mutating func update(_ model: String, _ body: (inout Track) -> Void) {
        if tracks[model] == nil {
            guard modelIDs.count < LiveRun.modelLimit else {
                droppedModelLines += 1
                if droppedIDs.count < LiveRun.modelLimit, droppedIDs.insert(model).inserted { droppedModelCount += 1 }
                return
            }
            // A model the header did not list (a hand-written header): shown all the same.
            modelIDs.append(model)
            tracks[model] = Track(info: RunRecord.ModelInfo(id: model, width: 0, depth: 0, parameterCount: 0, trainable: "all", mode: .active),
                                  history: MetricHistory(capacity: historyCapacity))
        }
        body(&tracks[model]!)
    }

    /// The chart marks, their models named as `modelSnapshots(run:prefixingIDs:)` names them.
    public func marks(run: String?, prefixingIDs: Bool) -> [RunMark] {
        marks.map { mark in
            var mark = mark
            mark.model = mark.model.map { RunNames.modelID($0, run: run, prefixing: prefixingIDs) }
            return mark
        }
    }

    /// The models as the monitor draws them, belonging to `run` (ids become
    /// `run/id` with `prefixingIDs`). `stale` marks models still training in a
    /// file that stopped growing.
    public func modelSnapshots(run: String? = nil, prefixingIDs: Bool = false, stale: Bool = false) -> [ModelSnapshot] {
        modelIDs.compactMap { id in
            guard let track = tracks[id] else { return nil }
            let info = track.info
            let latest = track.latest
            var status = ModelStatus.training
            if let stop = track.stop { status = stop.status }
            else if info.stepBudget > 0 && (latest?.step ?? 0) >= info.stepBudget { status = .finished }
            // A run that ended before this model's budget (q at 17 %, a signal) is
            // no finished model; one that says every budget was reached ("steps") is.
            else if isFinished { status = info.stepBudget > 0 && endReason != "steps" ? .ended : .finished }
            else if stale { status = .stale }
            var rate = 0.0
            if status == .training, let latest, let anchor = track.rateAnchor, latest.wall > anchor.wall {
                rate = Double(latest.step - anchor.step) / (latest.wall - anchor.wall)
            }
            var snapshot = ModelSnapshot(
                id: RunNames.modelID(id, run: run, prefixing: prefixingIDs), width: info.width, depth: info.depth, mode: info.mode,
                featuresFrozen: track.featuresFrozen, parameterCount: info.parameterCount,
                trainableParameterCount: info.trainableParameterCount ?? info.parameterCount,
                step: latest?.step ?? 0, stepBudget: info.stepBudget, status: status, trainLoss: latest?.loss,
                latest: latest, history: track.history, spectrum: track.spectrum, layers: latest?.layerShares ?? [],
                minChiPos: track.minChiPos, maxREff: track.maxREff,
                amplification: track.firstChiNet.flatMap { first in
                    first > 0 ? latest.map(\.chiNet).flatMap { $0.isFinite ? $0 / first : nil } : nil
                },
                stepsPerSecond: rate.isFinite ? rate : 0)
            snapshot.divergence = track.stop?.detail
            snapshot.spectrumUnavailable = track.spectrumUnavailable
            snapshot.freezeStep = track.freezeStep
            snapshot.userScalars = track.userScalars
            if let data = header.data, data.name != nil || data.loss != nil {
                snapshot.dataSet = [data.name, data.loss].compactMap { $0 }.joined(separator: "/")
            }
            snapshot.batchSize = info.batchSize
            snapshot.run = run
            if status == .ended { snapshot.endReason = endReason }
            return snapshot
        }
    }
}
