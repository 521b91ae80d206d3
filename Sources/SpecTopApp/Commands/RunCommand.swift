import ArgumentParser
import Foundation
import SpectralCore

/// `spectop run`: train and watch (or record headless).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Train the models of a preset or experiment file, with the monitor or headless.")

    @Option(help: "Built-in preset (see `spectop presets`).") var preset: String?
    @Option(help: "Experiment file (TOML; see examples/).") var config: String?
    @Option(help: "Seed for data, initialisation and batches (overrides the file).") var seed: UInt64?
    @Option(help: "Training steps per model (overrides the file).") var steps: Int?
    @Option(help: "Record the run as JSON Lines to this file while it runs.") var out: String?
    @Option(help: "Write the state dump (weights, probe set, metrics) here at the end and on the export key.") var dump: String?
    @Flag(help: "Train without the terminal UI; progress goes to stderr.") var headless = false
    @OptionGroup var display: DisplayOptions
    @Option(help: "Worker threads (default: the core count).") var threads: Int?
    @Flag(help: "Print the resolved experiment file and exit.") var printConfig = false

    func validate() throws {
        if preset != nil && config != nil { throw ValidationError("give --preset or --config, not both") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// The experiment the flags describe.
    func resolveConfig() throws -> ExperimentConfig {
        var experiment: ExperimentConfig
        if let path = config {
            guard FileManager.default.fileExists(atPath: path) else { throw ConfigError("\(path): no such file") }
            // FileHandle also reads devices and pipes (/dev/stdin, <(…)), which contents(atPath:) refuses.
            guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data() else {
                throw ConfigError("\(path): cannot read the file")
            }
            guard let text = String(data: data, encoding: .utf8) else { throw ConfigError("\(path): not a UTF-8 text file") }
            experiment = try ConfigParser.parse(text, file: path)
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

    func run() throws {
        let experiment: ExperimentConfig
        do { experiment = try resolveConfig() } catch { fail("\(error)") }
        if printConfig {
            print(ConfigParser.render(experiment), terminator: "")
            return
        }
        if !headless { requireTerminal("the monitor", alternative: "use --headless to train without it") }
        var recorder: RunRecorder?
        if let out {
            do { recorder = try RunRecorder(path: out) } catch { fail("\(error)") }
        }
        let prepared: PreparedExperiment
        do {
            prepared = try ExperimentBuilder.prepare(experiment, workers: threads ?? 0, recordEvents: recorder != nil)
        } catch {
            if let out { try? FileManager.default.removeItem(atPath: out) }
            fail("\(error)")
        }
        let session: TrainingSession
        do { session = try TrainingSession(prepared, recorder: recorder, dumpDirectory: dump) } catch { fail("\(error)") }
        SignalFlag.install()
        let outcome: SessionOutcome
        if headless {
            outcome = HeadlessRunner(session: session).run()
        } else {
            outcome = MonitorLauncher.run(session: session, display: display)
        }
        let failures = session.finish(outcome)
        for message in failures { FileHandle.standardError.write(Data("spectop: \(message)\n".utf8)) }
        if !failures.isEmpty { throw ExitCode(ExitStatus.runtimeFailure) }
    }
}
