import SpecTopReaders
import Foundation
import SpectralCore

/// Why a run ended, as written in the record's `end` line.
struct SessionOutcome: Sendable {
    /// "steps", "quit", "signal" or "error".
    var reason: String
    var detail: String?
    /// The stop signal, for `signal` outcomes.
    var signal: Int32?
    init(reason: String, detail: String? = nil, signal: Int32? = nil) {
        self.reason = reason; self.detail = detail; self.signal = signal
    }

    static func interrupted(by signal: Int32) -> SessionOutcome {
        SessionOutcome(reason: "signal", detail: SignalFlag.name(signal), signal: signal)
    }
}

/// The result of writing the state dump: what was written, what failed.
struct ExportResult: Sendable, Equatable {
    var message: String
    var failed: Bool
}

/// One run: the engine, its recorder and its dump directory, shared by the
/// monitor and the headless runner so both record and end the same way.
final class TrainingSession: @unchecked Sendable {
    // @unchecked: the engine and recorder are thread-safe; `recorder` is set
    // once before training starts; `exportFailures` is guarded by `lock`.
    let prepared: PreparedExperiment
    let engine: Engine
    private(set) var recorder: RunRecorder?
    let dumpDirectory: String?
    /// `--force` on a directory holding an earlier dump: cleaned of it (and
    /// only of it) before this run's first dump.
    private let replacesPreviousDump: Bool
    private let lock = NSLock()
    private var exportFailures: [String] = []
    private var previousDumpRemoved = false

    /// How long the exit path waits for workers before leaving without them:
    /// a worker inside one LAPACK call can take seconds and publishes nothing
    /// more once told to stop, so the record is complete without it.
    static let stopGrace = 0.3

    /// Builds every model; nothing is written yet.
    init(_ prepared: PreparedExperiment, dumpDirectory: String?, replacingPreviousDump: Bool = false) throws {
        self.prepared = prepared
        self.engine = try Engine(prepared.engine)
        self.dumpDirectory = dumpDirectory
        self.replacesPreviousDump = replacingPreviousDump
    }

    /// Starts recording to `recorder`: the header now, events as they come.
    /// `started` is the header's start time (the default record's name has the same).
    func startRecording(to recorder: RunRecorder, started: Date = Date()) {
        self.recorder = recorder
        recorder.writeHeader(headerLine(started: started))
        recorder.attach(to: engine)
    }

    /// Starts the default record (no `--out`), which never costs the run:
    /// when even its header cannot be written (a full disk, a file-size
    /// limit), the file is removed, the engine stops queueing events and the
    /// write error is returned for a warning; the run goes on unrecorded. A
    /// failure after the header is the same as `--out`'s.
    func startDefaultRecording(to recorder: RunRecorder, started: Date) -> String? {
        recorder.writeHeader(headerLine(started: started))
        if let failure = recorder.failure {
            recorder.discard()
            engine.discardEvents()
            return failure
        }
        self.recorder = recorder
        recorder.attach(to: engine)
        return nil
    }

    /// The record's first line: everything needed to interpret the rest.
    func headerLine(started: Date = Date()) -> String {
        let config = prepared.config
        let engineConfig = prepared.engine
        var header = RecordHeader(version: RunRecord.supportedVersion)
        header.toolVersion = "spectop \(SpecTopVersion.string)"
        header.seed = config.seed
        header.preset = config.name
        header.config = ConfigParser.render(config)
        header.data = RecordHeader.DataInfo(name: prepared.dataName, train: engineConfig.train.count, probe: engineConfig.probe.count,
                                            inputDim: engineConfig.train.inputDim, outputs: engineConfig.train.outputDim,
                                            loss: engineConfig.train.lossKind.rawValue)
        header.models = engine.models.map { model in
            let plan = model.plan
            var info = RunRecord.ModelInfo(id: plan.id, width: plan.architecture.width, depth: plan.architecture.depth,
                                           parameterCount: model.parameterCount, stepBudget: plan.steps,
                                           trainable: plan.mode == .frozen ? "readout" : "all", mode: plan.mode)
            info.batchSize = plan.batchSize
            // N in the 6·N·D compute of a replay's compare view and of `spectop report`: a frozen model trains its readout only.
            info.trainableParameterCount = model.trainableParameterCount
            info.parameterization = plan.architecture.parameterization.rawValue
            info.activation = plan.architecture.activation.rawValue
            info.outputScale = plan.architecture.outputScale
            info.learningRate = plan.optimizer.learningRate
            info.schedule = engineConfig.measurementSchedule
            switch engineConfig.crossBatch {
            case .off: break
            case .heldOut: info.cross = "heldout"
            case .train: info.cross = "train"
            }
            return info
        }
        header.blas = BLASRuntime.coreName
        header.workers = engine.workers
        header.started = ISO8601DateFormatter().string(from: started)
        return header.encode()
    }

