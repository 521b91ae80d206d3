import CNcurses
import Foundation

/// Measures how many bytes the monitor writes to a terminal: runs spectop in
/// a pseudo-terminal of the given size, lets it warm up, then counts the
/// bytes it writes over a window. This is what an SSH demo has to carry.
public enum TerminalThroughput {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Steady-state bytes per second written by `binary arguments` to a
    /// `width`×`height` pty after `warmup` seconds, over `window` seconds.
    public static func bytesPerSecond(binary: String, arguments: [String], width: Int = 120, height: Int = 40,
                                      warmup: Double = 3, window: Double = 10) throws -> Double {
        var name = [CChar](repeating: 0, count: 256)
        let master = spectop_open_pty(UInt16(height), UInt16(width), &name, name.count)
        guard master >= 0 else {
            throw Failure(description: "cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let slavePath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slave = FileHandle(forUpdatingAtPath: slavePath) else {
            close(master)
            throw Failure(description: "cannot open \(slavePath)")
        }
        defer { close(master) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm-256color"
        environment["LANG"] = "C.UTF-8"
        environment.removeValue(forKey: "NO_COLOR")
        process.environment = environment
        process.standardInput = slave
        process.standardOutput = slave
        process.standardError = slave
        try process.run()
        try? slave.close()

        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let start = Date()
        var counted = 0
        while Date().timeIntervalSince(start) < warmup + window {
            let n = read(master, &buffer, buffer.count)
            if n > 0 {
                if Date().timeIntervalSince(start) >= warmup { counted += n }
            } else {
                if !process.isRunning { break }
                usleep(5_000)
            }
        }
        let ranFor = Date().timeIntervalSince(start) - warmup
        // Quit like a user would, then make sure nothing is left behind.
        _ = "q".withCString { write(master, $0, 1) }
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline {
            _ = read(master, &buffer, buffer.count)
            usleep(10_000)
        }
        if process.isRunning { process.terminate() }
        guard ranFor > 1 else { throw Failure(description: "spectop exited during the warm-up") }
        return Double(counted) / ranFor
    }
}
