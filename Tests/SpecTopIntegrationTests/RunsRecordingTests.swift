import XCTest
import Foundation
import TestSupport
@testable import SpecTopReaders
import SpecTopRecord

/// The release binary as a user runs it without --out: the run recorded in
/// the data directory (here a scratch XDG_DATA_HOME, never the real one),
/// the line that says where, `spectop runs`, and pruning when a run starts.
final class RunsRecordingTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-runs-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private var data: String { directory.appendingPathComponent("data").path }
    private var runs: String { data + "/spectop/runs" }

    private func spectop(_ arguments: [String], _ extra: [String: String?] = [:], timeout: Double = 120,
                         file: StaticString = #filePath, line: UInt = #line) throws -> SpectopProcess.Result {
        var environment: [String: String?] = ["XDG_DATA_HOME": data, "HOME": directory.path]
        for (key, value) in extra { environment[key] = value }
        return try SpectopProcess.run(arguments, environment: environment, timeout: timeout, executable: SpectopProcess.fastestBinary,
                                      file: file, line: line)
    }

    private func records() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).sorted()
    }

    func testAHeadlessRunIsRecordedAndSaysWhereWithTheCommandThatChecksIt() throws {
        let result = try spectop(["run", "--preset", "tiny", "--headless", "--steps", "30"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let names = records()
        XCTAssertEqual(names.count, 1, "\(names)")
        let name = try XCTUnwrap(names.first)
        XCTAssertTrue(RunsDirectory.isRecordName(name) && name.hasSuffix("-tiny.jsonl"), name)
        let record = try RunRecord.read(path: runs + "/" + name)
        XCTAssertEqual(record.preset, "tiny")
        XCTAssertEqual(record.endReason, "steps")
        XCTAssertEqual(record.steps["w32-frozen"]?.last?.step, 30)
        let shown = "~/data/spectop/runs/\(name)"
        let lastLine = result.stderr.split(separator: "\n").last.map(String.init)
        XCTAssertEqual(lastLine, "recorded to \(shown); check its claims: spectop claims \(shown)")
        // The command works as printed, `~` and all.
        let command = try XCTUnwrap(lastLine?.components(separatedBy: "check its claims: ").last)
        let claims = try ShellProcess.run("HOME='\(directory.path)'; \"$SPECTOP\"" + command.dropFirst("spectop".count) + "; echo \"status=$?\"",
                                          in: directory)
        XCTAssertTrue(claims.output.contains("status=0") && claims.output.contains("spectop claims: \(runs)/\(name) (preset tiny)"), claims.output)

        let list = try spectop(["runs"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let row = try XCTUnwrap(list.stdout.split(separator: "\n").first { $0.contains(name) }, list.stdout)
        for cell in ["tiny", "30/30", "finished", shown] { XCTAssertTrue(row.contains(cell), "\(cell) in \(row)") }
        XCTAssertTrue(list.stdout.contains("1 record, "), list.stdout)
        XCTAssertEqual(try spectop(["runs", "--paths"]).stdout, runs + "/" + name + "\n")
    }

    func testNoRecordAndOutLeaveTheRunsDirectoryAlone() throws {
        let unrecorded = try spectop(["run", "--preset", "tiny", "--headless", "--steps", "5", "--no-record"])
        XCTAssertEqual(unrecorded.status, 0, unrecorded.stderr)
        XCTAssertFalse(unrecorded.stderr.contains("recorded to"), unrecorded.stderr)
        let out = directory.appendingPathComponent("mine.jsonl").path
        let named = try spectop(["run", "--preset", "tiny", "--headless", "--steps", "5", "--out", out])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertFalse(named.stderr.contains("recorded to"), "--out says nothing new: \(named.stderr)")
        XCTAssertEqual(try RunRecord.read(path: out).endReason, "steps")
        XCTAssertFalse(FileManager.default.fileExists(atPath: data), "no default record, not even its directory")
        let both = try spectop(["run", "--preset", "tiny", "--headless", "--no-record", "--out", out + "2"])
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stderr.contains("give --out or --no-record, not both"), both.stderr)
    }

    func testAnUnusableDataDirectoryIsAWarningNotARefusal() throws {
        let file = directory.appendingPathComponent("plain-file").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let result = try spectop(["run", "--preset", "tiny", "--headless", "--steps", "5"], ["XDG_DATA_HOME": file])
        XCTAssertEqual(result.status, 0, result.stderr)
        let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("spectop: warning:") }
        XCTAssertEqual(warnings.count, 1, result.stderr)
        XCTAssertTrue(warnings.first?.contains("cannot record to \(file)/spectop/runs") == true, result.stderr)
        XCTAssertTrue(warnings.first?.hasSuffix("this run is not recorded (--out FILE records it elsewhere)") == true, result.stderr)
        XCTAssertTrue(result.stderr.contains("done in"), "the run went on: \(result.stderr)")
        XCTAssertFalse(result.stderr.contains("recorded to"), result.stderr)
    }

    /// A file-size limit (or a full disk) at the first line: the run goes on
    /// unrecorded with a warning and leaves no empty file; a failure later is
    /// --out's (LimitsAndSignalsTests).
    func testAFileSizeLimitAtTheFirstLineLeavesNoFileAndTheRunGoesOn() throws {
        // The pipe carries the output past the limit, which applies to regular files only.
        let result = try ShellProcess.run("""
            ( ulimit -f 0; XDG_DATA_HOME='\(data)' "$SPECTOP" run --preset tiny --headless --steps 5 2>&1; echo "status=$?" ) | cat
            """, in: directory, timeout: 60)
        XCTAssertTrue(result.output.contains("status=0"), result.output)
        XCTAssertTrue(result.output.contains("spectop: warning: cannot write the record to \(runs)/"), result.output)
        XCTAssertTrue(result.output.contains("File too large; this run is not recorded"), result.output)
        XCTAssertFalse(result.output.contains("recorded to"), result.output)
        XCTAssertEqual(records(), [], "no empty record and no hidden file left behind")
    }

    func testANewRunPrunesButNeverTheRecordOfARunStillGoing() throws {
        // A long run recording by default, started first.
        let live = try BackgroundSpectop(["run", "--preset", "tiny", "--headless", "--steps", "1000000"], in: directory,
                                         environment: ["XDG_DATA_HOME": data, "HOME": directory.path])
        defer { if live.process.isRunning { _ = live.signal(SIGKILL) } }
        var liveRecord: String?
        XCTAssertTrue(BackgroundSpectop.wait(timeout: 30) {
            liveRecord = self.records().first.map { self.runs + "/" + $0 }
            return liveRecord.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }?.contains("\"type\":\"step\"") == true
        }, "the background run records by default")
        let livePath = try XCTUnwrap(liveRecord)
        // Three finished records from days before.
        var old: [String] = []
        for days in [1.0, 2, 3] {
            let started = Date().addingTimeInterval(-days * 86_400)
            let path = runs + "/" + RunsDirectory.fileName(started: started, preset: "reach")
            let header = "{\"type\":\"run\",\"version\":1,\"preset\":\"reach\",\"models\":[],\"started\":\"\(ISO8601DateFormatter().string(from: started))\"}"
            try Data((header + "\n{\"type\":\"end\",\"reason\":\"steps\",\"wall\":1}\n").utf8).write(to: URL(fileURLWithPath: path))
            old.append(path)
        }
        // Keep one: the new run's own record. The live one is beyond that, and stays.
        let result = try spectop(["run", "--preset", "tiny", "--headless", "--steps", "5"], ["SPECTOP_RUNS_KEEP": "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("spectop: removed 3 old records ("), result.stderr)
        XCTAssertTrue(result.stderr.contains("which keeps the newest 1 record and at most 1 GiB (SPECTOP_RUNS_KEEP, SPECTOP_RUNS_MAX_SIZE)"), result.stderr)
        XCTAssertTrue(old.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        XCTAssertTrue(FileManager.default.fileExists(atPath: livePath), "the record of a run still going is never pruned")
        XCTAssertEqual(records().count, 2)
        XCTAssertTrue(live.process.isRunning)

        let list = try spectop(["runs"])
        let rows = list.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 4, list.stdout)  // heading, two records, footer
        XCTAssertTrue(rows[1].contains("5/5") && rows[1].contains("finished"), "newest first: \(list.stdout)")
        XCTAssertTrue(rows[2].contains("/1000000") && rows[2].contains("running"), list.stdout)

        // By hand: nothing to do while it runs; once it ended, it goes.
        let busy = try spectop(["runs", "--prune", "--keep", "1"])
        XCTAssertEqual(busy.status, 0, busy.stderr)
        XCTAssertTrue(busy.stdout.contains("kept ~/data/spectop/runs/\(PathName.base(of: livePath)): being written"), busy.stdout)
        XCTAssertTrue(busy.stdout.contains("removed 0 records"), busy.stdout)
        XCTAssertNotNil(live.signal(SIGTERM))
        XCTAssertTrue(try spectop(["runs"]).stdout.contains("signal SIGTERM at 0%"))
        let dry = try spectop(["runs", "--prune", "--keep", "1", "--dry-run"])
        XCTAssertTrue(dry.stdout.contains("would remove ~/data/spectop/runs/\(PathName.base(of: livePath))"), dry.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: livePath))
        let pruned = try spectop(["runs", "--prune", "--keep", "1"])
        XCTAssertEqual(pruned.status, 0, pruned.stderr)
        XCTAssertTrue(pruned.stdout.contains("removed 1 record ("), pruned.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: livePath))
        XCTAssertEqual(records().count, 1)
    }

    func testRunsReportsBadInputInOneLineWithStatus2() throws {
        let empty = try spectop(["runs"])
        XCTAssertEqual(empty.status, 0)
        XCTAssertEqual(empty.stdout, "no runs recorded yet (~/data/spectop/runs does not exist)\n")
        XCTAssertEqual(try spectop(["runs", "--paths"]).stdout, "")
        let file = directory.appendingPathComponent("f").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let cases: [([String], [String: String?], String)] = [
            (["runs", "--dir", file], [:], "\(file) is not a directory"),
            (["runs", "--dir", directory.appendingPathComponent("missing").path], [:], "missing: No such file or directory"),
            (["runs", "--keep", "3"], [:], "--keep applies only with --prune"),
            (["runs", "--prune", "--paths"], [:], "give --prune or --paths, not both"),
            (["runs", "--prune", "--max-size", "lots", "--dir", directory.path], [:], "--max-size must be a size such as 500M"),
            (["runs", "--prune", "--dir", directory.path], ["SPECTOP_RUNS_KEEP": "0"], "SPECTOP_RUNS_KEEP must be a number of records, at least 1"),
        ]
        for (arguments, environment, message) in cases {
            let result = try spectop(arguments, environment)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("spectop: ") && result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
        // A bad limit does not stop the list: it is a warning there.
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        try Data("{\"type\":\"run\",\"version\":1,\"models\":[]}\n".utf8).write(to: URL(fileURLWithPath: runs + "/r.jsonl"))
        let listed = try spectop(["runs"], ["SPECTOP_RUNS_MAX_SIZE": "big"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stderr.contains("warning: SPECTOP_RUNS_MAX_SIZE must be a size"), listed.stderr)
    }
}