    /// Writes the state dump now (the export key, and the end of the run):
    /// every model that can be dumped is, and the result names those that could not.
    @discardableResult
    /// Writes the state dump: the final one to DIR itself, one asked for
    /// during the run (`e`) to its own `DIR/step-NNNNNN`, so an export never
    /// overwrites an earlier one.
    func exportDump(final: Bool = false) -> ExportResult {
        guard let root = dumpDirectory else { return ExportResult(message: "no --dump DIR given: nothing exported", failed: false) }
        lock.lock()
        if replacesPreviousDump && !previousDumpRemoved {
            DumpDestination.removePreviousDump(in: root)
            previousDumpRemoved = true
        }
        lock.unlock()
        // An export during the run is written to a hidden folder and named
        // only when complete: a stop signal mid-write leaves no folder that
        // looks like a dump.
        let target: String
        if final {
            target = root
        } else {
            switch DumpDestination.partialFolder(in: root) {
            case .success(let partial): target = partial
            case .failure(let error): return recordFailure(error.description)
            }
        }
        let report: StateDump.Report
        do { report = try engine.writeStateDump(to: URL(fileURLWithPath: target)) } catch {
            if !final { try? FileManager.default.removeItem(atPath: target) }
            return recordFailure("\(error)")
        }
        let step = engine.snapshot().models.map(\.step).max() ?? 0
        var directory = target
        if !final {
            switch DumpDestination.publish(target, in: root, step: step) {
            case .success(let named): directory = named
            case .failure(let error): return recordFailure(error.description)
            }
        }
        engine.note(kind: "export", detail: directory)
        if !report.failures.isEmpty {
            return recordFailure("state dump written to \(directory) (step \(step)) except: " + report.failures.joined(separator: "; "))
        }
        let note = report.diverged.isEmpty ? "" : " (diverged, weights kept: \(report.diverged.joined(separator: ", ")))"
        return ExportResult(message: "state dump written to \(directory) (step \(step))\(note)", failed: false)
    }

    private func recordFailure(_ message: String) -> ExportResult {
        lock.lock()
        exportFailures.append(message)
        lock.unlock()
        return ExportResult(message: message, failed: true)
    }

    /// Stops training, writes the final lines and, after a normal end, the
    /// dump. Returns the failures to report on exit (recording or dump errors).
    ///
    /// Nothing waits for long unless a final dump is due: workers get
    /// `stopGrace` to return and are then left behind (the caller exits the
    /// process). After a stop signal the dump — which needs every model idle —
    /// is skipped with a message.
    func finish(_ outcome: SessionOutcome) -> [String] {
        let interrupted = outcome.signal != nil
        // Only the final dump needs every worker back (it reads the models);
        // otherwise a worker inside LAPACK is not waited for.
        let waitsForWorkers = dumpDirectory != nil && !interrupted
        let stopped = engine.stop(waitingAtMost: waitsForWorkers ? .infinity : TrainingSession.stopGrace)
        var failures: [String] = []
        if dumpDirectory != nil {
            if interrupted || !stopped {
                failures.append("interrupted: the state dump was not written (press e during a run to export one)")
            } else {
                let result = exportDump(final: true)
                if result.failed { failures.append(result.message) }
            }
        }
        if let recorder {
            recorder.finish(endLine: RecordLines.end(reason: outcome.reason, wall: engine.snapshot().elapsed, detail: outcome.detail))
            if let failure = recorder.failure { failures.append("\(failure) (training results up to then are in memory and the dump, if any)") }
        }
        lock.lock()
        let exports = exportFailures
        lock.unlock()
        // An export failure seen live and again at the end is reported once.
        var seen = Set<String>()
        return (failures + exports).filter { seen.insert($0).inserted }
    }

    /// True when every model diverged (the run produced nothing usable).
    var everyModelDiverged: Bool {
        let models = engine.snapshot().models
        return !models.isEmpty && models.allSatisfy { $0.status.stoppedEarly }
    }
}
