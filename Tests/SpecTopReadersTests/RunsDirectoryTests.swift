import XCTest
import Foundation
@testable import SpecTopReaders
import SpecTopRecord

/// The default record's directory: where it is, how records are named and
/// created, how `spectop runs` reads them cheaply, and pruning.
final class RunsDirectoryTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-runs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let scratch {
            _ = chmod(scratch.path, 0o755)
            try? FileManager.default.removeItem(at: scratch)
        }
    }

    private func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    // MARK: fixtures

    static func header(preset: String = "reach", budget: Int = 100, started: String? = "2026-12-07T04:12:33Z", models: [String] = ["w8-active", "w8-frozen"]) -> String {
        let entries = models.map { "{\"id\":\"\($0)\",\"width\":8,\"depth\":1,\"params\":10,\"trainable\":\"all\",\"mode\":\"active\",\"steps\":\(budget),\"batch\":8}" }
        return "{\"type\":\"run\",\"version\":1,\"preset\":\"\(preset)\",\"models\":[\(entries.joined(separator: ","))]"
            + (started.map { ",\"started\":\"\($0)\"" } ?? "") + "}"
    }

    static func step(_ model: String, _ step: Int) -> String {
        "{\"type\":\"step\",\"model\":\"\(model)\",\"step\":\(step),\"loss\":0.5,\"chi_loss\":1,\"chi_net\":2,\"chi_pos\":0.25,\"grad_sq\":0.5,\"wall\":\(Double(step) / 10)}"
    }

    static func end(_ reason: String, detail: String? = nil) -> String {
        "{\"type\":\"end\",\"reason\":\"\(reason)\",\"wall\":1.5" + (detail.map { ",\"detail\":\"\($0)\"" } ?? "") + "}"
    }

    /// A record's text: header, `steps` steps of two models, then `tail` (the end line or a cut line).
    static func record(preset: String = "reach", budget: Int = 100, steps: Int, started: String? = "2026-12-07T04:12:33Z", tail: String = "") -> String {
        var lines = [header(preset: preset, budget: budget, started: started)]
        for s in stride(from: 0, through: steps, by: 1) { lines += [step("w8-active", s), step("w8-frozen", s)] }
        return lines.joined(separator: "\n") + "\n" + tail
    }

    @discardableResult
    private func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// Holds `file`'s lock as a writer does, from another open file description.
    private func lock(_ file: String) throws -> Int32 {
        let descriptor = open(file, O_RDWR | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        XCTAssertEqual(flock(descriptor, LOCK_EX | LOCK_NB), 0)
        return descriptor
    }

    // MARK: where

    func testTheDirectoryFollowsXDGAndFallsBackToHome() throws {
        XCTAssertEqual(try RunsDirectory.locate(environment: ["XDG_DATA_HOME": "/data/me/", "HOME": "/home/me"]).path, "/data/me/spectop/runs")
        // The XDG specification: a relative path is invalid and ignored, as is an empty one.
        XCTAssertEqual(try RunsDirectory.locate(environment: ["XDG_DATA_HOME": "rel/data", "HOME": "/home/me"]).path,
                       "/home/me/.local/share/spectop/runs")
        XCTAssertEqual(try RunsDirectory.locate(environment: ["XDG_DATA_HOME": "", "HOME": "/home/me"]).path,
                       "/home/me/.local/share/spectop/runs")
        XCTAssertEqual(try RunsDirectory.locate(environment: [:], passwdHome: { "/home/pw" }).path, "/home/pw/.local/share/spectop/runs")
        XCTAssertThrowsError(try RunsDirectory.locate(environment: ["HOME": ""], passwdHome: { nil })) { error in
            XCTAssertTrue("\(error)".contains("neither XDG_DATA_HOME nor HOME is set"), "\(error)")
        }
    }

    func testProblemsAreFoundWithoutCreatingAnything() throws {
        let deep = RunsDirectory(path: path("a/b/spectop/runs"))
        XCTAssertNil(deep.problem(), "a missing directory under a writable folder can be made")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("a")), "checking creates nothing")
        try write("file", "x")
        let underFile = RunsDirectory(path: path("file/spectop/runs"))
        XCTAssertNotNil(underFile.problem())
        XCTAssertTrue(underFile.problem()!.contains("cannot record to \(path("file/spectop/runs"))"), underFile.problem()!)
        if getuid() != 0 {  // root may write anywhere
            try FileManager.default.createDirectory(atPath: path("locked"), withIntermediateDirectories: true)
            chmod(path("locked"), 0o500)
            defer { chmod(path("locked"), 0o755) }
            XCTAssertTrue(RunsDirectory(path: path("locked/spectop/runs")).problem()?.contains("Permission denied") == true)
        }
        try deep.create()
        var info = stat()
        XCTAssertEqual(stat(deep.path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700, "XDG: data directories are made private")
        XCTAssertNil(deep.problem())
        XCTAssertThrowsError(try underFile.create())
    }

    // MARK: names

    func testNamesSayWhenAndWhichPresetAndSortByStartTime() {
        let started = Date(timeIntervalSince1970: 1_796_616_753.7)  // 2026-12-07 04:12:33.7 UTC
        XCTAssertEqual(RunsDirectory.fileName(started: started, preset: "reach"), "2026-12-07T04-12-33Z-reach.jsonl")
        XCTAssertEqual(RunsDirectory.fileName(started: started, preset: "reach", collision: 2), "2026-12-07T04-12-33Z-reach-2.jsonl")
        XCTAssertEqual(RunsDirectory.fileName(started: started, preset: "my exp/../x"), "2026-12-07T04-12-33Z-my-exp-..-x.jsonl")
        XCTAssertEqual(RunsDirectory.fileName(started: started, preset: ""), "2026-12-07T04-12-33Z-run.jsonl")
        XCTAssertEqual(RunsDirectory.fileName(started: started, preset: "χ_net\u{1B}[2J"), "2026-12-07T04-12-33Z-_net--2J.jsonl")
        XCTAssertEqual(RunsDirectory.safeName(String(repeating: "w", count: 100)).count, 40)
        let earlier = RunsDirectory.fileName(started: started.addingTimeInterval(-86_400 * 40), preset: "zzz")
        XCTAssertLessThan(earlier, RunsDirectory.fileName(started: started, preset: "aaa"), "names sort by start time")
    }

    func testOnlyTheDefaultRecordsNamesArePrunable() {
        for name in ["2026-12-07T04-12-33Z-reach.jsonl", "2026-12-07T04-12-33Z-reach-2.jsonl", "2026-12-07T04-12-33Z-run.jsonl",
                     RunsDirectory.fileName(started: Date(), preset: "lazy-rich")] {
            XCTAssertTrue(RunsDirectory.isRecordName(name), name)
        }
        for name in ["run.jsonl", "mine-2026-12-07T04-12-33Z-reach.jsonl", "2026-12-07T04-12-33Z-.jsonl", "2026-12-07T04-12-33Z-reach.jsonl.bak",
                     "2026-12-07T04:12:33Z-reach.jsonl", "2026-12-07T04-12-33-reach.jsonl", ".2026-12-07T04-12-33Z-reach.jsonl",
                     "2026-12-07T04-12-33Z-re ach.jsonl", "２026-12-07T04-12-33Z-reach.jsonl"] {
            XCTAssertFalse(RunsDirectory.isRecordName(name), name)
        }
    }

    // MARK: creating

    func testARecordIsCreatedLockedAndNeverOverAnExistingFile() throws {
        let directory = RunsDirectory(path: scratch.path)
        let started = Date(timeIntervalSince1970: 1_796_616_753)
        // A file already has the first name: it must survive untouched.
        let taken = try write(RunsDirectory.fileName(started: started, preset: "reach"), "precious\n")
        let first = try directory.createRecord(started: started, preset: "reach")
        XCTAssertEqual(PathName.base(of: first.path), "2026-12-07T04-12-33Z-reach-2.jsonl")
        XCTAssertEqual(try String(contentsOfFile: taken, encoding: .utf8), "precious\n")
        XCTAssertTrue(RecordDestination.isLocked(first.path), "locked from the moment it has its name")
        let second = try directory.createRecord(started: started, preset: "reach")
        XCTAssertEqual(PathName.base(of: second.path), "2026-12-07T04-12-33Z-reach-3.jsonl")
        fclose(first.file)
        fclose(second.file)
        XCTAssertFalse(RecordDestination.isLocked(first.path), "closing releases it")
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        XCTAssertEqual(names, ["2026-12-07T04-12-33Z-reach-2.jsonl", "2026-12-07T04-12-33Z-reach-3.jsonl", "2026-12-07T04-12-33Z-reach.jsonl"],
                       "no hidden file is left behind")
    }

    func testPathsAreShownAsAShellReadsThemBack() {
        XCTAssertEqual(RunsDirectory.display("/home/me/.local/share/spectop/runs/a.jsonl", home: "/home/me"), "~/.local/share/spectop/runs/a.jsonl")
        XCTAssertEqual(RunsDirectory.display("/home/meme/a.jsonl", home: "/home/me"), "/home/meme/a.jsonl")
        XCTAssertEqual(RunsDirectory.display("/home/me/my runs/it's.jsonl", home: "/home/me"), "~/'my runs/it'\\''s.jsonl'")
        XCTAssertEqual(RunsDirectory.display("/data/a.jsonl", home: "/"), "/data/a.jsonl")
        XCTAssertFalse(RunsDirectory.display("/tmp/\u{1B}]0;x\u{07}/a.jsonl", home: nil).contains("\u{1B}"), "never raw escapes")
    }

    // MARK: reading cheaply

    func testAFinishedRecordsHeaderAndEnd() throws {
        let file = try write("done.jsonl", Self.record(budget: 50, steps: 50, tail: Self.end("steps") + "\n"))
        let summary = RecordSummary.read(path: file)
        XCTAssertEqual(summary.header?.preset, "reach")
        XCTAssertEqual(summary.latestStep, 50)
        XCTAssertEqual(summary.stepBudget, 50)
        XCTAssertEqual(summary.state, .ended(reason: "steps", detail: nil))
        XCTAssertEqual(summary.endDescription, "finished")
        XCTAssertEqual(summary.started, Date(timeIntervalSince1970: 1_796_616_753))
        XCTAssertFalse(summary.isLocked)
    }

    func testAQuitOrSignalledRecordSaysHowFarItGot() throws {
        let quit = RecordSummary.read(path: try write("quit.jsonl", Self.record(budget: 200, steps: 34, tail: Self.end("quit") + "\n")))
        XCTAssertEqual(quit.endDescription, "quit at 17%")
        let signal = RecordSummary.read(path: try write("sig.jsonl", Self.record(budget: 200, steps: 80, tail: Self.end("signal", detail: "SIGINT") + "\n")))
        XCTAssertEqual(signal.endDescription, "signal SIGINT at 40%")
        let probe = RecordSummary.read(path: try write("probe.jsonl", Self.record(budget: 0, steps: 3, tail: Self.end("closed") + "\n")))
        XCTAssertEqual(probe.endDescription, "closed")
        XCTAssertNil(probe.stepBudget, "a budget of 0 is unknown, not 0")
    }

    func testARecordCutOffMidLineByAKilledWriter() throws {
        // The last line is half written and nobody holds the lock: the writer died.
        let file = try write("cut.jsonl", Self.record(budget: 100, steps: 20, tail: "{\"type\":\"step\",\"model\":\"w8-active\",\"step\":21,\"lo"))
        let summary = RecordSummary.read(path: file)
        XCTAssertEqual(summary.state, .cutOff)
        XCTAssertEqual(summary.latestStep, 20, "only complete lines count")
        XCTAssertEqual(summary.endDescription, "cut off at 20%")
    }

    func testARecordStillBeingWritten() throws {
        let file = try write("live.jsonl", Self.record(budget: 100, steps: 7, tail: "{\"type\":\"spectrum\",\"model\""))
        let descriptor = try lock(file)
        defer { close(descriptor) }
        let summary = RecordSummary.read(path: file)
        XCTAssertTrue(summary.isLocked)
        XCTAssertEqual(summary.state, .running)
        XCTAssertEqual(summary.endDescription, "running")
        XCTAssertEqual(summary.latestStep, 7)
        // One whose header is not even complete yet.
        let starting = try write("starting.jsonl", "{\"type\":\"run\",\"vers")
        let startingLock = try lock(starting)
        defer { close(startingLock) }
        XCTAssertEqual(RecordSummary.read(path: starting).endDescription, "starting")
        XCTAssertNil(RecordSummary.read(path: starting).header)
    }

    func testTheTailIsReadFromTheEndNotTheWholeFile() throws {
        // Several windows of step lines, then one line longer than the first
        // window (a large spectrum), then the end: the window must grow to
        // find the end line and the last step before it.
        var text = Self.record(budget: 100_000, steps: 3000)
        let eigenvalues = (0..<20_000).map { _ in "0.123456789" }.joined(separator: ",")
        text += "{\"type\":\"spectrum\",\"model\":\"w8-active\",\"step\":3001,\"eigenvalues\":[\(eigenvalues)],\"weights\":[\(eigenvalues)]}\n"
        text += Self.end("quit") + "\n"
        XCTAssertGreaterThan(text.utf8.count, 4 * RecordSummary.tailWindow)
        let summary = RecordSummary.read(path: try write("long.jsonl", text))
        XCTAssertEqual(summary.state, .ended(reason: "quit", detail: nil))
        XCTAssertEqual(summary.latestStep, 3001)
        XCTAssertEqual(summary.endDescription, "quit at 3%")
    }

    func testFilesThatAreNoRecordSayWhy() throws {
        XCTAssertEqual(RecordSummary.read(path: try write("empty.jsonl", "")).problem, "empty file")
        let junk = RecordSummary.read(path: try write("junk.jsonl", "hello\nworld\n"))
        XCTAssertNil(junk.header)
        XCTAssertTrue(junk.problem?.contains("not a spectop record") == true, junk.problem ?? "")
        XCTAssertEqual(junk.endDescription, "unreadable")
        let newer = RecordSummary.read(path: try write("v9.jsonl", Self.header().replacingOccurrences(of: "\"version\":1", with: "\"version\":9") + "\n"))
        XCTAssertTrue(newer.problem?.contains("version 9") == true, newer.problem ?? "")
        XCTAssertTrue(RecordSummary.read(path: path("missing.jsonl")).problem?.contains("No such file") == true)
    }

    func testTheListIsNewestFirstAndSkipsWhatIsNoRecordFile() throws {
        try write("b.jsonl", Self.record(steps: 1, started: "2026-12-07T04:00:00Z", tail: Self.end("steps") + "\n"))
        try write("a.jsonl", Self.record(steps: 1, started: "2026-12-08T04:00:00Z", tail: Self.end("steps") + "\n"))
        try write("c.jsonl", Self.record(steps: 1, started: "2026-12-06T04:00:00.250Z", tail: Self.end("steps") + "\n"))
        try write(".hidden.jsonl", Self.record(steps: 1))
        try write("notes.txt", "x")
        try FileManager.default.createDirectory(atPath: path("sub.jsonl"), withIntermediateDirectories: true)
        let listed = try RunsPruning.list(scratch.path).map { PathName.base(of: $0.path) }
        XCTAssertEqual(listed, ["a.jsonl", "b.jsonl", "c.jsonl"])
        XCTAssertThrowsError(try RunsPruning.list(path("nope")))
    }

    func testTheTableShowsOneRowPerRecordWithThePathLast() throws {
        let file = try write("2026-12-07T04-12-33Z-reach.jsonl", Self.record(budget: 200, steps: 34, tail: Self.end("quit") + "\n"))
        let table = RunsCommand.table([RecordSummary.read(path: file)], home: scratch.path)
        let rows = table.split(separator: "\n")
        XCTAssertEqual(rows.count, 2)
        XCTAssertTrue(rows[0].hasPrefix("DATE") && rows[0].hasSuffix("PATH"), String(rows[0]))
        for cell in ["reach", "34/200", "quit at 17%", "~/2026-12-07T04-12-33Z-reach.jsonl"] {
            XCTAssertTrue(rows[1].contains(cell), "\(cell) in \(rows[1])")
        }
        XCTAssertTrue(rows[1].hasSuffix("~/2026-12-07T04-12-33Z-reach.jsonl"))
    }

    // MARK: pruning

    private func candidate(_ name: String, size: Int64 = 10, daysAgo: Double, live: Bool = false) -> RunsPruning.Candidate {
        RunsPruning.Candidate(path: "/r/" + name, size: size, date: Date(timeIntervalSince1970: 1_800_000_000 - daysAgo * 86_400), live: live)
    }

    func testThePlanKeepsTheNewestThatFitAndRemovesTheRestOldestFirst() {
        let records = (0..<6).map { candidate("r\($0)", daysAgo: Double($0)) }.shuffled()
        let plan = RunsPruning.plan(records, limits: PruneLimits(keep: 4, maxBytes: nil))
        XCTAssertEqual(plan.remove.map(\.path), ["/r/r5", "/r/r4"])
        XCTAssertEqual(RunsPruning.plan(records, limits: PruneLimits(keep: 6, maxBytes: nil)).remove, [])
        XCTAssertEqual(RunsPruning.plan(records, limits: PruneLimits(keep: nil, maxBytes: nil)).remove, [])
        // 25 bytes fit two records of 10: the third does not.
        XCTAssertEqual(RunsPruning.plan(records, limits: PruneLimits(keep: nil, maxBytes: 25)).remove.map(\.path), ["/r/r5", "/r/r4", "/r/r3", "/r/r2"])
    }

    func testRunsStartedInTheSameSecondAreOrderedByTheirSuffix() {
        // Start times are to the second: the collision suffix says which came later.
        let second = Date(timeIntervalSince1970: 1_796_616_753)
        let names = ["2026-12-07T04-12-33Z-tiny-10.jsonl", "2026-12-07T04-12-33Z-tiny.jsonl", "2026-12-07T04-12-33Z-tiny-2.jsonl",
                     "2026-12-07T04-12-33Z-tiny-3.jsonl"]
        let newestFirst = names.map { candidate($0, daysAgo: 0) }.map { RunsPruning.Candidate(path: $0.path, size: 1, date: second, live: false) }
            .sorted { RunsPruning.isNewer($0.date, $0.path, than: $1.date, $1.path) }.map { PathName.base(of: $0.path) }
        XCTAssertEqual(newestFirst, ["2026-12-07T04-12-33Z-tiny-10.jsonl", "2026-12-07T04-12-33Z-tiny-3.jsonl",
                                     "2026-12-07T04-12-33Z-tiny-2.jsonl", "2026-12-07T04-12-33Z-tiny.jsonl"])
        // A preset whose name ends in a number: its own collisions still count.
        XCTAssertTrue(RunsPruning.isNewer(second, "/r/2026-12-07T04-12-33Z-exp-2-2.jsonl", than: second, "/r/2026-12-07T04-12-33Z-exp-2.jsonl"))
        XCTAssertFalse(RunsPruning.isNewer(second, "/r/2026-12-07T04-12-33Z-exp-2.jsonl", than: second, "/r/2026-12-07T04-12-33Z-exp-2-2.jsonl"))
        // Keeping one keeps the later of two runs of the same second, whichever is live.
        let plan = RunsPruning.plan([RunsPruning.Candidate(path: "/r/2026-12-07T04-12-33Z-tiny.jsonl", size: 1, date: second, live: true),
                                     RunsPruning.Candidate(path: "/r/2026-12-07T04-12-33Z-tiny-2.jsonl", size: 1, date: second, live: false)],
                                    limits: PruneLimits(keep: 1, maxBytes: nil))
        XCTAssertEqual(plan.remove, [])
        XCTAssertEqual(plan.liveBeyondLimits.map(\.path), ["/r/2026-12-07T04-12-33Z-tiny.jsonl"])
    }

    func testThePlanLeavesNoHolesAndAlwaysKeepsTheNewest() {
        // A big record in the middle: once it does not fit, nothing older is
        // kept, not even the small ones that would (what is kept is the newest stretch).
        let records = [candidate("new", size: 10, daysAgo: 0), candidate("big", size: 100, daysAgo: 1),
                       candidate("small", size: 1, daysAgo: 2)]
        XCTAssertEqual(RunsPruning.plan(records, limits: PruneLimits(keep: nil, maxBytes: 50)).remove.map(\.path), ["/r/small", "/r/big"])
        // The newest alone beyond the size cap is still kept: pruning never empties the directory.
        let huge = [candidate("huge", size: 1 << 40, daysAgo: 0), candidate("old", size: 1, daysAgo: 3)]
        XCTAssertEqual(RunsPruning.plan(huge, limits: PruneLimits(keep: 5, maxBytes: 1 << 20)).remove.map(\.path), ["/r/old"])
    }

    func testThePlanNeverRemovesALiveRecordButCountsIt() {
        // The oldest is being written (a long run started weeks ago): kept,
        // and its size counts, so the limit removes older finished ones around it.
        let records = [candidate("a", daysAgo: 0), candidate("b", daysAgo: 1), candidate("live", daysAgo: 9, live: true),
                       candidate("c", daysAgo: 2), candidate("d", daysAgo: 3)]
        let plan = RunsPruning.plan(records, limits: PruneLimits(keep: 2, maxBytes: nil))
        XCTAssertEqual(plan.remove.map(\.path), ["/r/d", "/r/c"])
        XCTAssertEqual(plan.liveBeyondLimits.map(\.path), ["/r/live"])
        let newestLive = [candidate("now", daysAgo: 0, live: true), candidate("x", daysAgo: 1), candidate("y", daysAgo: 2)]
        XCTAssertEqual(RunsPruning.plan(newestLive, limits: PruneLimits(keep: 2, maxBytes: nil)).remove.map(\.path), ["/r/y"])
    }

    private func recordFile(daysAgo: Int, size: Int = 0, preset: String = "reach",
                            base: Date = Date(timeIntervalSince1970: 1_796_616_753)) throws -> String {
        let started = base.addingTimeInterval(-Double(daysAgo) * 86_400)
        let stamp = ISO8601DateFormatter().string(from: started)
        var text = Self.record(steps: 2, started: stamp, tail: Self.end("steps") + "\n")
        if size > text.utf8.count { text += String(repeating: " ", count: size - text.utf8.count - 1) + "\n" }
        return try write(RunsDirectory.fileName(started: started, preset: preset), text)
    }

    func testPruningOnDiskKeepsTheNewestTheLiveAndWhatItDidNotName() throws {
        let files = try (0..<5).map { try recordFile(daysAgo: $0) }
        let mine = try write("mine.jsonl", Self.record(steps: 1, started: "2020-01-01T00:00:00Z", tail: Self.end("steps") + "\n"))
        let holder = try lock(files[4])  // the oldest is being written
        defer { close(holder) }
        let dry = try RunsPruning.prune(scratch.path, limits: PruneLimits(keep: 2, maxBytes: nil), dryRun: true)
        XCTAssertEqual(dry.removed.map(\.path), [files[3], files[2]])
        XCTAssertTrue(files.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "a dry run removes nothing")
        let result = try RunsPruning.prune(scratch.path, limits: PruneLimits(keep: 2, maxBytes: nil))
        XCTAssertEqual(result.removed.map(\.path), [files[3], files[2]])
        XCTAssertEqual(result.keptLive.map(\.path), [files[4]])
        XCTAssertEqual(result.keptCount, 3)
        XCTAssertEqual(result.failures, [])
        for (index, file) in files.enumerated() {
            XCTAssertEqual(FileManager.default.fileExists(atPath: file), ![2, 3].contains(index), PathName.base(of: file))
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: mine), "a file spectop did not name is never pruned")
    }

    func testPruningBySizeAndAYoungEmptyFileWhoseWriterHasNotLockedItYet() throws {
        // Records that started later than the empty file was made (their
        // clock ahead), so the empty one is not simply the newest, always kept.
        let ahead = Date().addingTimeInterval(365 * 86_400)
        let newest = try recordFile(daysAgo: 0, size: 4000, base: ahead)
        let middle = try recordFile(daysAgo: 1, size: 4000, base: ahead)
        let old = try recordFile(daysAgo: 2, size: 4000, base: ahead)
        // Empty and just made: on a file system without hard links its writer
        // creates it and locks it a moment later.
        let fresh = try write(RunsDirectory.fileName(started: Date(), preset: "x"), "")
        let result = try RunsPruning.prune(scratch.path, limits: PruneLimits(keep: nil, maxBytes: 6000))
        XCTAssertEqual(Set(result.removed.map(\.path)), [middle, old])
        XCTAssertEqual(result.keptLive.map(\.path), [fresh])
        XCTAssertTrue(FileManager.default.fileExists(atPath: newest))
        XCTAssertTrue(FileManager.default.fileExists(atPath: fresh))
        // An hour later the same empty file is a leftover, and goes.
        let later = try RunsPruning.prune(scratch.path, limits: PruneLimits(keep: 1, maxBytes: nil), now: Date().addingTimeInterval(3600))
        XCTAssertEqual(later.removed.map(\.path), [fresh])
    }

    func testARecordThatBecameLiveAfterThePlanIsKept() throws {
        let file = try recordFile(daysAgo: 3)
        let holder = try lock(file)
        XCTAssertEqual(RunsPruning.removeRecord(file), .live)
        close(holder)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
        XCTAssertEqual(RunsPruning.removeRecord(file), .removed)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
    }

    // MARK: limits

    func testLimitsFromTheEnvironmentAndTheirErrors() throws {
        XCTAssertEqual(try PruneLimits.from(environment: [:]), PruneLimits(keep: 200, maxBytes: 1 << 30))
        XCTAssertEqual(try PruneLimits.from(environment: ["SPECTOP_RUNS_KEEP": "50", "SPECTOP_RUNS_MAX_SIZE": "500M"]),
                       PruneLimits(keep: 50, maxBytes: 500 << 20))
        XCTAssertEqual(try PruneLimits.from(environment: ["SPECTOP_RUNS_KEEP": "unlimited", "SPECTOP_RUNS_MAX_SIZE": "Unlimited"]),
                       PruneLimits(keep: nil, maxBytes: nil))
        for (text, bytes) in [("1G", Int64(1) << 30), ("1.5GiB", Int64(3) << 29), ("800k", Int64(800 << 10)), ("4096", Int64(4096)),
                              ("2TB", Int64(2) << 40), (" 10M ", Int64(10 << 20))] {
            XCTAssertEqual(try PruneLimits.size(text, name: "x"), bytes, text)
        }
        for bad in ["0", "-1", "1X", "G", "", "nan", "1e30"] {
            XCTAssertThrowsError(try PruneLimits.size(bad, name: "SPECTOP_RUNS_MAX_SIZE"), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("SPECTOP_RUNS_MAX_SIZE must be a size"), "\(error)")
            }
        }
        for bad in ["0", "-3", "2.5", "many"] {
            XCTAssertThrowsError(try PruneLimits.count(bad, name: "SPECTOP_RUNS_KEEP"), bad)
        }
        XCTAssertThrowsError(try PruneLimits.from(environment: ["SPECTOP_RUNS_KEEP": "abc"])) { error in
            XCTAssertTrue("\(error)".contains("SPECTOP_RUNS_KEEP") && "\(error)".contains("'abc'"), "\(error)")
        }
        XCTAssertEqual(PruneLimits.defaults.description, "the newest 200 records and at most 1 GiB")
        XCTAssertEqual(ByteCount.text(1536), "1.5 KiB")
        XCTAssertEqual(ByteCount.text(999), "999 B")
    }
}
