import XCTest
import Foundation
@testable import SpecTopReaders
import SpecTopRecord
import SpecTopUI

/// `spectop watch`'s reader on files this test writes between polls, with the
/// test's own clock: every line once and in order, files that appear, are
/// truncated, replaced or go stale, directories that gain files, junk,
/// refusals, tail-first opening. (The same with a separate writer process and
/// the real binary: `WatchProcessTests`, `EndToEndTests`.)
final class WatchTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "spectop-watch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Writing records

    static func header(models: [String] = ["w8-active", "w8-frozen"], width: Int = 8, version: Int = 1, name: String? = nil) -> String {
        let entries = models.map { id in
            "{\"id\":\"\(id)\",\"width\":\(width),\"depth\":2,\"params\":\(width * 20),\"trainable\":\"\(id.hasSuffix("frozen") ? "readout" : "all")\",\"mode\":\"\(id.hasSuffix("frozen") ? "frozen" : "active")\",\"steps\":100000}"
        }
        let named = name.map { ",\"name\":\"\($0)\"" } ?? ""
        return "{\"type\":\"run\",\"version\":\(version)\(named),\"preset\":\"test\",\"models\":[\(entries.joined(separator: ","))]}\n"
    }

    /// A step line whose numbers all come from `step`, so any line can be checked.
    static func stepLine(_ model: String, _ step: Int) -> String {
        RecordLines.encode(.metrics(model: model, sample(step))) + "\n"
    }

    static func sample(_ step: Int) -> MetricSample {
        MetricSample(step: step, loss: 1 / Double(step + 1), chiLoss: 2 / Double(step + 1), chiNet: 100 + Double(step),
                     chiPos: 0.5 / Double(step + 1), gradSq: 0.25, wall: Double(step) / 100)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    private func append(_ text: String, to file: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
    }

    private func write(_ text: String, to file: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
    }

    // MARK: - Following one file

    func testEveryLineIsReadOnceInOrderAcrossSplitWritesAndABurst() throws {
        let file = path("run.jsonl")
        try write(Self.header(models: ["m"]), to: file)
        let follower = RecordFollower(path: file, historyCapacity: 1 << 20, now: 0)
        var written = 0
        func steps(_ count: Int) -> String {
            (0..<count).map { _ in written += 1; return Self.stepLine("m", written) }.joined()
        }
        follower.poll(now: 0)
        for _ in 0..<20 {  // at a pace: a few lines per poll
            try append(steps(3), to: file)
            follower.poll(now: 1)
        }
        // One line split across two writes, with a poll between the halves.
        written += 1
        let split = Self.stepLine("m", written)
        let cut = split.index(split.startIndex, offsetBy: split.count / 2)
        try append(String(split[..<cut]), to: file)
        follower.poll(now: 2)
        XCTAssertEqual(follower.run?.lineCount, written - 1, "half a line is kept back until its newline arrives")
        try append(String(split[cut...]), to: file)
        follower.poll(now: 3)
        // A burst of 10,000 lines, read in small slices.
        try append(steps(10_000), to: file)
        while follower.poll(now: 4, maxBytes: 64 << 10) {}
        let run = try XCTUnwrap(follower.run)
        XCTAssertEqual(run.lineCount, written)
        XCTAssertEqual(follower.junkLines, 0)
        let model = try XCTUnwrap(run.modelSnapshots().first)
        XCTAssertEqual(model.history.steps, Array(1...written), "each line exactly once, in order")
        XCTAssertEqual(model.latest, Self.sample(written), "the snapshot is the writer's last line")
        XCTAssertEqual(model.minChiPos, Self.sample(written).chiPos)
        XCTAssertEqual(try XCTUnwrap(model.amplification), (100 + Double(written)) / 101, accuracy: 1e-12)
    }

    func testAFileThatAppearsLaterIsWaitedForAndSaidSo() throws {
        let file = path("later.jsonl")
        let source = WatchSource(targets: [.file(file)], options: .init(timeout: 5))
        source.refresh(now: 0)
        XCTAssertEqual(source.snapshot().runs, [RunSummary(name: "later", state: .waiting, detail: file)])
        XCTAssertTrue(source.snapshot().models.isEmpty)
        source.refresh(now: 6)
        XCTAssertTrue(source.statusMessage()?.contains("nothing to read after 5 s") == true, source.statusMessage() ?? "nil")
        try write(Self.header() + Self.stepLine("w8-active", 1), to: file)
        source.refresh(now: 7)
        XCTAssertEqual(source.snapshot().runs.first?.state, .live)
        XCTAssertEqual(source.snapshot().models.map(\.id), ["w8-active", "w8-frozen"])
        XCTAssertEqual(source.snapshot().models.first?.step, 1)
    }

    func testATruncatedFileIsReadAgainFromTheStart() throws {
        let file = path("run.jsonl")
        try write(Self.header(models: ["m"]) + (1...50).map { Self.stepLine("m", $0) }.joined(), to: file)
        let follower = RecordFollower(path: file, now: 0)
        follower.poll(now: 0)
        XCTAssertEqual(follower.run?.modelSnapshots().first?.step, 50)
        // The writer started over (`--force` truncates): fewer bytes than were read.
        try write(Self.header(models: ["m"]) + (1...3).map { Self.stepLine("m", $0) }.joined(), to: file)
        follower.poll(now: 1)
        XCTAssertTrue(follower.takeNotices().contains { $0.contains("truncated; reading it again from the start") })
        follower.poll(now: 1)
        XCTAssertEqual(follower.run?.modelSnapshots().first?.history.steps, [1, 2, 3])
    }

    /// `cp bigger.jsonl watched.jsonl` between two polls: the same inode,
    /// longer than what was read, so neither a new file nor a truncation.
    func testAFileRewrittenInPlaceWithMoreIsReadAgainFromTheStart() throws {
        let file = path("run.jsonl")
        try write(Self.header(models: ["old"], name: "first") + (1...5).map { Self.stepLine("old", $0) }.joined(), to: file)
        var before = stat()
        XCTAssertEqual(stat(file, &before), 0)
        let follower = RecordFollower(path: file, now: 0)
        follower.poll(now: 0)
        XCTAssertEqual(follower.run?.modelIDs, ["old"])
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))  // in place: no O_TRUNC, no new inode
        handle.write(Data((Self.header(models: ["new"], name: "second") + (1...300).map { Self.stepLine("new", $0) }.joined()).utf8))
        try handle.close()
        var after = stat()
        XCTAssertEqual(stat(file, &after), 0)
        XCTAssertEqual(after.st_ino, before.st_ino)
        follower.poll(now: 1)
        XCTAssertTrue(follower.takeNotices().contains { $0.contains("rewritten in place; reading it again from the start") })
        XCTAssertEqual(follower.run?.header.name, "second")
        XCTAssertEqual(follower.run?.modelIDs, ["new"])
        XCTAssertEqual(follower.run?.modelSnapshots().first?.history.steps, Array(1...300))
        XCTAssertEqual(follower.junkLines, 0)
    }

    /// The same header (a run restarted with identical settings) but other
    /// lines where the last ones read were.
    func testAFileRewrittenInPlaceUnderTheSameHeaderIsReadAgain() throws {
        let file = path("run.jsonl")
        try write(Self.header(models: ["m"]) + (1...5).map { Self.stepLine("m", $0) }.joined(), to: file)
        let follower = RecordFollower(path: file, now: 0)
        follower.poll(now: 0)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
        handle.write(Data((Self.header(models: ["m"]) + (101...140).map { Self.stepLine("m", $0) }.joined()).utf8))
        try handle.close()
        follower.poll(now: 1)
        XCTAssertEqual(follower.run?.modelSnapshots().first?.history.steps, Array(101...140))
    }

    func testAReplacedFileIsReadAgainFromTheStart() throws {
        let file = path("run.jsonl")
        try write(Self.header(models: ["old"]) + Self.stepLine("old", 1), to: file)
        let follower = RecordFollower(path: file, now: 0)
        follower.poll(now: 0)
        XCTAssertEqual(follower.run?.modelIDs, ["old"])
        // A new file renamed over the old one: a new inode, and here even a longer file.
        let replacement = path("new.tmp")
        try write(Self.header(models: ["new"]) + (1...200).map { Self.stepLine("new", $0) }.joined(), to: replacement)
        XCTAssertEqual(rename(replacement, file), 0)
        follower.poll(now: 1)
        follower.poll(now: 1)
        XCTAssertTrue(follower.takeNotices().contains { $0.contains("replaced by a new file") })
        XCTAssertEqual(follower.run?.modelIDs, ["new"])
        XCTAssertEqual(follower.run?.modelSnapshots().first?.step, 200)
    }

    func testJunkLinesAreSkippedAndCountedInTheFooter() throws {
        let file = path("run.jsonl")
        try write(Self.header(models: ["m"]) + Self.stepLine("m", 1) + "not json at all\n" + "{\"type\":\"step\",\"mod\n"
                  + Self.stepLine("m", 2) + "\u{1B}[2J\u{07}binary\n", to: file)
        let source = WatchSource(targets: [.file(file)])
        source.refresh(now: 0)
        XCTAssertEqual(source.snapshot().models.first?.step, 2)
        let controller = MonitorController(source: source, info: MonitorInfo(preset: "p", dataset: "", blasCore: ""), mode: .watch)
        var buffer = CellBuffer(width: 120, height: 40)
        controller.render(into: &buffer, glyphs: .unicode)
        XCTAssertTrue(buffer.line(39).contains("3 junk lines skipped"), buffer.line(39))
    }

    func testANewerRecordVersionIsRefusedWithAMessage() throws {
        let file = path("future.jsonl")
        try write(Self.header(version: 2) + Self.stepLine("w8-active", 1), to: file)
        let source = WatchSource(targets: [.file(file)])
        source.refresh(now: 0)
        XCTAssertEqual(source.snapshot().runs.first?.state, .refused)
        XCTAssertTrue(source.snapshot().models.isEmpty)
        let message = try XCTUnwrap(source.statusMessage())
        XCTAssertTrue(message.contains("record version 2 is not supported") && message.contains("newer spectop"), message)
        XCTAssertThrowsError(try WatchCommand.target(file)) { error in
            XCTAssertEqual((error as? CommandFailure)?.status, 2)
        }
    }

    func testABinaryFileInADirectoryIsSkippedWithAMessage() throws {
        try Data([0x7F, 0x45, 0x4C, 0x46, 0, 1, 2, 3, 10, 255]).write(to: URL(fileURLWithPath: path("core.jsonl")))
        try write(Self.header() + Self.stepLine("w8-active", 5), to: path("good.jsonl"))
        let source = WatchSource(targets: [.directory(directory)])
        source.refresh(now: 0)
        let runs = source.snapshot().runs
        XCTAssertEqual(runs.map(\.state), [.refused, .live])
        XCTAssertEqual(source.snapshot().models.map(\.id), ["good/w8-active", "good/w8-frozen"])
        XCTAssertTrue(source.statusMessage()?.contains("core.jsonl: not a spectop record") == true, source.statusMessage() ?? "nil")
    }

    func testAFIFOInADirectoryIsSkippedWithAMessageNeverRead() throws {
        XCTAssertEqual(mkfifo(path("pipe.jsonl"), 0o644), 0)
        try write(Self.header() + Self.stepLine("w8-active", 2), to: path("run.jsonl"))
        let source = WatchSource(targets: [.directory(directory)])
        source.refresh(now: 0)  // would block for ever if it opened the FIFO for reading
        XCTAssertEqual(source.snapshot().runs.map(\.state), [.refused, .live])
        XCTAssertTrue(source.statusMessage()?.contains("pipe.jsonl: not a regular file") == true, source.statusMessage() ?? "nil")
    }

    func testStaleAndFinishedRuns() throws {
        try write(Self.header() + Self.stepLine("w8-active", 10), to: path("quiet.jsonl"))
        try write(Self.header() + Self.stepLine("w8-active", 10) + RecordLines.end(reason: "steps", wall: 1) + "\n", to: path("done.jsonl"))
        let source = WatchSource(targets: [.file(path("quiet.jsonl")), .file(path("done.jsonl"))], options: .init(stale: 30))
        source.refresh(now: 0)
        XCTAssertEqual(source.snapshot().runs.map(\.state), [.live, .finished])
        source.refresh(now: 31)
        let snapshot = source.snapshot()
        XCTAssertEqual(snapshot.runs, [RunSummary(name: "quiet", state: .stale, detail: nil),
                                       RunSummary(name: "done", state: .finished, detail: "steps")])
        XCTAssertEqual(snapshot.models.map(\.status), [.stale, .stale, .finished, .finished])
        XCTAssertEqual(snapshot.state, .stopped)
        var buffer = CellBuffer(width: 120, height: 40)
        FrameRenderer.render(snapshot, info: MonitorInfo(preset: "p", dataset: "", blasCore: ""), state: MonitorState(mode: .watch), into: &buffer)
        XCTAssertTrue(buffer.line(0).contains("2 runs: 1 stale, 1 finished (steps)"), "with how the finished one ended: \(buffer.line(0))")
        XCTAssertTrue((0..<40).contains { buffer.line($0).contains("quiet/w8-active stale") })
        // It grows again: live.
        try append(Self.stepLine("w8-active", 11), to: path("quiet.jsonl"))
        source.refresh(now: 32)
        XCTAssertEqual(source.snapshot().runs.first?.state, .live)
    }

    /// Each run's `usage` lines (RECORD.md): the header shows the process of
    /// the selected model's run, or of the run shown alone, while it is live;
    /// a finished run's figures are gone with its process.
    func testTheWatchedProcessLineFollowsTheSelectedRun() throws {
        let gpu = ProcessUsage(residentBytes: 3 << 30, cpuPercent: 187.4, stepSeconds: 0.085, gpuMemoryBytes: 5 << 29, gpuUtilization: 87)
        let cpu = ProcessUsage(residentBytes: 412 << 20, cpuPercent: 99.6)
        try write(Self.header() + Self.stepLine("w8-active", 10) + RecordLines.usage(gpu, wall: 0.2) + "\n", to: path("big.jsonl"))
        try write(Self.header() + Self.stepLine("w8-active", 10) + RecordLines.usage(cpu, wall: 0.1) + "\n"
                  + RecordLines.usage(ProcessUsage(residentBytes: 500 << 20, cpuPercent: 50), wall: 0.3) + "\n", to: path("small.jsonl"))
        let source = WatchSource(targets: [.file(path("big.jsonl")), .file(path("small.jsonl"))], options: .init(stale: 30))
        source.refresh(now: 0)
        let snapshot = source.snapshot()
        XCTAssertEqual(snapshot.runs.map(\.usage), [gpu, ProcessUsage(residentBytes: 500 << 20, cpuPercent: 50)], "the latest line of each run")
        func header(_ state: MonitorState) -> String {
            var buffer = CellBuffer(width: 200, height: 40)
            FrameRenderer.render(snapshot, info: MonitorInfo(preset: "p", dataset: "", blasCore: ""), state: state, into: &buffer)
            return buffer.line(0)
        }
        var state = MonitorState(mode: .watch)
        state.selectedModelID = "big/w8-active"
        XCTAssertTrue(header(state).contains("big: 3.0G 187% CPU 85.0 ms/step GPU 2.5G 87%"), header(state))
        state.selectedModelID = "small/w8-frozen"
        XCTAssertTrue(header(state).contains("small: 500M 50% CPU"), header(state))
        XCTAssertFalse(header(state).contains("GPU"), header(state))
        state.runFilter = "big"
        XCTAssertTrue(header(state).contains("big: 3.0G"), "the run shown alone: \(header(state))")

        try append(RecordLines.end(reason: "quit", wall: 1) + "\n", to: path("big.jsonl"))
        source.refresh(now: 1)
        XCTAssertNil(source.snapshot().runs.first?.usage, "a finished run has no process to show")
        // A line without a figure, or with negative ones, is skipped; the last good one stands.
        try append("{\"type\":\"usage\",\"wall\":0.4,\"rss_bytes\":-5,\"cpu_percent\":\"high\"}\n", to: path("small.jsonl"))
        source.refresh(now: 2)
        XCTAssertEqual(source.snapshot().runs.last?.usage, ProcessUsage(residentBytes: 500 << 20, cpuPercent: 50))
    }

    /// Replay shows the writer's process as watch would have shown it at the cursor: the
    /// latest usage line written by then, none before the first, back again when scrubbed back.
    func testReplayShowsTheUsageLineLatestAtItsCursor() throws {
        let early = ProcessUsage(residentBytes: 412 << 20, cpuPercent: 99.6, stepSeconds: 0.085)
        let late = ProcessUsage(residentBytes: 3 << 30, cpuPercent: 187.4, stepSeconds: 0.09, gpuMemoryBytes: 5 << 29, gpuUtilization: 87)
        var text = Self.header(models: ["w8-active"])
        for step in stride(from: 0, through: 400, by: 10) {
            text += Self.stepLine("w8-active", step)
            if step == 100 { text += RecordLines.usage(early, wall: 1.01) + "\n" }
            if step == 300 { text += RecordLines.usage(late, wall: 3.01) + "\n" }
        }
        text += RecordLines.end(reason: "steps", wall: 4.5) + "\n"
        let record = try RunRecord.parse(Data(text.utf8), file: "r.jsonl")
        XCTAssertEqual(record.usage.map(\.at), [100, 300], "each line at the step the writer had reached")
        let replay = ReplaySource(record: record)
        replay.perform(.togglePause)
        func header(width: Int) -> String {
            var buffer = CellBuffer(width: width, height: 30)
            FrameRenderer.render(replay.snapshot(), info: MonitorInfo(preset: "", dataset: "", blasCore: ""), state: MonitorState(mode: .replay), into: &buffer)
            return buffer.line(0)
        }
        replay.perform(.jumpToStart)
        replay.perform(.scrub(by: 12))  // step 48
        XCTAssertNil(replay.snapshot().process, "no usage line before step 100")
        replay.perform(.scrub(by: 25))  // step 148
        XCTAssertEqual(replay.snapshot().process, early)
        XCTAssertTrue(header(width: 120).contains("412M 100% CPU 85.0 ms/step"), header(width: 120))
        replay.perform(.jumpToEnd)
        XCTAssertEqual(replay.snapshot().process, late)
        XCTAssertTrue(header(width: 80).contains("3.0G 187% CPU 90.0 ms/step GPU 2.5G 87%"), "kept at 80 columns: \(header(width: 80))")
        replay.perform(.jumpToStart)
        XCTAssertNil(replay.snapshot().process, "scrubbed back before the first line")
    }

    func testADirectoryThatGainsFilesMidRun() throws {
        let source = WatchSource(targets: [.directory(directory)])
        source.refresh(now: 0)
        XCTAssertTrue(source.statusMessage()?.contains("no records in") == true)
        // Empty, it is waiting, never "finished".
        XCTAssertEqual(source.snapshot().state, .running)
        let header = FrameRenderer.render(source.snapshot(), info: MonitorInfo(preset: "watch", dataset: "", blasCore: ""), state: MonitorState(mode: .watch), width: 120, height: 30)
        XCTAssertTrue(header.lines[0].contains("no records yet: waiting") && !header.lines[0].contains("finished"), header.lines[0])
        try write(Self.header() + Self.stepLine("w8-active", 1), to: path("a.jsonl"))
        try write("ignored: not a record name", to: path("notes.txt"))
        source.refresh(now: 1)
        XCTAssertEqual(source.snapshot().runs.map(\.name), ["a"])
        try write(Self.header(width: 16) + Self.stepLine("w8-active", 7), to: path("b.jsonl"))
        source.refresh(now: 2)
        XCTAssertEqual(source.snapshot().runs.map(\.name), ["a", "b"])
        XCTAssertEqual(source.snapshot().models.map(\.id), ["a/w8-active", "a/w8-frozen", "b/w8-active", "b/w8-frozen"])
        XCTAssertEqual(source.snapshot().models.map(\.run), ["a", "a", "b", "b"])
    }

    func testEightFilesOfTwoModelsAreShownTogetherAndFilteredByRun() throws {
        for run in 0..<8 {
            try write(Self.header(models: ["w\(8 << run)-active", "w\(8 << run)-frozen"], width: 8 << run) + Self.stepLine("w\(8 << run)-active", 10 + run) + Self.stepLine("w\(8 << run)-frozen", 20 + run),
                      to: path("size\(run).jsonl"))
        }
        let source = WatchSource(targets: [.directory(directory)])
        source.refresh(now: 0)
        let snapshot = source.snapshot()
        XCTAssertEqual(snapshot.models.count, 16)
        XCTAssertEqual(snapshot.runs.count, 8)
        XCTAssertEqual(Set(snapshot.models.map(\.id)).count, 16)
        let controller = MonitorController(source: source, info: MonitorInfo(preset: "p", dataset: "", blasCore: ""), mode: .watch)
        var buffer = CellBuffer(width: 200, height: 60)
        controller.render(into: &buffer, glyphs: .unicode)
        let screen = (0..<60).map(buffer.line).joined(separator: "\n")
        XCTAssertTrue(buffer.line(0).contains("8 runs: 8 live"), buffer.line(0))
        for model in snapshot.models {
            XCTAssertTrue(screen.contains(model.id), "\(model.id) is on screen")
        }
        // The grid groups by run: each run's active panel sits above its frozen one.
        let order = ModelOrder(snapshot.models)
        XCTAssertEqual(order.groups.map { $0.map { snapshot.models[$0].run } }, (0..<8).map { ["size\($0)", "size\($0)"] })
        // `r` shows one run, then the next, then all again.
        XCTAssertTrue(controller.handle(.character("r")))
        XCTAssertEqual(controller.snapshot.models.map(\.id), ["size0/w8-active", "size0/w8-frozen"])
        controller.handle(.character("r"))
        XCTAssertEqual(controller.snapshot.models.map(\.run), ["size1", "size1"])
        controller.render(into: &buffer, glyphs: .unicode)
        XCTAssertTrue(buffer.line(0).contains("run size1: live"), buffer.line(0))
        controller.handle(.character("a"))
        XCTAssertEqual(controller.snapshot.models.count, 16)
    }

    func testASweepOfOneModelPerFileReadsSmallestFirstWithoutRepeatedNames() throws {
        // The probe's example writes one record per model, named after it; alphabetical order would put w128 first.
        try write(Self.header(models: ["w128-active"], width: 128) + Self.stepLine("w128-active", 3), to: path("w128-active.jsonl"))
        try write(Self.header(models: ["w32-active"], width: 32) + Self.stepLine("w32-active", 3)
                  + RecordLines.encode(.event(kind: "freeze", model: "w32-active", step: 3, wall: 1, detail: nil)) + "\n", to: path("w32-active.jsonl"))
        let source = WatchSource(targets: [.directory(directory)])
        source.refresh(now: 0)
        let models = source.snapshot().models
        XCTAssertEqual(models.map(\.id), ["w128-active", "w32-active"], "no w32-active/w32-active")
        XCTAssertEqual(ModelOrder(models).flat.map { models[$0].id }, ["w32-active", "w128-active"])
        XCTAssertEqual(source.snapshot().marks.map(\.model), ["w32-active"], "marks name models as the panels do")
    }

    func testALongFileIsShownTailFirstThenBackFilledToTheSameState() throws {
        let file = path("long.jsonl")
        var text = Self.header(models: ["m"])
        text += RecordLines.encode(.event(kind: "diverged", model: "other", step: 3, wall: 0.1, detail: "loss is not finite")) + "\n"
        text += (1...5_000).map { Self.stepLine("m", $0) }.joined()
        try write(text, to: file)
        let tailFirst = RecordFollower(path: file, tailBytes: 16 << 10, historyCapacity: 1 << 20, now: 0)
        tailFirst.poll(now: 0)
        XCTAssertTrue(tailFirst.isBackfilling)
        let early = try XCTUnwrap(tailFirst.run?.modelSnapshots().first { $0.id == "m" })
        XCTAssertEqual(early.latest, Self.sample(5_000), "the first picture already shows the newest line")
        XCTAssertLessThan(early.history.count, 1_000, "from the tail only")
        // Lines keep arriving while the older part is read.
        try append((5_001...5_100).map { Self.stepLine("m", $0) }.joined(), to: file)
        var slices = 0
        while tailFirst.backfill(maxBytes: 32 << 10) {
            slices += 1
            tailFirst.poll(now: 1, maxBytes: 4 << 10)
        }
        XCTAssertGreaterThan(slices, 5)
        while tailFirst.poll(now: 1) {}
        _ = tailFirst.backfill()
        let whole = RecordFollower(path: file, tailBytes: 1 << 30, historyCapacity: 1 << 20, now: 0)
        whole.poll(now: 0)
        XCTAssertFalse(whole.isBackfilling)
        XCTAssertEqual(tailFirst.run?.modelSnapshots(), whole.run?.modelSnapshots())
        XCTAssertEqual(tailFirst.run?.modelSnapshots().first { $0.id == "m" }?.history.steps, Array(1...5_100))
        XCTAssertEqual(tailFirst.run?.modelSnapshots().first { $0.id == "other" }?.status, .diverged)
    }

    func testMemoryStaysBoundedForLongRecords() {
        var run = LiveRun(header: RecordHeader(version: 1), historyCapacity: 1024)
        for step in 1...200_000 { run.apply(.step(model: "m", Self.sample(step))) }
        let model = run.modelSnapshots()[0]
        XCTAssertLessThan(model.history.count, 1024)
        XCTAssertGreaterThan(model.history.count, 256)
        XCTAssertEqual(model.history.steps.first, 1)
        XCTAssertEqual(model.latest?.step, 200_000)
    }

    func testStepRateIsMeasuredOverAWindowNotTwoAdjacentLines() {
        var run = LiveRun(header: RecordHeader(version: 1))
        // 100 steps/s, but written in bursts: two lines a millisecond apart every second.
        for second in 0..<10 {
            for offset in 0..<2 {
                let step = second * 100 + offset
                run.apply(.step(model: "m", MetricSample(step: step, loss: 1, chiLoss: 1, chiNet: 1, chiPos: 0.5, gradSq: 1,
                                                          wall: Double(second) + Double(offset) * 0.001)))
            }
        }
        XCTAssertEqual(run.modelSnapshots()[0].stepsPerSecond, 100, accuracy: 5)
    }

    func testAnEstimatedChiNetIsShownAsAnEstimateWithItsError() throws {
        let file = path("probe.jsonl")
        let line = "{\"type\":\"step\",\"model\":\"gpt\",\"step\":5,\"loss\":2.5,\"chi_loss\":1,\"chi_net\":12000,\"chi_pos\":0.01,"
            + "\"grad_sq\":3,\"wall\":1,\"chi_net_estimate\":true,\"chi_net_stderr\":360}\n"
        try write("{\"type\":\"run\",\"version\":1,\"tool\":\"spectop-probe 0.1\",\"models\":[{\"id\":\"gpt\",\"params\":5000,\"trainable_params\":1200,\"trainable\":\"all\"}]}\n" + line, to: file)
        let source = WatchSource(targets: [.file(file)])
        source.refresh(now: 0)
        let model = try XCTUnwrap(source.snapshot().models.first)
        XCTAssertEqual(model.latest?.chiNetStandardError, 360)
        XCTAssertEqual(model.trainableParameterCount, 1200)
        // Replay reads the same record into the same model: trainable parameters (the compute axis), the writer.
        let record = try RunRecord.read(path: file)
        let replay = ReplaySource(record: record)
        replay.perform(.jumpToEnd)
        XCTAssertEqual(replay.snapshot().models.first?.trainableParameterCount, 1200, "replay's compute axis counts what trains, as watch's does")
        XCTAssertEqual(ReplayCommand.writer(of: record), "recorded by spectop-probe 0.1")
        var spectrumState = MonitorState(view: .spectrum, mode: .replay)
        spectrumState.selectedModelID = "gpt"
        let spectrumScreen = FrameRenderer.render(replay.snapshot(), info: MonitorInfo(preset: "p", dataset: "", blasCore: ""),
                                                  state: spectrumState, width: 120, height: 40).text
        XCTAssertTrue(spectrumScreen.contains("~1.20e4 ±3%"), "the spectrum view marks the estimate as the panels do:\n\(spectrumScreen)")
        XCTAssertEqual(NumberFormat.chiNet(model.latest), "~1.20e4 ±3%")
        var buffer = CellBuffer(width: 120, height: 40)
        for view in [ViewKind.grid, .compare] {
            var state = MonitorState(mode: .watch)
            state.view = view
            FrameRenderer.render(source.snapshot(), info: MonitorInfo(preset: "p", dataset: "", blasCore: ""), state: state, into: &buffer)
            let screen = (0..<40).map(buffer.line).joined(separator: "\n")
            XCTAssertTrue(screen.contains(view == .grid ? "~1.20e4 ±3%" : "χ_net ~±3%"), "\(view): \(screen)")
        }
    }

    /// A run that refused a model its spectrum says so in its record (the
    /// model's "spectrum" event); watching and replaying that record show the
    /// reason in the model's panel as the live monitor does, not "no spectrum yet".
    func testARefusedSpectrumShowsItsReasonInWatchAndReplay() throws {
        let reason = "top_k = 80 must be below the eNTK's m = 80 rows: no spectrum for this model"
        let text = Self.header()
            + RecordLines.encode(.event(kind: "spectrum", model: "w8-active", step: 0, wall: 0, detail: reason)) + "\n"
            + Self.stepLine("w8-active", 1) + Self.stepLine("w8-frozen", 1)
        try write(text, to: path("refused.jsonl"))
        let watched = WatchSource(targets: [.file(path("refused.jsonl"))])
        watched.refresh(now: 0)
        let replayed = ReplaySource(record: try RunRecord.read(path: path("refused.jsonl")))
        replayed.perform(.jumpToEnd)
        for (name, models) in [("watch", watched.snapshot().models), ("replay", replayed.snapshot().models)] {
            XCTAssertEqual(models.first { $0.id.hasSuffix("w8-active") }?.spectrumUnavailable, reason, name)
            XCTAssertNil(try XCTUnwrap(models.first { $0.id.hasSuffix("w8-frozen") }, name).spectrumUnavailable, name)
            var buffer = CellBuffer(width: 120, height: 40)
            FrameRenderer.render(EngineSnapshot(state: .finished, models: models, elapsed: 1, stepsPerSecond: 0, runs: []),
                                 info: MonitorInfo(preset: "p", dataset: "", blasCore: ""), state: MonitorState(mode: .watch), into: &buffer)
            let screen = (0..<40).map(buffer.line).joined(separator: "\n")
            XCTAssertTrue(screen.contains("top_k = 80 must be below"), "\(name): \(screen)")
        }
    }

    func testRecordEventsBecomeChartMarksAtTheirStep() throws {
        let text = Self.header() + Self.stepLine("w8-active", 40)
            + RecordLines.encode(.event(kind: "pause", model: nil, step: nil, wall: 1, detail: nil)) + "\n"
            + RecordLines.encode(.event(kind: "freeze", model: "w8-active", step: 41, wall: 2, detail: nil)) + "\n"
            + RecordLines.encode(.event(kind: "error", model: "w8-active", step: 42, wall: 2, detail: "x")) + "\n"
        try write(text, to: path("marks.jsonl"))
        let record = try RunRecord.read(path: path("marks.jsonl"))
        XCTAssertEqual(record.marks, [RunMark(kind: .pause, step: 40, wall: 1), RunMark(kind: .freeze, step: 41, wall: 2, model: "w8-active")])
        let source = WatchSource(targets: [.file(path("marks.jsonl"))])
        source.refresh(now: 0)
        XCTAssertEqual(source.snapshot().marks, record.marks, "watch marks the same events as replay")
    }

    // MARK: - claims on several files

    func testClaimsCombineSeveralRecordsAsOneExperiment() throws {
        try write(Self.header(name: "sweep") + Self.stepLine("w8-active", 1), to: path("a.jsonl"))
        try write(Self.header(name: "sweep") + Self.stepLine("w8-active", 2), to: path("b.jsonl"))
        try write(Self.header() + Self.stepLine("w8-active", 3), to: path("c.jsonl"))
        let combined = RunRecord.combined(try ["a", "b", "c"].map { try RunRecord.read(path: path("\($0).jsonl")) })
        XCTAssertEqual(combined.models.map(\.id), ["sweep/w8-active", "sweep/w8-frozen", "sweep#2/w8-active", "sweep#2/w8-frozen",
                                                   "c/w8-active", "c/w8-frozen"])
        XCTAssertEqual(combined.steps["sweep#2/w8-active"]?.map(\.step), [2])
        XCTAssertEqual(combined.steps["c/w8-active"]?.map(\.step), [3])
    }

    /// A sweep of one model per file (the probe example's `runs/char-gpt`):
    /// a record named after its one model keeps the plain name, as watch shows
    /// it; claims and report said `w16-active/w16-active`.
    func testCombinedRecordsNamedAfterTheirOneModelKeepThePlainName() throws {
        let oneModel = { (id: String) in Self.header(models: [id]) + Self.stepLine(id, 1) }
        try write(oneModel("w16-active"), to: path("w16-active.jsonl"))
        try write(oneModel("w64-active"), to: path("w64-active.jsonl"))
        try write(oneModel("w8-active"), to: path("other.jsonl"))
        let combined = RunRecord.combined(try ["w16-active", "w64-active", "other"].map { try RunRecord.read(path: path("\($0).jsonl")) })
        XCTAssertEqual(combined.models.map(\.id), ["w16-active", "w64-active", "other/w8-active"])
        XCTAssertEqual(combined.steps["w64-active"]?.map(\.step), [1])
        XCTAssertEqual(combined.steps["other/w8-active"]?.map(\.step), [1])
    }
}

