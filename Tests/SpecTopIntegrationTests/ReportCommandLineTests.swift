import XCTest
import Foundation
import TestSupport

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
