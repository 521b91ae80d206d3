import Foundation
import XCTest

/// Runs the built `spectop` binary as a user would, capturing its output.
public enum SpectopProcess {
    public struct Result {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The repository root, found from this file's location.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The `spectop` built next to the test bundle (debug or release).
    public static var binary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spectop")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        for configuration in ["debug", "release"] {
            let candidate = repositoryRoot.appendingPathComponent(".build/\(configuration)/spectop")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return beside
    }

    /// The release build when it is at least as new as the debug one (make
    /// test builds it first), for the long training runs; else `binary`.
    public static var fastestBinary: URL {
        let release = repositoryRoot.appendingPathComponent(".build/release/spectop")
        let debug = binary
        func modified(_ url: URL) -> Date? {
            (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
        }
        if let r = modified(release), let d = modified(debug), r >= d { return release }
        return debug
    }

    /// Runs spectop with `arguments`; `environment` entries override the
    /// inherited ones (a nil value removes the variable). Unless `environment`
    /// names XDG_DATA_HOME, it points into a scratch directory removed
    /// afterwards: a run without --out records there by default, and a test
    /// must never write into (or prune) the real ~/.local/share.
    public static func run(_ arguments: [String], environment: [String: String?] = [:], timeout: Double = 120,
                           executable: URL? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? binary
        process.arguments = arguments
        // Output goes to files, so a chatty process can never block on a full pipe.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var env = ProcessInfo.processInfo.environment
        env["XDG_DATA_HOME"] = scratch.appendingPathComponent("data").path
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        finish(process, within: timeout, "spectop \(arguments.joined(separator: " "))", file: file, line: line)
        try out.close()
        try err.close()
        let outData = (try? Data(contentsOf: outURL)) ?? Data()
        let errData = (try? Data(contentsOf: errURL)) ?? Data()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Waits for `process` at most `timeout` seconds; past that it is ended
    /// and the calling test fails, naming `what`.
    public static func finish(_ process: Process, within timeout: Double, _ what: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            XCTFail("\(what) did not finish within \(timeout) s", file: file, line: line)
        }
        process.waitUntilExit()
    }
}