/// Replay and watch derive a model from a record with one reducer: replay is
/// `LiveRun` fed the record up to the cursor.
final class ReplayReducerTests: XCTestCase {
    /// A two-model run with a refused spectrum, spectra, a pause, a live
    /// freeze at step 1,500, a divergence at 2,000 and a quit at step
    /// `steps` of a 10,000-step budget.
    static func text(steps: Int = 3412) -> String {
        var lines = [#"{"type":"run","version":1,"models":[{"id":"a","width":8,"depth":2,"params":100,"steps":10000,"trainable":"all","mode":"active"},{"id":"f","width":8,"depth":2,"params":100,"trainable_params":9,"steps":10000,"trainable":"readout","mode":"frozen"}]}"#]
        lines.append(RecordLines.encode(.event(kind: .noSpectrum, model: "f", step: 0, wall: 0, detail: "m too large")))
        for step in 0...steps {
            for id in ["a", "f"] where !(id == "f" && step > 2000) {
                let chiNet = id == "a" ? 100 + Double(step) * (step < 1500 ? 1 : 0.25) : 50
                lines.append(RecordLines.encode(.metrics(model: id, MetricSample(step: step, loss: 1 / Double(step + 1), chiLoss: 1, chiNet: chiNet,
                                                                                 chiPos: 0.5 / Double(step + 1), gradSq: 1, wall: Double(step) / 100))))
            }
            if step % 500 == 0 {
                let spectrum = SpectrumSample(step: step, eigenvalues: [4, 1], weights: [0.5, 0.5], chiPosExact: 0.5, lambdaEff: 2.5,
                                              rEff: 0.5 + Double(step) / 1e5, effectiveRank: 1.6,
                                              histogram: SpectrumHistogram(eigenvalues: [4, 1], weights: [0.5, 0.5], lambdaEff: 2.5))
                lines.append(RecordLines.encode(.spectrum(model: "a", spectrum)))
            }
            if step == 700 { lines.append(RecordLines.encode(.event(kind: .pause, model: nil, step: nil, wall: 7, detail: nil))) }
            if step == 1500 { lines.append(RecordLines.encode(.event(kind: .freeze, model: "a", step: 1500, wall: 15, detail: nil))) }
            if step == 2000 { lines.append(RecordLines.encode(.event(kind: .diverged, model: "f", step: 2000, wall: 20, detail: "loss is not finite"))) }
        }
        lines.append(RecordLines.end(reason: "quit", wall: Double(steps) / 100))
        return lines.joined(separator: "\n") + "\n"
    }

    /// What watch shows after reading the first `lines` body lines of `text`.
    static func watched(_ text: String, lines count: Int = .max) throws -> [ModelSnapshot] {
        let lines = text.split(separator: "\n")
        var run = LiveRun(header: try RecordHeader.decode(Data(lines[0].utf8), file: "r.jsonl"))
        for line in lines.dropFirst().prefix(count) { if let decoded = RecordLine.decode(Data(line.utf8)) { run.apply(decoded) } }
        return run.modelSnapshots()
    }

    func testReplayAtTheEndIsWhatWatchShows() throws {
        let text = Self.text()
        let replay = ReplaySource(record: try RunRecord.parse(Data(text.utf8), file: "r.jsonl"))
        replay.perform(.jumpToEnd)
        let replayed = replay.snapshot().models
        XCTAssertEqual(replayed, try Self.watched(text), "replay at its end and watch of the whole file derive the same models")
        let active = try XCTUnwrap(replayed.first { $0.id == "a" })
        XCTAssertEqual(active.stepBudget, 10000, "the budget is the header's, not the last step (a run quit at 3412 of 10000)")
        XCTAssertEqual(active.status, .ended, "a run quit at 34 % is not finished")
        let screen = FrameRenderer.render(replay.snapshot(), info: MonitorInfo(preset: "p", dataset: "", blasCore: ""),
                                          state: MonitorState(mode: .replay), width: 120, height: 40).text
        XCTAssertTrue(screen.contains("a feat.frozen quit at 34%"), "how the run ended and how far it got:\n\(screen)")
        XCTAssertFalse(screen.contains("done"), screen)
        // The curves up to the quit stay on screen (only a diverged model's are replaced by why).
        let panelRows = screen.split(separator: "\n").prefix { !$0.contains("┌f") }
        XCTAssertTrue(panelRows.contains { $0.contains("loss") } && panelRows.contains { $0.contains("step 3412/10000") }, screen)
        XCTAssertEqual(replay.statusMessage()?.hasPrefix("replay r.jsonl: step 3412 of 3412 recorded (quit at 34% of 10000), paused"), true,
                       replay.statusMessage() ?? "")
        // The same run, had it reached its budget, is done.
        let whole = Self.text(steps: 3412).replacingOccurrences(of: #""steps":10000"#, with: #""steps":3412"#)
        let done = ReplaySource(record: try RunRecord.parse(Data(whole.utf8), file: "r.jsonl"))
        done.perform(.jumpToEnd)
        XCTAssertEqual(done.snapshot().models.first { $0.id == "a" }?.status, .finished)
        XCTAssertTrue(active.featuresFrozen)
        XCTAssertEqual(try XCTUnwrap(active.amplification), (100 + 3412 * 0.25) / (100 + 1500 * 0.25), accuracy: 1e-12,
                       "after the freeze, relative to chi_net at the freeze step")
        let frozen = try XCTUnwrap(replayed.first { $0.id == "f" })
        XCTAssertEqual(frozen.status, .diverged)
        XCTAssertEqual(frozen.spectrumUnavailable, "m too large")
        XCTAssertEqual(frozen.trainableParameterCount, 9)
    }

    /// Mid-run, replay shows what watch showed when the file ended at that
    /// step, and scrubbing back from the end (through a checkpoint) lands on
    /// the same state as a fresh replay scrubbed forward.
    func testEveryCursorMatchesWatchAndScrubbingBackIsConsistent() throws {
        let text = Self.text()
        let record = try RunRecord.parse(Data(text.utf8), file: "r.jsonl")
        let body = text.split(separator: "\n").dropFirst()
        for units in [5, 30, 53, 80] {  // a unit is 1 % of the run: 34.12 steps
            let back = ReplaySource(record: record)
            back.perform(.togglePause)
            back.perform(.jumpToEnd)
            _ = back.snapshot()
            back.perform(.scrub(by: units - 100))
            let fresh = ReplaySource(record: record)
            fresh.perform(.togglePause)
            fresh.perform(.jumpToStart)
            fresh.perform(.scrub(by: units))
            let at = fresh.position
            XCTAssertEqual(back.position, at)
            XCTAssertEqual(back.snapshot().models, fresh.snapshot().models, "scrubbed back to step \(at) as a fresh replay scrubbed to it")
            // Watch, had the file ended with step `at`'s lines.
            let cut = try XCTUnwrap(body.firstIndex { $0.contains("\"step\":\(at + 1),") }) - body.startIndex
            let watched = try Self.watched(text, lines: cut)
            let replayed = fresh.snapshot().models
            XCTAssertEqual(replayed.map(\.latest), watched.map(\.latest), "at step \(at)")
            XCTAssertEqual(replayed.map(\.amplification), watched.map(\.amplification), "at step \(at)")
            XCTAssertEqual(replayed.map(\.minChiPos), watched.map(\.minChiPos), "at step \(at)")
            XCTAssertEqual(replayed.map(\.spectrum), watched.map(\.spectrum), "at step \(at)")
            XCTAssertEqual(replayed.map(\.status), watched.map(\.status), "at step \(at)")
        }
    }
}
