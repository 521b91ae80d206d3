import Foundation
import SpectralCore

/// Why a run ended, as written in the record's `end` line.
public struct SessionOutcome: Sendable {
    /// "steps", "quit" or "signal".
    public var reason: String
    public var detail: String?
    public init(reason: String, detail: String? = nil) { self.reason = reason; self.detail = detail }
}

/// One run: the engine, its recorder and its dump directory, shared by the
/// monitor and the headless runner so both record and end the same way.
public final class TrainingSession: @unchecked Sendable {
    // @unchecked: the engine and recorder are thread-safe; `dumpCount` is only
    // touched by the thread that drives the session.
    public let prepared: PreparedExperiment
    public let engine: Engine
    public let recorder: RunRecorder?
    public let dumpDirectory: String?
    private var exportMessages: [String] = []

    public init(_ prepared: PreparedExperiment, recorder: RunRecorder?, dumpDirectory: String?) throws {
        self.prepared = prepared
        self.engine = try Engine(prepared.engine)
        self.recorder = recorder
        self.dumpDirectory = dumpDirectory
        recorder?.writeHeader(headerLine())
        if let recorder { recorder.attach(to: engine) }
    }

    /// The record's first line: everything needed to interpret the rest.
    public func headerLine() -> String {
        let config = prepared.config
        let engineConfig = prepared.engine
        var json = JSONLine()
        json.add("type", "run")
        json.add("version", RunRecord.supportedVersion)
        json.add("tool", "spectop \(SpecTopVersion.string)")
        json.add("seed", Int(config.seed))
        json.add("preset", config.name)
        json.add("config", ConfigParser.render(config))
        var data = JSONLine()
        data.add("name", prepared.dataName)
        data.add("train", engineConfig.train.count)
        data.add("probe", engineConfig.probe.count)
        data.add("input_dim", engineConfig.train.inputDim)
        data.add("outputs", engineConfig.train.outputDim)
        data.add("loss", engineConfig.train.lossKind.rawValue)
        json.add("data", raw: data.line)
        let models = engine.modelRuns.map { run -> String in
            var m = JSONLine()
            m.add("id", run.plan.id)
            m.add("width", run.plan.architecture.width)
            m.add("depth", run.plan.architecture.depth)
            m.add("params", run.model.parameterCount)
            m.add("trainable", run.plan.mode == .frozen ? "readout" : "all")
            m.add("mode", run.plan.mode.rawValue)
            m.add("parameterization", run.plan.architecture.parameterization.rawValue)
            m.add("activation", run.plan.architecture.activation.rawValue)
            m.add("output_scale", run.plan.architecture.outputScale)
            m.add("lr", run.plan.optimizer.learningRate)
            m.add("steps", run.plan.steps)
            return m.line
        }
        json.add("models", raw: "[" + models.joined(separator: ",") + "]")
        json.add("blas", BLASRuntime.coreName)
        json.add("workers", engine.workers)
        json.add("started", ISO8601DateFormatter().string(from: Date()))
        return json.line
    }

    /// Writes the state dump now (the export key, and the end of the run).
    /// Returns a one-line message for the UI.
    @discardableResult
    public func exportDump() -> String {
        guard let directory = dumpDirectory else { return "no --dump DIR given: nothing exported" }
        do {
            let probe = prepared.engine.probe
            try engine.withModelsIdle { runs in
                _ = try StateDump.write(runs: runs, probe: probe, to: URL(fileURLWithPath: directory))
            }
            let step = engine.snapshot().models.map(\.step).max() ?? 0
            engine.note(kind: "export", detail: directory)
            return "state dump written to \(directory) (step \(step))"
        } catch {
            let message = "\(error)"
            exportMessages.append(message)
            return message
        }
    }

    /// Stops training, writes the final lines and the dump. Returns the
    /// failures to report on exit (recording or dump errors).
    public func finish(_ outcome: SessionOutcome) -> [String] {
        engine.stop()
        var failures: [String] = []
        if dumpDirectory != nil {
            let message = exportDump()
            if !message.hasPrefix("state dump written") { failures.append(message) }
        }
        if let recorder {
            recorder.finish(endLine: RecordLines.end(reason: outcome.reason, wall: engine.snapshot().elapsed, detail: outcome.detail))
            if let failure = recorder.failure { failures.append("\(failure) (training results up to then are in memory and the dump, if any)") }
        }
        return Array(Set(failures + exportMessages)).sorted()
    }
}
