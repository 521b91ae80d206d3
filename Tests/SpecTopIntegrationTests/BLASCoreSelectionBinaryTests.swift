import SpecTopRecord
import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp

/// The release binary picks a non-generic OpenBLAS core on this machine (a child process).
final class BLASCoreSelectionBinaryTests: XCTestCase {
    func testTheBinaryRunsWithANonGenericCoreOnThisMachine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-blas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("r.jsonl")
        let result = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "2", "--out", out.path],
                                            environment: ["OPENBLAS_CORETYPE": nil, BLASCoreSelection.guardVariable: nil])
        XCTAssertEqual(result.status, 0, result.stderr)
        let record = try RunRecord.read(path: out.path)
        let core = try XCTUnwrap(record.blas)
        let (flags, _) = BLASCoreSelection.cpuFeatures()
        if flags.contains("avx2") {
            XCTAssertFalse(BLASCoreSelection.genericCores.contains(core.lowercased()), "child process runs on generic kernels: \(core)")
        }
        // An explicit setting is honoured as given.
        let forced = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "2", "--out", out.path, "--force"],
                                            environment: ["OPENBLAS_CORETYPE": "Prescott", BLASCoreSelection.guardVariable: nil])
        XCTAssertEqual(forced.status, 0)
        XCTAssertEqual(try RunRecord.read(path: out.path).blas, "Prescott")
    }
}
