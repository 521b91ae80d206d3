import Foundation
import XCTest
@testable import SpecTopApp
@testable import SpecTopReaders

/// The export key's path: a dump written from another thread while the
/// workers train, its result read back (run under the thread sanitizer by
/// `make sanitize`).
final class ExportWhileTrainingTests: XCTestCase {
    func testExportsWhileTrainingAndReportsTheResult() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = try ConfigParser.parse(try XCTUnwrap(Presets.text("tiny")), file: "tiny")
        config.training.steps = 400
        let session = try TrainingSession(try ExperimentBuilder.prepare(config, recordEvents: true), dumpDirectory: directory.path)
        session.engine.start()
        let results = ResultBox()
        let group = DispatchGroup()
        for _ in 0..<3 {
            DispatchQueue.global().async(group: group) { results.append(session.exportDump()) }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        let failures = session.finish(SessionOutcome(reason: "steps"))
        XCTAssertEqual(failures, [])
        XCTAssertEqual(results.all.count, 3)
        for result in results.all {
            XCTAssertFalse(result.failed, result.message)
            XCTAssertTrue(result.message.hasPrefix("state dump written to \(directory.path)/step-"), result.message)
        }
        // Each export has a folder of its own (never overwriting another); the final dump is DIR itself.
        let folders = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("step-") }.sorted()
        XCTAssertEqual(folders.count, 3, "\(folders)")
        for folder in folders.map({ directory.appendingPathComponent($0) }) + [directory] {
            for id in ["w8-active", "w8-frozen", "w32-active", "w32-frozen"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(id)/manifest.json").path), "\(folder.lastPathComponent)/\(id)")
            }
        }
        XCTAssertTrue(folders.allSatisfy { DumpDestination.isDumpEntry($0, in: directory.path) }, "--force may replace them")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: directory.path).contains { $0.hasPrefix(DumpDestination.partialPrefix) },
                       "every export was named when complete")
        let exports = session.engine.drainEvents().filter {
            if case .event(let kind, _, _, _, _) = $0 { return kind == "export" }
            return false
        }
        XCTAssertEqual(exports.count, 4, "three exports while training and the final one")
    }
}

private final class ResultBox: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var results: [ExportResult] = []
    func append(_ result: ExportResult) { lock.lock(); results.append(result); lock.unlock() }
    var all: [ExportResult] { lock.lock(); defer { lock.unlock() }; return results }
}
