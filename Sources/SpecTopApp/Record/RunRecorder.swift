import Foundation
import SpectralCore

/// Records a run as JSON Lines while it runs (README, "Record format").
///
/// A background thread drains the engine's events every 100 ms and writes
/// them; the stream is flushed at least once a second and after every
/// `event` line, so `tail -f` shows progress and a killed process loses at
/// most the last second. A write failure (disk full, file removed, …) stops
/// recording but never training: `failure` then holds the message.
final class RunRecorder: @unchecked Sendable {
    // @unchecked: the FILE and buffers are touched only under `lock`.
    let path: String
    private let file: UnsafeMutablePointer<FILE>
    private let lock = NSLock()
    private var failed: String?
    private var closed = false
    private var lastFlush = Date()
    private var thread: Thread?
    private var stopRequested = false
    private weak var engine: Engine?
    private let done = DispatchSemaphore(value: 0)

    /// Opens a destination checked with `RecordDestination.check` (see there
    /// for what is created, truncated or refused).
    init(_ destination: RecordDestination) throws {
        path = destination.path
        file = try destination.open()
    }

    /// Records to `path` as `--out PATH --force` would (tests, devices).
    convenience init(path: String) throws {
        try self.init(RecordDestination.check(path, overwrite: true))
    }

    deinit {
        if !closed { fclose(file) }
    }

    /// The write error, if recording stopped.
    var failure: String? {
        lock.lock()
        defer { lock.unlock() }
        return failed
    }

    /// Writes the header line.
    func writeHeader(_ line: String) {
        write(lines: [line], flush: true)
    }

    /// Starts draining `engine` in the background.
    func attach(to engine: Engine) {
        self.engine = engine
        let thread = Thread { [self] in
            while true {
                lock.lock()
                let stop = stopRequested
                lock.unlock()
                drain()
                if stop { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            done.signal()
        }
        thread.name = "spectop-recorder"
        self.thread = thread
        thread.start()
    }

    /// Writes whatever the engine has queued.
    func drain() {
        guard let engine else { return }
        let events = engine.drainEvents()
        guard !events.isEmpty else {
            write(lines: [], flush: false)
            return
        }
        var lines: [String] = []
        var hasEvent = false
        for event in events {
            lines.append(RecordLines.encode(event))
            if case .event = event { hasEvent = true }
        }
        write(lines: lines, flush: hasEvent)
    }

    /// Stops the drain thread, writes the final lines and the `end` line, closes.
    func finish(endLine: String) {
        if thread != nil {
            lock.lock()
            stopRequested = true
            lock.unlock()
            done.wait()
            thread = nil
        }
        drain()
        write(lines: [endLine], flush: true)
        lock.lock()
        if !closed {
            if fclose(file) != 0 && failed == nil { failed = "cannot write the record to \(path): \(String(cString: strerror(errno)))" }
            closed = true
        }
        lock.unlock()
    }

    private func write(lines: [String], flush: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard failed == nil, !closed else { return }
        for line in lines {
            let text = line + "\n"
            let written = text.withCString { fputs($0, file) }
            if written < 0 {
                failed = "cannot write the record to \(path): \(String(cString: strerror(errno)))"
                return
            }
        }
        if flush || Date().timeIntervalSince(lastFlush) >= 1 {
            if fflush(file) != 0 {
                failed = "cannot write the record to \(path): \(String(cString: strerror(errno)))"
                return
            }
            lastFlush = Date()
        }
    }
}
