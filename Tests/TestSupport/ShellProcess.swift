import Foundation
import XCTest

/// Runs a shell script that starts spectop (`"$SPECTOP"`) with redirections a
/// Process cannot set up: closed descriptors, /dev/full, pipes into `head`.
public enum ShellProcess {
    public struct Result {
        public var status: Int32
        public var output: String
    }

    /// Runs `script` with `/bin/sh -c` in `directory`; stdout and stderr of
    /// the shell go to one file, which is returned. XDG_DATA_HOME points into
    /// a scratch directory outside `directory` (removed afterwards), so a run
    /// without --out records there and never into ~/.local/share; a script
    /// that sets it itself wins.
    public static func run(_ script: String, in directory: URL, executable: URL? = nil, timeout: Double = 120,
                           file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["SPECTOP"] = (executable ?? SpectopProcess.fastestBinary).path
        let dataHome = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-data-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataHome) }
        environment["XDG_DATA_HOME"] = dataHome.path
        process.environment = environment
        let outURL = directory.appendingPathComponent("shell-output-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        defer { try? FileManager.default.removeItem(at: outURL) }
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        SpectopProcess.finish(process, within: timeout, "script \(script)", file: file, line: line)
        try out.close()
        let text = String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self)
        return Result(status: process.terminationStatus, output: text)
    }
}

/// A spectop process started in the background, for signal tests.
public final class BackgroundSpectop {
    public let process = Process()
    private let errURL: URL
    /// XDG_DATA_HOME of the process (see `SpectopProcess.run`), removed with this object.
    public let dataHome = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-data-\(UUID().uuidString)")

    /// `environment` overrides the inherited variables, XDG_DATA_HOME included.
    public init(_ arguments: [String], in directory: URL, executable: URL? = nil, environment: [String: String] = [:]) throws {
        process.executableURL = executable ?? SpectopProcess.fastestBinary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(["XDG_DATA_HOME": dataHome.path]) { $1 }.merging(environment) { $1 }
        errURL = directory.appendingPathComponent("background-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit { try? FileManager.default.removeItem(at: dataHome) }

    public var stderr: String { String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self) }

    /// Waits until `condition` holds, at most `timeout` seconds.
    @discardableResult
    public static func wait(timeout: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }

    /// Sends `signal` and returns the seconds until the process was gone
    /// (nil when it outlived `timeout`, after which it is killed).
    public func signal(_ signal: Int32, timeout: Double = 10) -> Double? {
        let start = Date()
        kill(process.processIdentifier, signal)
        let ended = BackgroundSpectop.wait(timeout: timeout) { !process.isRunning }
        if !ended {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return Date().timeIntervalSince(start)
    }
}
