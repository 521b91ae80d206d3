import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

/// The default demo must show the paper's findings: shortened `reach` runs
/// for three seeds and a shortened `digits` run, headless, checked with the
/// same evaluator as `spectop claims` (docs/CLAIMS-STUDY.md).
final class ReproductionTests: XCTestCase {
    private func claims(preset: String, seed: Int, steps: Int, file: StaticString = #filePath, line: UInt = #line) throws -> ClaimsReport {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-repro-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("\(preset)-\(seed).jsonl")
        let result = try SpectopProcess.run(["run", "--preset", preset, "--headless", "--seed", "\(seed)", "--steps", "\(steps)", "--out", out.path],
                                            timeout: 900, executable: SpectopProcess.fastestBinary, file: file, line: line)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        let record = try RunRecord.read(path: out.path)
        XCTAssertEqual(record.endReason, "steps", file: file, line: line)
        return ClaimsEvaluator.evaluate(record)
    }

    private func assertHold(_ report: ClaimsReport, _ claims: [Int], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        for n in claims {
            let row = report.rows[n - 1]
            XCTAssertEqual(row.verdict, .holds, "\(label) claim \(n) (\(row.title)): \(row.details)", file: file, line: line)
        }
    }

    func testShortReachRunsShowTheClaimsForThreeSeeds() throws {
        for seed in [1, 2, 3] {
            let report = try claims(preset: "reach", seed: seed, steps: Self.reachSteps)
            assertHold(report, [1, 2, 3, 4, 5], "reach seed \(seed)")
        }
    }

    func testShortDigitsRunShowsClaimsOneTwoAndFour() throws {
        let report = try claims(preset: "digits", seed: 1, steps: Self.digitsSteps)
        assertHold(report, [1, 2, 4], "digits")
    }

    static let reachSteps = 600
    static let digitsSteps = 300
}
