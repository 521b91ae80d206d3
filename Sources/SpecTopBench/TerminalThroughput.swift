import SpecTopApp
import SpecTopReaders
import Foundation

/// Measures how many bytes the monitor writes to a terminal: runs spectop in
/// a pseudo-terminal of the given size, lets it warm up, then counts the
/// bytes it writes over a window. This is what an SSH demo has to carry.
enum TerminalThroughput {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Steady-state bytes per second written by `binary arguments` to a
    /// `width`×`height` pty after `warmup` seconds, over `window` seconds.
    static func bytesPerSecond(binary: String, arguments: [String], width: Int = 120, height: Int = 40,
                                      warmup: Double = 3, window: Double = 10) throws -> Double {
        let terminal: PseudoTerminalProcess
        do { terminal = try PseudoTerminalProcess(binary: binary, arguments: arguments, width: width, height: height) } catch {
            throw Failure(description: "\(error)")
        }
        let start = Date()
        var counted = 0
        while Date().timeIntervalSince(start) < warmup + window {
            let n = terminal.drain()
            if n > 0 {
                if Date().timeIntervalSince(start) >= warmup { counted += n }
            } else {
                if !terminal.process.isRunning { break }
                usleep(5_000)
            }
        }
        let ranFor = Date().timeIntervalSince(start) - warmup
        // Quit like a user would, then make sure nothing is left behind.
        terminal.type("q")
        if !terminal.waitForExit(timeout: 3) { terminal.process.terminate() }
        guard ranFor > 1 else { throw Failure(description: "spectop exited during the warm-up") }
        return Double(counted) / ranFor
    }
}
