import SpecTopApp
import SpecTopReaders
import Foundation
import SpectralCore

/// Peak resident memory (high-water RSS) of a headless run of a preset.
enum PeakMemoryProbe {
    /// Why a measurement could not be made, in words for the report's notes.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `executable run --preset P --headless --steps N --out SCRATCH`
    /// as a child process and returns its peak RSS in MiB: the largest
    /// VmHWM read from /proc/<pid>/status while it runs (every 20 ms).
    ///
    /// Not wait4's ru_maxrss: posix_spawn starts the child on this process's
    /// address space (vfork), and Linux carries the old address space's
    /// high-water mark into ru_maxrss across exec, so the child would report
    /// the bench's own peak (hundreds of MiB after the eNTK cases). VmHWM
    /// belongs to the child's address space alone. ru_maxrss remains the
    /// fallback where /proc cannot be read. The child inherits the
    /// environment, so it uses the same OpenBLAS core as the bench.
    static func childProcess(executable: String, preset: String, steps: Int) -> Result<Double, Failure> {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("spectop-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        } catch {
            return .failure(Failure(description: "cannot create a scratch directory \(scratch.path): \(error.localizedDescription)"))
        }
        defer { try? FileManager.default.removeItem(at: scratch) }
        let arguments = [executable, "run", "--preset", preset, "--headless", "--steps", String(steps),
                         "--out", scratch.appendingPathComponent("run.jsonl").path]

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // The child's progress lines would interleave with the bench's output.
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            return .failure(Failure(description: "cannot start \(executable): \(String(cString: strerror(spawned)))"))
        }
        var status: Int32 = 0
        var usage = rusage()
        var polledPeak: Double?
        while true {
            let waited = wait4(pid, &status, WNOHANG, &usage)
            if waited == pid { break }
            if waited == -1 {
                if errno == EINTR { continue }
                return .failure(Failure(description: "lost the child process: \(String(cString: strerror(errno)))"))
            }
            let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            if let mib = highWaterMarkMiB(status: text) { polledPeak = max(polledPeak ?? 0, mib) }
            usleep(20_000)
        }
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        let signal = status & 0x7f
        let exitCode = (status >> 8) & 0xff
        guard signal == 0, exitCode == 0 else {
            let how = signal != 0 ? "was killed by signal \(signal)" : "exited with status \(exitCode)"
            return .failure(Failure(description: "`\(arguments.dropFirst().joined(separator: " "))` \(how)"))
        }
        return .success(polledPeak ?? Double(usage.ru_maxrss) / 1024)
    }

    /// Runs the preset's engine in this process for `steps` steps per model
    /// and returns the process's peak RSS in MiB (VmHWM), after resetting the
    /// high-water mark to the current RSS. An upper bound for a fresh
    /// process: it includes whatever this process already holds.
    static func inProcess(preset: String, steps: Int) -> Result<Double, Failure> {
        guard let text = Presets.text(preset) else { return .failure(Failure(description: "unknown preset \(preset)")) }
        let previousThreads = BLASRuntime.threadCount
        // The engine sets OpenBLAS to 1 thread when it runs several workers.
        defer { BLASRuntime.setThreadCount(previousThreads) }
        do {
            var config = try ConfigParser.parse(text, file: "preset \(preset)")
            config.training.steps = steps
            let prepared = try ExperimentBuilder.prepare(config)
            _ = resetHighWaterMark()
            let engine = try Engine(prepared.engine)
            engine.start()
            engine.waitUntilFinished()
            engine.stop()
        } catch {
            return .failure(Failure(description: "the \(preset) preset did not run: \(error)"))
        }
        guard let peak = highWaterMarkMiB() else {
            return .failure(Failure(description: "cannot read VmHWM from /proc/self/status"))
        }
        return .success(peak)
    }

    /// Resets VmHWM to the current RSS (Linux ≥ 4.0: "5" to clear_refs).
    static func resetHighWaterMark() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// VmHWM of this process in MiB, or nil where /proc is unavailable.
    static func highWaterMarkMiB(status: String? = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) -> Double? {
        guard let status else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            // "VmHWM:	  123456 kB"
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kib = Double(fields[1]) else { return nil }
            return kib / 1024
        }
        return nil
    }
}
