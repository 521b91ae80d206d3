import SpecTopReaders
import ArgumentParser
import Foundation
import SpectralCore

/// `spectop run`: train and watch (or record headless).
package struct RunCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Train the models of a preset or experiment file, with the monitor or headless.")

    @Option(help: "Built-in preset (see `spectop presets`).") var preset: String?
    @Option(help: "Experiment file (TOML; see examples/).") var config: String?
    @Option(help: "Seed for data, initialisation and batches, 0 to 2^63-1 (overrides the file).") var seed: UInt64?
    @Option(help: "Training steps per model (overrides the file).") var steps: Int?
    @Option(help: "Record the run as JSON Lines to this file while it runs (a new file unless --force); without it the run is recorded in $XDG_DATA_HOME/spectop/runs (see spectop runs).") var out: String?
    @Flag(help: "Do not record this run (without --out a run is recorded in $XDG_DATA_HOME/spectop/runs, by default ~/.local/share/spectop/runs).") package var noRecord = false
    @Option(help: "Write the state dump (weights, probe set, metrics) here at the end and on the export key.") var dump: String?
    @Flag(help: "Overwrite an existing --out record and reuse a --dump directory that holds files.") package var force = false
    @Flag(help: "Train without the terminal UI; progress goes to stderr.") package var headless = false
    @OptionGroup package var display: DisplayOptions
    @Option(help: "Worker threads (default: the core count).") var threads: Int?
    @Flag(help: "Print the resolved experiment file and exit.") package var printConfig = false

    package func validate() throws {
        if preset != nil && config != nil { throw ValidationError("give --preset or --config, not both") }
        if noRecord && out != nil { throw ValidationError("give --out or --no-record, not both") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let seed, seed > UInt64(Int64.max) {
            throw ValidationError("--seed must be between 0 and \(Int64.max), got \(seed)")
        }
    }

    /// The experiment the flags describe.
    package func resolveConfig() throws -> ExperimentConfig {
        var experiment: ExperimentConfig
        if let path = config {
            let text = try ExperimentFile.read(path)
            experiment = try ConfigParser.parse(text, file: path)
            experiment.data.resolvePaths(relativeTo: path)
        } else {
            let name = preset ?? Presets.defaultName
            guard let text = Presets.text(name) else {
                throw ConfigError("unknown preset '\(name)'; valid presets: \(Presets.names.joined(separator: ", "))")
            }
            experiment = try ConfigParser.parse(text, file: "preset \(name)")
        }
        if let seed { experiment.seed = seed }
        if let steps { experiment.training.steps = steps }
        return experiment
    }

    package func run() throws {
        // Handlers first: a signal while the data loads or the models are
        // allocated must end the run as promptly as one during training.
        SignalFlag.install()
        let experiment = try resolveConfig()
        // The main thread, the preparing thread and each worker call BLAS.
        let threadCount = (threads ?? ProcessInfo.processInfo.activeProcessorCount) + 2
        try MemoryBudget.checkAddressSpace(threads: printConfig ? 2 : threadCount)
        if printConfig {
            // Printing validates too: a printed file is one that runs.
            var prepared = try prepareInterruptibly { try ExperimentBuilder.prepare(experiment) }
            let gflops = CostEstimate.measureGFLOPS()
            prepared.engine.measuredGFLOPS = gflops
            let estimate = MemoryEstimate.of(prepared.engine, cores: ProcessInfo.processInfo.activeProcessorCount)
            let cost = CostEstimate.of(prepared.engine, gflops: gflops)
            StandardStreams.writeOutput(ConfigParser.render(experiment) + "\n# \(MemoryBudget.summary(estimate))\n# \(cost.summary)\n"
                                        + (cost.warning.map { "# warning: \($0)\n" } ?? ""))
            return
        }
        if !headless { try requireTerminal("the monitor", alternative: "use --headless to train without it") }
        // Every destination is checked before anything is prepared, and none
        // is created, truncated or removed until the run is ready to start.
        let protected = [config, experiment.data.path, experiment.data.labelsPath].compactMap { $0 }
        if let dump {
            try DumpDestination.check(dump, reuse: force, record: out)
        }
        var destination: RecordDestination?
        if let out {
            destination = try RecordDestination.check(out, overwrite: force, protected: protected)
        }
        // Without --out the run is recorded in the runs directory; a problem
        // there is a warning now, and the run goes on unrecorded.
        let defaultRecord = out == nil && !noRecord ? DefaultRecord.plan() : nil
        let workers = threads ?? 0
        let recordEvents = out != nil || defaultRecord != nil
        let force = self.force
        // The machine's DGEMM rate, for the matrix-free time check (SpectrumPlan) and the estimate below.
        let gflops = CostEstimate.measureGFLOPS()
        let session = try prepareInterruptibly { () throws -> TrainingSession in
            var prepared = try ExperimentBuilder.prepare(experiment, workers: workers, recordEvents: recordEvents)
            prepared.engine.measuredGFLOPS = gflops
            try MemoryBudget.check(MemoryEstimate.of(prepared.engine, cores: ProcessInfo.processInfo.activeProcessorCount))
            return try TrainingSession(prepared, dumpDirectory: dump, replacingPreviousDump: force)
        }
        if let destination {
            session.startRecording(to: try RunRecorder(destination))
        } else if let defaultRecord {
            let started = Date()
            if let recorder = defaultRecord.open(preset: experiment.name, started: started) {
                if let failure = session.startDefaultRecording(to: recorder, started: started) { DefaultRecord.warn(failure) }
            } else {
                session.engine.discardEvents()
            }
        }
        // Before training: say what will be slow, and which setting changes it.
        let cost = CostEstimate.of(session.prepared.engine, gflops: gflops)
        if let warning = cost.warning { StandardStreams.printError("warning: \(warning)") }
        let outcome: SessionOutcome
        if let signal = SignalFlag.received {
            outcome = .interrupted(by: signal)
        } else if headless {
            outcome = HeadlessRunner(session: session).run()
        } else {
            outcome = MonitorLauncher.run(session: session, display: display, cost: cost)
        }
        let failures = session.finish(outcome)
        for message in failures { StandardStreams.printError(message) }
        // A default record that failed mid-run is named by its failure above.
        if defaultRecord != nil, let recorder = session.recorder, recorder.failure == nil {
            StandardStreams.writeError(DefaultRecord.exitLine(path: recorder.path) + "\n")
        }
        if let signal = outcome.signal { ProcessExit.now(SignalFlag.exitStatus(signal)) }
        if outcome.reason == "error" { ProcessExit.now(ExitStatus.runtimeFailure) }
        if session.everyModelDiverged {
            StandardStreams.printError("every model diverged or failed: nothing was learned (lower [training] lr, or see the record's diverged and failed events)")
            ProcessExit.now(ExitStatus.runtimeFailure)
        }
        // Workers may still be inside a long call after a quit: leave without them.
        ProcessExit.now(failures.isEmpty ? 0 : ExitStatus.runtimeFailure)
    }

    /// Runs `body` (data loading, model allocation: seconds for large runs) on
    /// a worker thread while this thread watches for stop signals, so Ctrl-C
    /// is answered at once; nothing has been written yet, so leaving is safe.
    private func prepareInterruptibly<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        switch Interruptible.run(body) {
        case .finished(let value): return value
        case .failed(let error): throw error
        case .interrupted(let signal):
            StandardStreams.printError("interrupted (\(SignalFlag.name(signal))) while preparing the run; nothing was written")
            ProcessExit.now(SignalFlag.exitStatus(signal))
        }
    }
}
