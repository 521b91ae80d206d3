import Foundation
import XCTest
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord
import ArgumentParser

/// The record a run gets without `--out`: made in the runs directory as
/// `--out` writes one, never at the cost of the run, pruning old ones.
final class DefaultRecordTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-default-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    private var runs: String { scratch.appendingPathComponent("data/spectop/runs").path }
    private var environment: [String: String] { ["XDG_DATA_HOME": scratch.appendingPathComponent("data").path, "HOME": scratch.path] }

    private func session(steps: Int) throws -> TrainingSession {
        var config = try ConfigParser.parse(try XCTUnwrap(Presets.text("tiny")), file: "tiny")
        config.training.steps = steps
        return try TrainingSession(try ExperimentBuilder.prepare(config, workers: 1, recordEvents: true), dumpDirectory: nil)
    }

    private func train(_ session: TrainingSession) {
        session.engine.start()
        XCTAssertTrue(session.engine.waitUntilFinished(timeout: 60))
    }

    func testThePlanChecksTheDirectoryAndCreatesNothing() throws {
        let planned = try XCTUnwrap(DefaultRecord.plan(environment: environment))
        XCTAssertEqual(planned.directory.path, runs)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("data").path), "a run that fails to start writes nothing")
        try Data("x".utf8).write(to: scratch.appendingPathComponent("file"))
        XCTAssertNil(DefaultRecord.plan(environment: ["XDG_DATA_HOME": scratch.appendingPathComponent("file").path]),
                     "a data directory under a file: the run goes on unrecorded")
    }

    func testARunWithoutOutIsRecordedInTheRunsDirectoryAsOutRecordsIt() throws {
        let session = try session(steps: 12)
        let started = Date()
        let planned = try XCTUnwrap(DefaultRecord.plan(environment: environment))
        let recorder = try XCTUnwrap(planned.open(preset: "tiny", started: started))
        XCTAssertNil(session.startDefaultRecording(to: recorder, started: started))
        XCTAssertTrue(RecordDestination.isLocked(recorder.path), "held as --out holds its record")
        train(session)
        XCTAssertEqual(session.finish(SessionOutcome(reason: "steps")), [])
        XCTAssertEqual(recorder.path, runs + "/" + RunsDirectory.fileName(started: started, preset: "tiny"))
        let record = try RunRecord.read(path: recorder.path)
        XCTAssertEqual(record.preset, "tiny")
        XCTAssertEqual(record.endReason, "steps")
        XCTAssertEqual(Set(record.steps.keys), ["w8-active", "w8-frozen", "w32-active", "w32-frozen"])
        XCTAssertEqual(record.steps["w8-active"]?.last?.step, 12)
        let header = try RecordHeader.decode(Data(try String(contentsOfFile: recorder.path, encoding: .utf8).prefix { $0 != "\n" }.utf8), file: "r")
        XCTAssertEqual(header.started.flatMap(RecordSummary.parseDate).map { $0.timeIntervalSince1970.rounded(.down) },
                       started.timeIntervalSince1970.rounded(.down), "the header and the name give the same start")
        XCTAssertEqual(RecordValidator.validate(try Data(contentsOf: URL(fileURLWithPath: recorder.path))).filter { !$0.isNote }.map(\.message), [],
                       "it follows the record specification")
        XCTAssertFalse(RecordDestination.isLocked(recorder.path))
    }

    func testAHeaderThatCannotBeWrittenLeavesNoFileAndTheRunGoesOnUnrecorded() throws {
        let session = try session(steps: 5)
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        // A descriptor that refuses every write: a full disk or a file-size limit at the first line.
        let path = runs + "/" + RunsDirectory.fileName(started: Date(), preset: "tiny")
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let file = try XCTUnwrap(fdopen(open(path, O_RDONLY | O_CLOEXEC), "r"))
        let failure = session.startDefaultRecording(to: RunRecorder(RunsDirectory.NewRecord(path: path, file: file)), started: Date())
        XCTAssertTrue(failure?.hasPrefix("cannot write the record to \(path)") == true, failure ?? "no failure")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the empty file is removed")
        XCTAssertNil(session.recorder)
        train(session)
        XCTAssertEqual(session.engine.drainEvents().count, 0, "no event queued for a recorder that is not there")
        XCTAssertEqual(session.finish(SessionOutcome(reason: "steps")), [], "the run ends as an unrecorded one does")
    }

    func testDiscardNeverRemovesAFileTheUserNamed() throws {
        let named = scratch.appendingPathComponent("mine.jsonl").path
        let recorder = try RunRecorder(path: named)
        recorder.discard()
        XCTAssertTrue(FileManager.default.fileExists(atPath: named), "only the default record, which the run made, is ever removed")
    }

    func testANewRunPrunesOldRecordsButNeverALiveOneNorItsOwn() throws {
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        func old(_ daysAgo: Double) throws -> String {
            let started = Date().addingTimeInterval(-daysAgo * 86_400)
            let path = runs + "/" + RunsDirectory.fileName(started: started, preset: "reach")
            let header = "{\"type\":\"run\",\"version\":1,\"preset\":\"reach\",\"models\":[],\"started\":\"\(ISO8601DateFormatter().string(from: started))\"}"
            try Data((header + "\n{\"type\":\"end\",\"reason\":\"quit\",\"wall\":1}\n").utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let records = try [1.0, 2, 3, 4].map(old)
        // The oldest is a long run still being written by another process.
        let live = open(records[3], O_RDWR | O_CLOEXEC)
        XCTAssertEqual(flock(live, LOCK_EX | LOCK_NB), 0)
        defer { close(live) }
        var settings = environment
        settings["SPECTOP_RUNS_KEEP"] = "2"
        let planned = try XCTUnwrap(DefaultRecord.plan(environment: settings))
        let recorder = try XCTUnwrap(planned.open(preset: "tiny", started: Date()))
        defer { recorder.finish(endLine: RecordLines.end(reason: "quit", wall: 0)) }
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: runs).map { runs + "/" + $0 })
        XCTAssertEqual(left, [recorder.path, records[0], records[3]], "its own, the newest old one, and the live one")
    }

    func testABadLimitPrunesNothing() throws {
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        let old = runs + "/" + RunsDirectory.fileName(started: Date(timeIntervalSince1970: 1_700_000_000), preset: "reach")
        try Data("{\"type\":\"run\",\"version\":1,\"models\":[]}\n".utf8).write(to: URL(fileURLWithPath: old))
        var settings = environment
        settings["SPECTOP_RUNS_KEEP"] = "1O"  // a typo must not cost a record
        let recorder = try XCTUnwrap(try XCTUnwrap(DefaultRecord.plan(environment: settings)).open(preset: "tiny", started: Date()))
        defer { recorder.finish(endLine: RecordLines.end(reason: "quit", wall: 0)) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: old))
    }

    func testTheExitLineNamesTheRecordAndTheCommandThatChecksIt() {
        XCTAssertEqual(DefaultRecord.exitLine(path: "/home/me/.local/share/spectop/runs/2026-12-07T04-12-33Z-reach.jsonl", home: "/home/me"),
                       "recorded to ~/.local/share/spectop/runs/2026-12-07T04-12-33Z-reach.jsonl; "
                       + "check its claims: spectop claims ~/.local/share/spectop/runs/2026-12-07T04-12-33Z-reach.jsonl")
        XCTAssertEqual(DefaultRecord.exitLine(path: "/data/my runs/x.jsonl", home: "/home/me"),
                       "recorded to '/data/my runs/x.jsonl'; check its claims: spectop claims '/data/my runs/x.jsonl'")
    }

    func testNoRecordAndOutExcludeEachOther() throws {
        XCTAssertThrowsError(try RunCommand.parse(["--no-record", "--out", "x.jsonl"])) { error in
            XCTAssertTrue(RunCommand.message(for: error).contains("give --out or --no-record, not both"), RunCommand.message(for: error))
        }
        XCTAssertTrue(try RunCommand.parse(["--no-record", "--headless"]).noRecord)
    }
}
