import SpecTopApp
import SpecTopReaders
import Foundation
import SpectralCore
import Synchronization

/// `spectop watch`'s figures, the real binary in a pseudo-terminal on records
/// this benchmark writes: the latency from a line written to its value on the
/// screen, the steady-state output with 16 watched models, the time to the
/// first picture of a 1 GB record; and, in this process, the reader's rate and
/// its peak memory over a 10^6-line record.
enum WatchBenchmarks {
    static var plugins: [BenchmarkPlugin] {
        [
            BenchmarkPlugin(key: "watch_latency_s_median", label: "watch: line written to screen, poll 0.5 s (median)", unit: "s") { options in
                try latency(samples: options.quick ? 3 : 9)
            },
            BenchmarkPlugin(key: "watch_ui_bytes_per_second_16_models_120x40", label: "watch: output, 16 models live, 120x40", unit: "B/s") { options in
                try outputRate(window: options.quick ? 2 : 10)
            },
            BenchmarkPlugin(key: "watch_first_picture_s_1gb", label: "watch: first picture of a 1 GB record", unit: "s") { options in
                try firstPicture(bytes: options.quick ? 64 << 20 : 1 << 30)
            },
            BenchmarkPlugin(key: "watch_first_picture_s_1gb_tensorboard", label: "watch: first picture of a 1 GB TensorBoard log", unit: "s") { options in
                try firstPictureTensorBoard(bytes: options.quick ? 64 << 20 : 1 << 30)
            },
            BenchmarkPlugin(key: "watch_read_lines_per_second", label: "watch: record lines read per second", unit: "lines/s") { options in
                try reading(options).linesPerSecond
            },
            BenchmarkPlugin(key: "watch_peak_rss_mib_1e6_lines", label: "watch: peak RSS of this process reading 10^6 lines", unit: "MiB") { options in
                try reading(options).peakMiB
            },
        ]
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// A step line whose every number comes from `step`, as the engine writes it (per-layer parts included).
    static func stepLine(model: String, step: Int, wall: Double) -> String {
        let x = 1 / Double(step + 2)
        return RecordLines.encode(.metrics(model: model, MetricSample(
            step: step, loss: x, chiLoss: 2 * x, chiNet: 1000 + x, chiPos: x / 3, gradSq: x * x, wall: wall,
            layerChiNet: [400 + x, 600], layerGradSq: [x * x / 2, x * x / 2]))) + "\n"
    }

    static func header(models: [String]) -> String {
        let entries = models.map { "{\"id\":\"\($0)\",\"width\":\($0.hasPrefix("w") ? Int($0.dropFirst().prefix { $0.isNumber }) ?? 8 : 8),\"depth\":2,\"params\":1000,\"trainable\":\"all\",\"mode\":\"\($0.hasSuffix("frozen") ? "frozen" : "active")\"}" }
        return "{\"type\":\"run\",\"version\":1,\"tool\":\"spectop bench\",\"models\":[\(entries.joined(separator: ","))]}\n"
    }

    private static func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-watch-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    private static func append(_ text: String, to path: String) {
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try? handle.close()
    }

    /// Reads the pty until `needle` has been written, or `timeout`; the seconds it took, nil on timeout.
    private static func wait(for needle: String, in terminal: PseudoTerminalProcess, timeout: Double) -> Double? {
        let start = Date()
        var seen = [UInt8]()
        let bytes = Array(needle.utf8)
        while Date().timeIntervalSince(start) < timeout {
            let chunk = terminal.output()
            if chunk.isEmpty { usleep(2_000); continue }
            seen += chunk
            if seen.count > 1 << 20 { seen.removeFirst(seen.count - (1 << 16)) }
            if seen.count >= bytes.count, (0...(seen.count - bytes.count)).contains(where: { seen[$0..<$0 + bytes.count].elementsEqual(bytes) }) {
                return Date().timeIntervalSince(start)
            }
        }
        return nil
    }

    /// Median seconds from a step line appended to the record to its step number
    /// on the screen, at the default poll interval. Steps 111111, 222222, …
    /// change every digit, so the whole number is redrawn as one run of cells.
    static func latency(samples: Int) throws -> Double {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = directory.appendingPathComponent("run.jsonl").path
        try (header(models: ["w8-active"]) + stepLine(model: "w8-active", step: 1, wall: 0)).write(toFile: record, atomically: false, encoding: .utf8)
        let terminal = try PseudoTerminalProcess(binary: "/proc/self/exe", arguments: ["watch", record])
        defer { terminal.type("q"); _ = terminal.waitForExit(timeout: 3) }
        guard wait(for: "w8-active", in: terminal, timeout: 10) != nil else { throw Failure(description: "watch showed nothing within 10 s") }
        var delays: [Double] = []
        var rng = SeededGenerator(seed: 13)
        for index in 1...samples {
            // A random phase against the poll clock, as a real writer has.
            terminal.run(for: Double.random(in: 0.1...0.6, using: &rng))
            let step = 111_111 * (index % 9 + 1)
            append(stepLine(model: "w8-active", step: step, wall: Double(index)), to: record)
            guard let seconds = wait(for: String(step), in: terminal, timeout: 10) else {
                throw Failure(description: "step \(step) did not reach the screen within 10 s")
            }
            delays.append(seconds)
        }
        return ExitLatency.median(delays)
    }

    /// Bytes per second the watch monitor writes at 120×40 while 8 records of 2
    /// models each grow by 10 lines per second per model.
    static func outputRate(window: Double) throws -> Double {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let widths = [8, 16, 32, 64, 128, 256, 512, 1024]
        let records = widths.map { directory.appendingPathComponent("w\($0).jsonl").path }
        for (width, record) in zip(widths, records) {
            try header(models: ["w\(width)-active", "w\(width)-frozen"]).write(toFile: record, atomically: false, encoding: .utf8)
        }
        let stop = Atomic<Bool>(false)
        let writer = Thread {
            var step = 0
            let start = Date()
            while !stop.load(ordering: .relaxed) {
                step += 1
                let wall = Date().timeIntervalSince(start)
                for (width, record) in zip(widths, records) {
                    append(stepLine(model: "w\(width)-active", step: step, wall: wall) + stepLine(model: "w\(width)-frozen", step: step, wall: wall), to: record)
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        writer.start()
        defer { stop.store(true, ordering: .relaxed) }
        let terminal = try PseudoTerminalProcess(binary: "/proc/self/exe", arguments: ["watch", directory.path])
        defer { terminal.type("q"); _ = terminal.waitForExit(timeout: 3) }
        terminal.run(for: 3)
        let start = Date()
        var counted = 0
        while Date().timeIntervalSince(start) < window {
            let n = terminal.drain()
            if n == 0 { usleep(5_000) }
            counted += n
        }
        return Double(counted) / Date().timeIntervalSince(start)
    }

    /// Seconds from starting `spectop watch` on a record of `bytes` to its last
    /// line's step number on the screen (the tail is read first).
    static func firstPicture(bytes: Int) throws -> Double {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = directory.appendingPathComponent("big.jsonl").path
        try writeLongRecord(to: record, bytes: bytes, lastStep: 987_654_321)
        let terminal = try PseudoTerminalProcess(binary: "/proc/self/exe", arguments: ["watch", record])
        defer { terminal.type("q"); _ = terminal.waitForExit(timeout: 3) }
        guard let seconds = wait(for: "987654321", in: terminal, timeout: 60) else {
            throw Failure(description: "the last step did not reach the screen within 60 s")
        }
        return seconds
    }

    /// Seconds from starting `spectop watch` on a TensorBoard log directory of
    /// `bytes` (two runs, one event file each, perspic's keys) to the last
    /// step number on the screen: each file is read tail first, as a record is.
    static func firstPictureTensorBoard(bytes: Int) throws -> Double {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let logs = directory.appendingPathComponent("logs")
        for (index, model) in ["w64", "w256"].enumerated() {
            let run = logs.appendingPathComponent(model)
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            try writeEventFile(to: run.appendingPathComponent("events.out.tfevents.1.bench").path, bytes: bytes / 2,
                               lastStep: 987_654_320 + index)
        }
        let terminal = try PseudoTerminalProcess(binary: "/proc/self/exe", arguments: ["watch", logs.path])
        defer { terminal.type("q"); _ = terminal.waitForExit(timeout: 3) }
        guard let seconds = wait(for: "98765432", in: terminal, timeout: 60) else {
            throw Failure(description: "the last step did not reach the screen within 60 s")
        }
        return seconds
    }

    /// An event file of about `bytes`: perspic's keys at every step, then `lastStep`.
    static func writeEventFile(to path: String, bytes: Int, lastStep: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(TensorBoardRecords.fileVersion(wall: 1000))),
              let handle = FileHandle(forWritingAtPath: path) else { throw Failure(description: "cannot write \(path)") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        func values(_ step: Int) -> [(tag: String, value: Float)] {
            let s = Float(step % 100_000)
            return [("loss", 1 / (1 + s)), ("chi_net", 2 + s / 1e4), ("chi_loss", 1 / (1 + s)), ("chi_coup", 0.5 / (1 + s).squareRoot()),
                    ("grad_norm_squared", 0.1 / (1 + s)), ("batch_size", 64)]
        }
        var written = 0, step = 0
        while written < bytes {
            var block: [UInt8] = []
            block.reserveCapacity(1 << 20)
            while block.count < 1 << 20 {
                step += 1
                block += TensorBoardRecords.scalars(step: step, wall: 1000 + Double(step) / 100, values(step))
            }
            handle.write(Data(block))
            written += block.count
        }
        handle.write(Data(TensorBoardRecords.scalars(step: lastStep, wall: 1000 + Double(step) / 100, values(step))))
    }

    /// A record of about `bytes`, two models, steps increasing, ending with `lastStep`.
    static func writeLongRecord(to path: String, bytes: Int, lastStep: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(header(models: ["w256-active", "w256-frozen"]).utf8)),
              let handle = FileHandle(forWritingAtPath: path) else { throw Failure(description: "cannot write \(path)") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        var written = 0
        var step = 0
        while written < bytes {
            var block = ""
            for _ in 0..<5_000 {
                step += 1
                block += stepLine(model: "w256-active", step: step, wall: Double(step) / 100)
                block += stepLine(model: "w256-frozen", step: step, wall: Double(step) / 100)
            }
            let data = Data(block.utf8)
            handle.write(data)
            written += data.count
        }
        handle.write(Data(stepLine(model: "w256-active", step: lastStep, wall: Double(step) / 100).utf8))
    }

    struct Reading: Sendable { var linesPerSecond: Double; var peakMiB: Double }
    private static let readingCache = Mutex<Reading?>(nil)

    /// Reads a 10^6-line record (10^5 with --quick) with the watch reader in
    /// this process: lines per second, and this process's peak RSS afterwards
    /// (the benchmark's own memory included, so an upper bound).
    static func reading(_ options: BenchmarkOptions) throws -> Reading {
        if let known = readingCache.withLock({ $0 }) { return known }
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = directory.appendingPathComponent("long.jsonl").path
        let lines = options.quick ? 100_000 : 1_000_000
        let lineBytes = stepLine(model: "w256-active", step: 500_000, wall: 5_000).utf8.count
        try writeLongRecord(to: record, bytes: lines * lineBytes, lastStep: 10_000_000)
        _ = PeakMemoryProbe.resetHighWaterMark()
        let start = Date()
        let follower = RecordFollower(path: record, tailBytes: 4 << 20, now: 0)
        while follower.poll(now: 0) {}
        while follower.backfill() {}
        let seconds = Date().timeIntervalSince(start)
        guard let run = follower.run, run.lineCount >= lines else { throw Failure(description: "the reader stopped early") }
        let result = Reading(linesPerSecond: Double(run.lineCount) / seconds, peakMiB: PeakMemoryProbe.highWaterMarkMiB() ?? .nan)
        readingCache.withLock { $0 = result }
        return result
    }
}
