import SpecTopApp
import SpecTopReaders
import Foundation
import Synchronization

/// How long spectop takes to end after a signal or `q`, measured as a user
/// sees it: from the signal (or key) to the process being gone, the monitor in
/// a pseudo-terminal and headless, in the states the issue names (training,
/// paused, mid-spectrum, loading data). The goal: median < 0.5 s, worst < 1 s.
///
/// Measured once per suite run and shared by the figures below; each state is
/// sampled `repeats` times (1 for `--quick`) at different delays after start.
enum ExitLatency {
    struct Samples: Sendable {
        var monitorSignal: [Double] = []
        var monitorQuitKey: [Double] = []
        var midSpectrum: [Double] = []
        var paused: [Double] = []
        var loading: [Double] = []
        var headlessSignal: [Double] = []
        var all: [Double] { monitorSignal + monitorQuitKey + midSpectrum + paused + loading + headlessSignal }
    }

    private static let cache = Mutex<Samples?>(nil)

    static var plugins: [BenchmarkPlugin] {
        func figure(_ key: String, _ label: String, _ pick: @escaping @Sendable (Samples) -> Double) -> BenchmarkPlugin {
            BenchmarkPlugin(key: key, label: label, unit: "s") { options in
                let value = pick(try samples(options))
                if value.isNaN { throw BenchmarkPlugin.Skipped(description: "measured by the full suite only (not with --quick)") }
                return value
            }
        }
        return [
            figure("exit_s_monitor_signal_median", "exit after SIGTERM, monitor, training (median)") { median($0.monitorSignal) },
            figure("exit_s_monitor_quit_key_median", "exit after q, monitor (median)") { median($0.monitorQuitKey) },
            figure("exit_s_monitor_mid_spectrum_median", "exit after SIGINT mid-spectrum (median)") { median($0.midSpectrum) },
            figure("exit_s_monitor_paused_median", "exit after SIGTERM, paused (median)") { median($0.paused) },
            figure("exit_s_loading_data_median", "exit after SIGTERM while data loads (median)") { median($0.loading) },
            figure("exit_s_headless_signal_median", "exit after SIGTERM, headless (median)") { median($0.headlessSignal) },
            figure("exit_s_worst", "exit, worst of every state above") { $0.all.max() ?? .nan },
        ]
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private static func samples(_ options: BenchmarkOptions) throws -> Samples {
        if let known = cache.withLock({ $0 }) { return known }
        let measured = try measure(repeats: options.quick ? 1 : max(3, min(options.repeats, 5)), quick: options.quick)
        cache.withLock { $0 = measured }
        return measured
    }

    /// `quick` (the test suite's bench) samples the three cheap states only.
    private static func measure(repeats: Int, quick: Bool) throws -> Samples {
        let binary = "/proc/self/exe"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-exit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The reach experiment on digits: 2,560 outputs, seconds per exact spectrum.
        var digits = ConfigParser.render(try ConfigParser.parse(Presets.text("reach")!, file: "reach"))
        digits = digits.replacingOccurrences(of: "kind = \"teacher\"", with: "kind = \"digits\"")
        let digitsConfig = directory.appendingPathComponent("digits.toml").path
        try digits.write(toFile: digitsConfig, atomically: true, encoding: .utf8)
        let loadingConfig = directory.appendingPathComponent("loading.toml").path
        try "[data]\nsamples = 1000000\ninput_dim = 64\n[models]\nwidths = [8]\n".write(toFile: loadingConfig, atomically: true, encoding: .utf8)

        // Runs record by default now, so they are timed recording, as a user's
        // are — into this scratch directory, never the user's runs directory
        // (which each run would also prune).
        let environment = ["XDG_DATA_HOME": directory.appendingPathComponent("data").path]
        func monitor(_ binary: String, _ arguments: [String], after delay: Double, stop: Stop, pauseFirst: Bool = false) throws -> Double {
            try ExitLatency.monitor(binary, arguments, after: delay, stop: stop, pauseFirst: pauseFirst, environment: environment)
        }
        func headless(_ binary: String, _ arguments: [String], after delay: Double) throws -> Double {
            try ExitLatency.headless(binary, arguments, after: delay, environment: environment)
        }
        var samples = Samples()
        for index in 0..<repeats {
            let delay = 1.0 + Double(index)
            samples.monitorSignal.append(try monitor(binary, ["run", "--steps", "1000000"], after: delay, stop: .signal(SIGTERM)))
            samples.monitorQuitKey.append(try monitor(binary, ["run", "--steps", "1000000"], after: delay, stop: .key("q")))
            samples.headlessSignal.append(try headless(binary, ["run", "--headless", "--steps", "1000000"], after: delay))
            if quick { continue }
            samples.midSpectrum.append(try monitor(binary, ["run", "--config", digitsConfig], after: 2 + delay, stop: .signal(SIGINT)))
            samples.paused.append(try monitor(binary, ["run", "--steps", "1000000"], after: delay, stop: .signal(SIGTERM), pauseFirst: true))
            samples.loading.append(try headless(binary, ["run", "--config", loadingConfig, "--headless"], after: 0.3 + 0.1 * Double(index)))

        }
        return samples
    }

    enum Stop {
        case signal(Int32)
        case key(String)
    }

    private static func monitor(_ binary: String, _ arguments: [String], after delay: Double, stop: Stop,
                                pauseFirst: Bool = false, environment: [String: String]) throws -> Double {
        let terminal = try PseudoTerminalProcess(binary: binary, arguments: arguments, environment: environment)
        terminal.run(for: delay)
        if pauseFirst {
            terminal.type(" ")
            terminal.run(for: 0.5)
        }
        guard terminal.process.isRunning else { throw PseudoTerminalProcess.Failure(description: "spectop ended before the stop") }
        let start = Date()
        switch stop {
        case .signal(let number): kill(terminal.process.processIdentifier, number)
        case .key(let key): terminal.type(key)
        }
        guard terminal.waitForExit(timeout: 30) else {
            throw PseudoTerminalProcess.Failure(description: "spectop did not end within 30 s of the stop")
        }
        return Date().timeIntervalSince(start)
    }

    private static func headless(_ binary: String, _ arguments: [String], after delay: Double, environment: [String: String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        let start = Date()
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        guard !process.isRunning else {
            process.terminate()
            throw PseudoTerminalProcess.Failure(description: "headless spectop did not end within 30 s of SIGTERM")
        }
        return Date().timeIntervalSince(start)
    }
}
