import SpecTopApp
import SpecTopReaders
import ArgumentParser
import Foundation
import SpectralCore

/// `spectop bench`: the benchmark suite (see `BenchmarkSuite`), as a table
/// or as JSON for scripts (bench/torch_peer.py reads it).
package struct BenchCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training, LNP and eNTK speed against the machine's SGEMM limit.",
        discussion: """
            Prints medians after warm-up. Training, LNP and eNTK figures use OpenBLAS at 2 threads \
            (the single-model case; --threads changes it). The peak memory figure runs the default \
            preset headless in a child process. The cost curves — a training step against width \
            (64...8192) and a spectrum against m = nC (320...102,400, exact and matrix-free) — are \
            printed as tables and log-log plots; the spectrum curve alone takes up to an hour \
            (--only spectrum, --only train_width pick one).
            """)

    @Flag(help: "Print one JSON object instead of the table.") package var json = false
    @Flag(help: "Reduced sizes and repeats, no spectrum curve (seconds instead of an hour).") package var quick = false
    @Option(help: "Timed runs per figure (the median is reported).") package var repeats: Int?
    @Option(help: "Steps per model of the default-preset memory run (0 skips it).") package var memorySteps: Int?
    @Option(help: "OpenBLAS threads for the training, LNP and eNTK figures (default 2: the single-model case).")
    package var threads: Int?
    @Option(help: "Measure only the figures whose key starts with this (e.g. train_step, watch, exit_s, ui), one line each; a whole key picks that figure alone.")
    package var only: String?
    @Flag(help: "Only the engine's figures (SGEMM, training, LNP, eNTK): skips the terminal, watch and spectrum-cost figures, which take minutes and which bench/torch_peer.py does not compare.")
    package var engineOnly = false

    /// Figures from the terminal UI: render time and output rate.
    static var uiPlugins: [BenchmarkPlugin] {
        UIBenchmarks.plugins + ExitLatency.plugins + WatchBenchmarks.plugins + SpectrumCost.plugins + TrainWidthCost.plugins
    }

    package func validate() throws {
        if let repeats, repeats < 1 { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        if let memorySteps, memorySteps < 0 { throw ValidationError("--memory-steps must be 0 or more, got \(memorySteps)") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
    }

    package func run() throws {
        let steps = memorySteps ?? (quick ? 20 : 200)
        // /proc/self/exe: this very binary, whatever name or path it was started by.
        let memory: BenchmarkOptions.MemoryRun = steps == 0
            ? .skip(reason: "--memory-steps 0")
            : .childProcess(executable: "/proc/self/exe", steps: steps)
        var options = quick ? BenchmarkOptions.quick(memoryRun: memory) : BenchmarkOptions.standard(memoryRun: memory)
        if let threads { options.threads = threads }
        if let repeats {
            options.repeats = repeats
            options.kernelRepeats = min(repeats, options.kernelRepeats)
        }
        let interactive = isatty(STDERR_FILENO) != 0
        if let only {
            let candidates = BenchmarkSuite.trainStepFigures(options) + Self.uiPlugins
            // A whole key is that figure alone, even where it prefixes others
            // (spectrum_matrix_free_ms_m10240 and …_m102400).
            let exact = candidates.filter { $0.key == only }
            let chosen = exact.isEmpty ? candidates.filter { $0.key.hasPrefix(only) } : exact
            if chosen.isEmpty {
                throw CommandFailure.usage("--only \(only): no figure's key starts with that (keys: \(candidates.map(\.key).joined(separator: ", ")))")
            }
            for plugin in chosen {
                let value: String
                do { value = "\(JSONLine.number(try plugin.measure(options))) \(plugin.unit)" } catch { value = "null: \(error)" }
                StandardStreams.writeOutput("\(plugin.key)  \(value)  (\(plugin.label))\n")
            }
            // The table and plot of any cost curve those figures belong to.
            for curve in BenchmarkCurveSource.curves(for: chosen.map(\.key), options: options) {
                StandardStreams.writeOutput("\n" + curve.render())
            }
            return
        }
        let suite = BenchmarkSuite(options: options, plugins: engineOnly ? [] : Self.uiPlugins,
                                   curveSources: engineOnly ? [] : BenchmarkCurveSource.all)
        let report: BenchmarkReport
        do {
            report = try suite.run { line in
                if interactive { StandardStreams.writeError("\u{1B}[2K\r  \(line)...") }
            }
        } catch {
            throw CommandFailure.runtime("\(error)")
        }
        if interactive { StandardStreams.writeError("\u{1B}[2K\r") }
        if json {
            do { StandardStreams.writeOutput(try report.json() + "\n") } catch { throw CommandFailure.runtime("\(error)") }
        } else {
            StandardStreams.writeOutput(BenchmarkTable.render(report))
        }
    }
}
