import Foundation

/// Trains several models side by side on a small pool of worker threads and
/// publishes consistent snapshots of them.
///
/// Scheduling is fair by step count: a free worker always takes the
/// least-advanced model that is not being trained, so models stay in step.
/// All shared state lives behind one condition lock; a worker holds it only
/// to claim a model and to publish its result, never while computing. A UI
/// reading `snapshot()` therefore waits at most for a copy.
public final class Engine: @unchecked Sendable {
    // @unchecked: every mutable field below is guarded by `lock`; `runs[i]` is
    // touched only by the worker that set `busy[i]`.
    public let configuration: EngineConfiguration
    private let runs: [ModelRun]
    private let lock = NSCondition()
    private var published: [ModelSnapshot]
    private var busy: [Bool]
    private var pendingFreeze: [Bool]
    private var stepAllowance: [Int]
    private var nextAllowedTime: [Double]
    private var rateWindow: [(wall: Double, step: Int)]
    private var errorCounts: [Int]
    /// Error events recorded per model before further ones are only counted.
    static let errorEventsPerModel = 5
    private var state: EngineState = .paused
    /// Events for the charts (freeze, export, pause, resume, speed, divergence), the latest `RunMark.limit`.
    private var marks: [RunMark] = []
    /// When training ended (finished or stopped): the clock on screen stops there.
    private var endedAt: Double?
    private var started = false
    private var stopping = false
    private var idleSectionActive = false
    private var liveWorkers = 0
    private var stepsPerSecondLimit: Double?
    private var events: [EngineEvent] = []
    /// Set by `discardEvents`: no recorder will drain `events`.
    private var discardingEvents = false
    private var startTime = Date()
    /// Paused time so far (closed pauses) and the start of the current pause, on `elapsedLocked`'s clock.
    private var pausedTotal = 0.0
    private var pausedSince: Double?
    private let workerCount: Int
    /// Per model: exact, matrix-free or no spectrum (fixed by the sizes).
    private let spectrumPlans: [SpectrumPlan]

    /// Builds every model (initialisation happens here, deterministically).
    public init(_ configuration: EngineConfiguration) throws(ConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        var runs: [ModelRun] = []
        for plan in configuration.models {
            runs.append(try ModelRun(plan: plan, train: configuration.train, probe: configuration.probe, seed: configuration.seed,
                                     online: configuration.onlineSampler, cross: configuration.crossBatch))
        }
        self.runs = runs
        let spectrumPlans = configuration.models.map { SpectrumPlan.choose(for: $0, in: configuration) }
        self.spectrumPlans = spectrumPlans
        published = zip(runs, spectrumPlans).map { run, spectrumPlan in
            var snapshot = ModelSnapshot(id: run.plan.id, width: run.plan.architecture.width, depth: run.plan.architecture.depth,
                                         mode: run.plan.mode, featuresFrozen: run.model.featuresFrozen,
                                         parameterCount: run.model.parameterCount,
                                         trainableParameterCount: run.model.trainableParameterCount, step: 0,
                                         stepBudget: run.plan.steps, status: .training)
            snapshot.batchSize = run.plan.batchSize
            if case .none(let reason?) = spectrumPlan { snapshot.spectrumUnavailable = reason }
            return snapshot
        }
        busy = Array(repeating: false, count: runs.count)
        pendingFreeze = Array(repeating: false, count: runs.count)
        stepAllowance = Array(repeating: 0, count: runs.count)
        nextAllowedTime = Array(repeating: 0, count: runs.count)
        rateWindow = Array(repeating: (0, 0), count: runs.count)
        errorCounts = Array(repeating: 0, count: runs.count)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let requested = configuration.workers > 0 ? configuration.workers : cores
        workerCount = max(1, min(requested, cores, runs.count))
    }

    deinit {
        stop()
    }

    /// Worker threads this engine uses.
    public var workers: Int { workerCount }

    /// The models (for the state dump and tests inside the engine). Only
    /// touch them inside `withModelsIdle`.
    var modelRuns: [ModelRun] { runs }

