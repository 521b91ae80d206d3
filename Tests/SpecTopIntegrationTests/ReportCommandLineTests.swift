import XCTest
import Foundation
import TestSupport
import SpecTopRecord

/// `spectop report` from a shell: what it writes where, and its one-line
/// errors with status 2 (the unit tests check every message in-process).
final class ReportCommandLineTests: XCTestCase {
    private func scratch() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-report-cli-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private var fixture: String { SpectopProcess.repositoryRoot.appendingPathComponent("Tests/Fixtures/probe-record.jsonl").path }

    func testTheReportGoesToItsFileOrToStdoutAndSaysWhatItWrote() throws {
        let dir = scratch()
        let html = dir.appendingPathComponent("report.html").path
        let result = try SpectopProcess.run(["report", fixture, "-o", html])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let kib = (page.utf8.count + 1023) / 1024
        XCTAssertEqual(result.stderr, "spectop: wrote the report of 6 models to \(html) (\(kib) KiB)\n")
        // The page depends on the record alone: to stdout it is the same bytes.
        let piped = try SpectopProcess.run(["report", fixture, "--output", "-"])
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(piped.stdout, page)
        let help = try SpectopProcess.run(["--help"])
        XCTAssertTrue(help.stdout.contains("report"), help.stdout)
    }

    /// The engine's header says how many parameters each model trains, so
    /// compute (6·N·D) counts a frozen model's readout only.
    func testAnEngineRecordGivesTheComputeOfWhatEachModelTrains() throws {
        let dir = scratch()
        let record = dir.appendingPathComponent("tiny.jsonl").path
        let run = try SpectopProcess.run(["run", "--preset", "tiny", "--steps", "20", "--headless", "--out", record], timeout: 300,
                                         executable: SpectopProcess.fastestBinary)
        XCTAssertEqual(run.status, 0, run.stderr)
        let models = try RunRecord.read(path: record).models
        XCTAssertFalse(models.isEmpty)
        for model in models {
            // The readout of a one-output model: width weights and a bias.
            let expected = model.mode == .frozen ? model.width + 1 : model.parameterCount
            XCTAssertEqual(model.trainableParameterCount, expected, model.id)
            XCTAssertEqual(TrainingCompute.flopsPerStep(model), 6 * Double(expected) * Double(model.batchSize), model.id)
        }
        let html = dir.appendingPathComponent("tiny.html").path
        let report = try SpectopProcess.run(["report", record, "-o", html])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(try String(contentsOfFile: html, encoding: .utf8).contains("training compute 6·N·D (FLOPs)"))
    }

    func testBadInputsAreOneLineWithStatusTwo() throws {
        let dir = scratch()
        let existing = dir.appendingPathComponent("existing.html").path
        try "keep me".write(toFile: existing, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["report", dir.appendingPathComponent("missing.jsonl").path, "-o", dir.appendingPathComponent("a.html").path], "no such file"),
            (["report", fixture, "-o", dir.appendingPathComponent("no/dir/a.html").path], "cannot write the report to"),
            (["report", fixture, "-o", existing], "already exists; pass --force"),
            (["report", fixture], "--output"),
            (["report", "-o", dir.appendingPathComponent("a.html").path], "paths"),
        ]
        for (arguments, expected) in cases {
            let result = try SpectopProcess.run(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("spectop: ") && result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(arguments): \(result.stderr)")
        }
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "keep me")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["existing.html"], "nothing else written")
    }
}
