import SpecTopApp
import SpecTopReaders
import CNcurses
import Foundation

/// spectop started in a pseudo-terminal of a given size, as a user's
/// terminal would run it: for the benchmarks that need the monitor itself.
final class PseudoTerminalProcess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let process = Process()
    /// The terminal side: what the monitor writes is read here, keys are written here.
    let master: Int32
    private var scratch = [UInt8](repeating: 0, count: 1 << 16)

    init(binary: String, arguments: [String], width: Int = 120, height: Int = 40, environment extra: [String: String] = [:]) throws {
        var name = [CChar](repeating: 0, count: 256)
        master = spectop_open_pty(UInt16(height), UInt16(width), &name, name.count)
        guard master >= 0 else {
            throw Failure(description: "cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let slavePath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // O_NOCTTY: a bench that leads its own session (setsid, CI, cron) would
        // otherwise make this terminal its own and get its SIGHUP when the child exits.
        let slaveDescriptor = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slaveDescriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            close(master)
            throw Failure(description: "cannot open \(slavePath): \(reason)")
        }
        let slave = FileHandle(fileDescriptor: slaveDescriptor, closeOnDealloc: true)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm-256color"
        environment["LANG"] = "C.UTF-8"
        environment.removeValue(forKey: "NO_COLOR")
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardInput = slave
        process.standardOutput = slave
        process.standardError = slave
        do { try process.run() } catch {
            close(master)
            throw Failure(description: "cannot start \(binary): \(error)")
        }
        try? slave.close()
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        if process.isRunning { process.terminate() }
        close(master)
    }

    /// Reads what the monitor wrote since the last call (0 when nothing).
    @discardableResult
    func drain() -> Int {
        var total = 0
        while true {
            let n = read(master, &scratch, scratch.count)
            guard n > 0 else { return total }
            total += n
        }
    }

    /// What the monitor wrote since the last call, as bytes (empty when nothing).
    func output() -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let n = Glibc.read(master, &scratch, scratch.count)
            guard n > 0 else { return bytes }
            bytes += scratch[0..<n]
        }
    }

    /// Types `text` as a user would.
    func type(_ text: String) {
        _ = text.withCString { write(master, $0, strlen($0)) }
    }

    /// Waits (draining output so the monitor never blocks) until the process
    /// ended or `timeout` passed; true when it ended.
    func waitForExit(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            drain()
            usleep(2_000)
        }
        return !process.isRunning
    }

    /// Keeps the terminal drained for `seconds`.
    func run(for seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && process.isRunning {
            drain()
            usleep(5_000)
        }
    }
}
