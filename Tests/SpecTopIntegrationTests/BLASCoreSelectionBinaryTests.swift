import SpecTopRecord
import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders

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

    /// After the start-up re-exec the process still calls itself spectop (ps,
    /// top and pkill find it by that name) and runs with the thread timeout,
    /// unless the user set one.
    func testTheReexecutedProcessKeepsItsNameAndGetsTheThreadTimeout() throws {
        for (given, expected) in [(nil, "20"), ("24", "24")] as [(String?, String)] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-blas-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let out = dir.appendingPathComponent("r.jsonl")
            let process = Process()
            process.executableURL = SpectopProcess.binary
            process.arguments = ["run", "--preset", "tiny", "--headless", "--steps", "1000000", "--out", out.path]
            var env = ProcessInfo.processInfo.environment
            env[BLASCoreSelection.guardVariable] = nil
            env["OPENBLAS_THREAD_TIMEOUT"] = given
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() }; process.waitUntilExit() }
            // The record's first step line is written after the re-exec.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, !((try? String(contentsOf: out, encoding: .utf8))?.contains("\"type\":\"step\"") ?? false) {
                Thread.sleep(forTimeInterval: 0.05)
            }
            let pid = process.processIdentifier
            let comm = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
            XCTAssertEqual(comm.trimmingCharacters(in: .whitespacesAndNewlines), "spectop")
            let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            XCTAssertTrue(variables.contains("OPENBLAS_THREAD_TIMEOUT=\(expected)"), "given \(given ?? "nothing")")
        }
    }
}