    /// What each model is, for a record's header: its plan and size.
    public var models: [ModelDescription] {
        runs.map { ModelDescription(plan: $0.plan, parameterCount: $0.model.parameterCount,
                                   trainableParameterCount: $0.model.trainableParameterCount) }
    }

    /// Writes the state dump of every model to `directory` while no worker
    /// touches them (see `StateDump.write`); models that diverged are marked.
    public func writeStateDump(to directory: URL) throws -> StateDump.Report {
        let diverged = Set(snapshot().models.filter { $0.status == .diverged }.map(\.id))
        let probe = configuration.probe
        let configuration = self.configuration
        return try withModelsIdle { runs in
            try StateDump.write(runs: runs, probe: probe, to: directory, diverged: diverged,
                                maxKernelSize: configuration.maxKernelSize, matrixFree: configuration.matrixFree)
        }
    }

    // MARK: Controls

    /// Starts the workers (running, or paused if `paused`).
    public func start(paused: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        guard !started else { return }
        started = true
        state = paused ? .paused : .running
        startTime = Date()
        // Pauses toggled before the start took no training time.
        pausedTotal = 0
        pausedSince = paused ? 0 : nil
        // Two levels of parallelism oversubscribe the cores: with several
        // workers each BLAS call runs on its caller's thread only.
        if workerCount > 1 { BLASRuntime.setThreadCount(1) }
        // A model that gets no spectrum says why once; it trains all the same.
        for (i, plan) in spectrumPlans.enumerated() {
            if case .none(let reason?) = plan {
                appendEvent(.event(kind: .noSpectrum, model: runs[i].plan.id, step: 0, wall: 0, detail: reason))
            }
        }
        liveWorkers = workerCount
        for index in 0..<workerCount {
            let thread = Thread { [self] in self.workerLoop() }
            thread.name = "spectop-worker-\(index)"
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    public func pause() { setState(.paused, event: "pause") }
    public func resume() { setState(.running, event: "resume") }

    public func togglePause() {
        lock.lock()
        defer { lock.unlock() }
        if state == .running { setStateLocked(.paused, event: "pause") } else if state == .paused { setStateLocked(.running, event: "resume") }
    }

    private func setState(_ newState: EngineState, event: RecordEventKind) {
        lock.lock()
        defer { lock.unlock() }
        setStateLocked(newState, event: event)
    }

    private func setStateLocked(_ newState: EngineState, event: RecordEventKind) {
        guard state == .running || state == .paused, state != newState else { return }
        state = newState
        notePauseLocked()
        if newState == .running { for i in stepAllowance.indices { stepAllowance[i] = 0 } }
        appendEvent(.event(kind: event, model: nil, step: nil, wall: elapsedLocked(), detail: nil))
        lock.broadcast()
    }

    /// While paused: lets every model take one more step.
    public func stepOnce() {
        lock.lock()
        defer { lock.unlock() }
        guard state == .paused else { return }
        for i in runs.indices where published[i].status == .training { stepAllowance[i] += 1 }
        lock.broadcast()
    }

    /// Caps each model's training speed (nil: as fast as possible).
    public func setSpeedLimit(stepsPerSecond: Double?) {
        lock.lock()
        defer { lock.unlock() }
        let limit = stepsPerSecond.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
        if limit != stepsPerSecondLimit {
            stepsPerSecondLimit = limit
            appendEvent(.event(kind: "speed", model: nil, step: nil, wall: elapsedLocked(),
                               detail: limit.map { "limit \(JSONLine.number($0)) steps/s per model" } ?? "full speed"))
        }
        lock.broadcast()
    }

    public var speedLimit: Double? {
        lock.lock()
        defer { lock.unlock() }
        return stepsPerSecondLimit
    }

    /// Speeds from slow to unlimited, for the `+`/`-` keys.
    public static let speedLevels: [Double?] = [1, 2, 5, 10, 20, 50, 100, 200, 500, nil]

    public func faster() { shiftSpeed(by: 1) }
    public func slower() { shiftSpeed(by: -1) }

    private func shiftSpeed(by delta: Int) {
        let current = speedLimit
        let index = Engine.speedLevels.firstIndex { level in
            guard let level else { return current == nil }
            guard let current else { return false }
            return level >= current
        } ?? Engine.speedLevels.count - 1
        let next = max(0, min(Engine.speedLevels.count - 1, index + delta))
        setSpeedLimit(stepsPerSecond: Engine.speedLevels[next])
    }

    /// Freezes the hidden layers of a model from its next step on (a live
    /// intervention). Returns false for an unknown id or an already frozen model.
    @discardableResult
    public func freezeFeatures(modelID: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let i = runs.firstIndex(where: { $0.plan.id == modelID }), !published[i].featuresFrozen,
              !pendingFreeze[i] else { return false }
        pendingFreeze[i] = true
        lock.broadcast()
        return true
    }

    /// Stops the workers and waits for them; safe to call more than once.
    public func stop() {
        _ = stop(waitingAtMost: .infinity)
    }

    /// Tells the workers to stop and waits at most `seconds` for them.
    /// Returns false when a worker is still inside a computation that cannot
    /// be interrupted (a LAPACK call): the caller may then exit without it,
    /// since a stopping worker publishes nothing more.
    public func stop(waitingAtMost seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(min(seconds, 1e9))
        lock.lock()
        defer { lock.unlock() }
        stopping = true
        if state == .running || state == .paused {
            state = .stopped
            endedAt = elapsedLocked()
            notePauseLocked()
        }
        lock.broadcast()
        while liveWorkers > 0 {
            if !lock.wait(until: deadline) { return liveWorkers == 0 }
        }
        return true
    }

    /// Blocks until every model finished or diverged, or `timeout` passes.
    @discardableResult
    public func waitUntilFinished(timeout: Double = .infinity) -> Bool {
        let deadline = Date().addingTimeInterval(min(timeout, 1e9))
        lock.lock()
        defer { lock.unlock() }
        while state != .finished && state != .stopped {
            if !lock.wait(until: deadline) { return false }
        }
        return state == .finished
    }

    /// Runs `body` while no worker touches any model (for the state dump).
    /// One caller at a time: two dumps at once (the export key and the final
    /// dump) would otherwise measure the same models concurrently.
    public func withModelsIdle<T>(_ body: ([ModelRun]) throws -> T) rethrows -> T {
        lock.lock()
        while idleSectionActive { lock.wait() }
        idleSectionActive = true
        let wasRunning = state == .running
        if wasRunning { state = .paused }
        while busy.contains(true) { lock.wait() }
        lock.unlock()
        defer {
            lock.lock()
            idleSectionActive = false
            if wasRunning && state == .paused { state = .running }
            lock.broadcast()
            lock.unlock()
        }
        return try body(runs)
    }

    /// Records a caller's event (e.g. "export") in the event stream.
    public func note(kind: RecordEventKind, detail: String?) {
        lock.lock()
        defer { lock.unlock() }
        appendEvent(.event(kind: kind, model: nil, step: nil, wall: elapsedLocked(), detail: detail))
    }

    // MARK: Reading

    /// A consistent picture: each model's fields all belong to one step.
    public func snapshot() -> EngineSnapshot {
        lock.lock()
        defer { lock.unlock() }
        var models = published
        // A paused or finished engine trains nothing: do not show the last rate.
        if state != .running { for i in models.indices { models[i].stepsPerSecond = 0 } }
        let now = started ? endedAt ?? elapsedLocked() : 0
        var snapshot = EngineSnapshot(state: state, models: models, elapsed: now,
                                      stepsPerSecond: models.reduce(0) { $0 + $1.stepsPerSecond })
        snapshot.marks = marks
        if started { snapshot.pausedSeconds = pausedTotal + (pausedSince.map { max(0, now - $0) } ?? 0) }
        return snapshot
    }

    /// Stops queueing events for a recorder, and drops those queued: the
    /// record a run was prepared for could not be opened after all (the
    /// default record, which never stops a run), and nothing would drain them.
    public func discardEvents() {
        lock.lock()
        discardingEvents = true
        events.removeAll()
        lock.unlock()
    }

    /// Metrics, spectra and events since the last call, oldest first.
    public func drainEvents() -> [EngineEvent] {
        lock.lock()
        defer { lock.unlock() }
        let drained = events
        events.removeAll(keepingCapacity: true)
        return drained
    }

    // MARK: Workers

    private func elapsedLocked() -> Double { Date().timeIntervalSince(startTime) }

    /// After a state change: a pause starts, or the current one ends and counts.
    private func notePauseLocked() {
        let now = endedAt ?? elapsedLocked()
        if state == .paused {
            if pausedSince == nil { pausedSince = now }
        } else if let since = pausedSince {
            pausedTotal += max(0, now - since)
            pausedSince = nil
        }
    }

    private func appendEvent(_ event: EngineEvent) {
        if case .event(let kind, let model, let step, let wall, _) = event,
           let mark = RunMark.from(kind: kind, model: model, step: step, wall: wall, currentStep: published.map(\.step).max() ?? 0) {
            marks.append(mark)
            if marks.count > RunMark.limit { marks.removeFirst(marks.count - RunMark.limit) }
        }
        if configuration.recordEvents && !discardingEvents { events.append(event) }
    }

    /// The least-advanced idle model allowed to run now, if any.
    private func chooseModel(now: Double) -> Int? {
        var best: Int?
        for i in runs.indices where !busy[i] && published[i].status == .training {
            if state == .paused && stepAllowance[i] <= 0 { continue }
            if state != .running && state != .paused { continue }
            if nextAllowedTime[i] > now { continue }
            if best == nil || published[i].step < published[best!].step { best = i }
        }
        return best
    }

    /// The largest eNTK any model may compute: what each worker's spectrum
    /// workspace is sized for.
    private var largestKernel: Int {
        runs.indices.filter { spectrumPlans[$0] == .exact }.map { runs[$0].kernelSize }.max() ?? 0
    }

    private func workerLoop() {
        // One spectrum workspace per worker, made at its first spectrum and
        // shared by every model it measures (it computes one at a time).
        var workspace: SpectrumWorkspace?
        lock.lock()
        while true {
            if stopping { break }
            let now = elapsedLocked()
            guard let index = chooseModel(now: now) else {
                if !busy.contains(true) && !published.contains(where: { $0.status == .training }) {
                    if state == .running || state == .paused {
                        state = .finished
                        endedAt = now
                        appendEvent(.event(kind: "finished", model: nil, step: nil, wall: now, detail: nil))
                    }
                    lock.broadcast()
                    break
                }
                // Throttled models become runnable at a known time; otherwise wait for a signal.
                let waits = nextAllowedTime.enumerated().filter { !busy[$0.offset] && $0.element > now }.map(\.element)
                if let soonest = waits.min(), state == .running {
                    _ = lock.wait(until: Date().addingTimeInterval(soonest - now))
                } else {
                    _ = lock.wait(until: Date().addingTimeInterval(0.5))
                }
                continue
            }
            busy[index] = true
            let claimedWhilePaused = state == .paused
            if claimedWhilePaused { stepAllowance[index] -= 1 }
            let freeze = pendingFreeze[index]
            pendingFreeze[index] = false
            let limit = stepsPerSecondLimit
            let spectrumDue = isSpectrumDue(index, now: now)
            lock.unlock()

            // Long measurements ask between their pieces whether to give up:
            // on stop, and on pause unless this unit is a single step taken
            // while paused. An abandoned unit changes nothing and runs again later.
            let interrupted = { [self] () -> Bool in
                lock.lock()
                defer { lock.unlock() }
                return stopping || (state == .paused && !claimedWhilePaused)
            }
            if spectrumDue && workspace == nil && spectrumPlans[index] == .exact {
                workspace = SpectrumWorkspace(capacity: largestKernel, rows: configuration.probe.count)
            }
            let outcome = runUnit(index, freeze: freeze, spectrumDue: spectrumDue, started: now, workspace: workspace,
                                  interrupted: interrupted)

            lock.lock()
            if outcome.abandoned {
                // Give the step back so a paused single step is not lost.
                if claimedWhilePaused { stepAllowance[index] += 1 }
                // The freeze already happened; publishing it is left to the rerun.
                if outcome.froze { pendingFreeze[index] = true }
                busy[index] = false
                lock.broadcast()
                continue
            }
            publish(index, outcome)
            busy[index] = false
            if let limit { nextAllowedTime[index] = outcome.wall + 1 / limit } else { nextAllowedTime[index] = 0 }
            lock.broadcast()
        }
        liveWorkers -= 1
        lock.broadcast()
        lock.unlock()
    }

    private func isSpectrumDue(_ i: Int, now: Double) -> Bool {
        let run = runs[i]
        if case .none = spectrumPlans[i] { return false }
        let step = published[i].step
        if let every = configuration.spectrumEvery { return step % every == 0 || step == run.plan.steps }
        if step == 0 || step == run.plan.steps { return true }
        let fraction = max(0.01, min(1, configuration.spectrumTimeFraction))
        // Models share the workers: a model gets workers/models of the CPU, so
        // its spectra must be spaced that much further apart to stay within
        // the fraction of its own share.
        let share = Double(runs.count) / Double(workerCount)
        let adaptive = run.lastSpectrumSeconds * (1 - fraction) / fraction * max(1, share)
        return now - run.lastSpectrumWall >= max(configuration.spectrumInterval, adaptive)
    }

    private struct UnitOutcome {
        var step: Int
        var trainLoss: Double?
        var metric: MetricSample?
        var measurement: LNPMeasurement?
        var spectrum: SpectrumSample?
        var froze: Bool
        /// Why the model diverged (a non-finite loss, metric or kernel entry).
        var divergence: String?
        /// Why the model failed otherwise (its online sampler), if it did.
        var stopFailure: String?
        var finished: Bool
        var wall: Double
        var failure: String?
        /// The unit gave up part-way (stop or pause): nothing to publish.
        var abandoned = false
    }

    /// One unit of work on a model: measure if due, then one training step.
    private func runUnit(_ i: Int, freeze: Bool, spectrumDue: Bool, started: Double, workspace: SpectrumWorkspace?,
                         interrupted: () -> Bool) -> UnitOutcome {
        let run = runs[i]
        if freeze { run.freezeFeatures() }
        var outcome = UnitOutcome(step: run.step, froze: freeze, finished: false, wall: started)
        let budget = run.plan.steps
        let step = run.step
        let schedule = configuration.measurementSchedule
        if (schedule.isDue(step) || step == budget) && run.lastMeasuredStep != step {
            let before = Date()
            do {
                var result: (LNPMeasurement, SpectrumSample?)
                do {
                    var matrixFree: MatrixFreeSettings?
                    if case .matrixFree(let settings) = spectrumPlans[i] { matrixFree = settings }
                    result = try run.measure(estimator: configuration.traceEstimator, withSpectrum: spectrumDue,
                                             workspace: workspace, matrixFree: matrixFree, interrupted: interrupted)
                } catch let error as MeasurementError where error.isRetryableWithoutSpectrum {
                    // A spectrum LAPACK could not compute is reported once and
                    // skipped; the kernel-free metrics of this step still count.
                    // (Never retried in a loop: the step is measured either way.)
                    outcome.failure = "\(error)"
                    result = try run.measure(estimator: configuration.traceEstimator, withSpectrum: false,
                                             interrupted: interrupted)
                }
                let (measurement, spectrum) = result
                if spectrum != nil {
                    run.lastSpectrumSeconds = Date().timeIntervalSince(before)
                    run.lastSpectrumWall = started
                }
                outcome.measurement = measurement
                outcome.spectrum = spectrum
                outcome.metric = MetricSample(step: step, loss: measurement.loss, chiLoss: measurement.chiLoss,
                                              chiNet: measurement.chiNet, chiPos: measurement.chiPos,
                                              gradSq: measurement.gradSq, wall: Date().timeIntervalSince(startTime),
                                              traceIsEstimate: measurement.traceIsEstimate,
                                              layerChiNet: measurement.layerTraces, layerGradSq: measurement.layerGradSq)
                outcome.metric?.rows = run.probe.rowCount
                outcome.metric?.window = schedule.window(of: step)
                outcome.metric?.cross = measurement.cross
                outcome.divergence = measurement.nonFiniteQuantity.map { "\($0) is not finite at step \(step)" }
            } catch MeasurementError.interrupted {
                outcome.abandoned = true
                return outcome
            } catch MeasurementError.nonFiniteKernel {
                outcome.divergence = "the eNTK has non-finite entries at step \(step)"
            } catch {
                // Any other failure is reported and the step counts as measured,
                // so the model moves on instead of retrying forever.
                outcome.failure = "\(error)"
                run.skipMeasurement()
            }
        }
        if step < budget && outcome.divergence == nil {
            let loss = run.trainer.trainStep()
            outcome.trainLoss = loss
            if let failure = run.trainer.lastFailure {
                outcome.stopFailure = failure
            } else if !loss.isFinite {
                outcome.divergence = "the training loss is not finite at step \(step)"
            }
        }
        outcome.step = run.step
        outcome.finished = outcome.divergence == nil && outcome.stopFailure == nil && run.step >= budget && run.lastMeasuredStep == budget
        outcome.wall = Date().timeIntervalSince(startTime)
        return outcome
    }

    private func publish(_ i: Int, _ outcome: UnitOutcome) {
        let run = runs[i]
        var snapshot = published[i]
        let id = run.plan.id
        if outcome.froze {
            // The step is the first one trained and measured with frozen
            // features: readers split the model's samples there.
            appendEvent(.event(kind: "freeze", model: id, step: snapshot.step, wall: outcome.wall, detail: "features frozen"))
            snapshot.freezeStep = snapshot.step
        }
        if let metric = outcome.metric {
            snapshot.latest = metric
            snapshot.history.append(metric)
            appendEvent(.metrics(model: id, metric))
        }
        if let measurement = outcome.measurement { snapshot.layers = measurement.layerShares }
        if let spectrum = outcome.spectrum {
            snapshot.spectrum = spectrum
            snapshot.spectrumSeconds = run.lastSpectrumSeconds
            appendEvent(.spectrum(model: id, spectrum))
        }
        if let failure = outcome.failure {
            // Bounded: a model that keeps failing cannot flood the record.
            errorCounts[i] += 1
            if errorCounts[i] <= Engine.errorEventsPerModel {
                appendEvent(.event(kind: "error", model: id, step: snapshot.step, wall: outcome.wall, detail: failure))
            } else if errorCounts[i] == Engine.errorEventsPerModel + 1 {
                appendEvent(.event(kind: "error", model: id, step: snapshot.step, wall: outcome.wall,
                                   detail: "more errors for this model are not recorded"))
            }
        }
        snapshot.step = outcome.step
        if let loss = outcome.trainLoss { snapshot.trainLoss = loss }
        snapshot.featuresFrozen = run.model.featuresFrozen
        snapshot.trainableParameterCount = run.model.trainableParameterCount
        snapshot.minChiPos = run.minChiPos
        snapshot.maxREff = run.maxREff
        snapshot.amplification = run.amplification
        if let failure = outcome.stopFailure, snapshot.status == .training {
            snapshot.status = .failed
            snapshot.divergence = failure
            appendEvent(.event(kind: "failed", model: id, step: outcome.step, wall: outcome.wall,
                               detail: "\(failure); training stopped for this model"))
        } else if let divergence = outcome.divergence, snapshot.status == .training {
            snapshot.status = .diverged
            snapshot.divergence = divergence
            appendEvent(.event(kind: "diverged", model: id, step: outcome.step, wall: outcome.wall,
                               detail: "\(divergence); training stopped for this model"))
        } else if outcome.finished {
            snapshot.status = .finished
        }
        // Steps per second over windows of about a second.
        if snapshot.status != .training {
            snapshot.stepsPerSecond = 0
        } else if outcome.wall - rateWindow[i].wall >= 1 {
            snapshot.stepsPerSecond = Double(outcome.step - rateWindow[i].step) / (outcome.wall - rateWindow[i].wall)
            rateWindow[i] = (outcome.wall, outcome.step)
        }
        published[i] = snapshot
    }
}
