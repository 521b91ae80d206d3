import SpecTopReaders
import Foundation
import SpectralCore

/// Records a run as JSON Lines while it runs (docs/RECORD.md).
///
/// A background thread drains the engine's events every 100 ms and writes
/// them; the stream is flushed at least once a second and after every
/// `event` line, so `tail -f` shows progress and a killed process loses at
/// most the last second. A write failure (disk full, `ulimit -f`, file
/// removed, …) stops recording but never training: `failure` then holds the
/// message, and a regular file is cut back to its last complete line, so the
/// record never ends mid-line.
final class RunRecorder: @unchecked Sendable {
    // @unchecked: the descriptor and buffers are touched only under `lock`.
    let path: String
    private let file: UnsafeMutablePointer<FILE>
    /// Whole lines not yet written; written with write(2), not stdio, so a
    /// failed write leaves nothing buffered to be flushed half later.
    private var pending: [UInt8] = []
    /// The file's length up to its last complete line (what a failure keeps).
    private var committed: off_t = 0
    private let lock = NSLock()
    private var failed: String?
    private var closed = false
    private var lastFlush = Date()
    private var thread: Thread?
    private var stopRequested = false
    private weak var engine: Engine?
    private let done = DispatchSemaphore(value: 0)
    /// Signalled by `finish`, so the drain thread stops at once instead of
    /// after its current 100 ms pause (every quit of a recorded run waits for it).
    private let wake = DispatchSemaphore(value: 0)
    /// The process's memory and CPU for the `usage` lines (watch shows them per run).
    private let usageSampler = ProcessUsageSampler()
    private var lastUsageLine = Date.distantPast
    /// Seconds between `usage` lines: often enough for a watcher, a few bytes a second at most.
    static let usageInterval = 5.0
    /// The run created this file itself (the default record): `discard` may remove it.
    private let createdByThisRun: Bool

    /// Opens a destination checked with `RecordDestination.check` (see there
    /// for what is created, truncated or refused).
    init(_ destination: RecordDestination) throws {
        path = destination.path
        file = try destination.open()
        createdByThisRun = false
    }

    /// Writes a default record `RunsDirectory.createRecord` has just created and locked.
    init(_ record: RunsDirectory.NewRecord) {
        path = record.path
        file = record.file
        createdByThisRun = true
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
                _ = wake.wait(timeout: .now() + 0.1)
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
        var lines: [String] = []
        // The sampler needs two samples half a second apart for CPU% (the
        // first call only starts it), so the first line comes at about 0.5 s.
        if Date().timeIntervalSince(lastUsageLine) >= RunRecorder.usageInterval, let usage = usageSampler.sample() {
            lines.append(RecordLines.usage(usage, wall: engine.snapshot().elapsed))
            lastUsageLine = Date()
        }
        guard !events.isEmpty else {
            write(lines: lines, flush: false)
            return
        }
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
            wake.signal()
            done.wait()
            thread = nil
        }
        drain()
        write(lines: [endLine], flush: true)
        lock.lock()
        if !closed {
            if failed == nil && !pending.isEmpty { writePending() }
            if fclose(file) != 0 && failed == nil { failed = "cannot write the record to \(path): \(String(cString: strerror(errno)))" }
            closed = true
        }
        lock.unlock()
    }

    /// Closes and removes a record this run created whose header could not
    /// be written (a full disk at the start): an empty file records nothing.
    /// Only before `attach`; a file the user named (`--out`) is never removed.
    func discard() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        var opened = stat(), named = stat()
        // Removed while still locked, and only if the path still names it.
        if createdByThisRun, fstat(fileno(file), &opened) == 0, lstat(path, &named) == 0,
           (opened.st_mode & S_IFMT) == S_IFREG, opened.st_dev == named.st_dev, opened.st_ino == named.st_ino {
            unlink(path)
        }
        fclose(file)
        closed = true
    }

    private func write(lines: [String], flush: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard failed == nil, !closed else { return }
        for line in lines {
            pending.append(contentsOf: line.utf8)
            pending.append(10)
        }
        if flush || Date().timeIntervalSince(lastFlush) >= 1 || pending.count >= 1 << 20 {
            writePending()
            lastFlush = Date()
        }
    }

    /// Writes every pending line; on failure records why and cuts a regular
    /// file back to its last complete line (a FIFO or device cannot be cut).
    private func writePending() {
        let descriptor = fileno(file)
        var offset = 0
        while offset < pending.count {
            let written = pending.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                failed = "cannot write the record to \(path): \(String(cString: strerror(errno)))"
                // Keep the whole lines that did get out (a file-size limit
                // lets a write through up to it), and nothing of a cut one.
                let whole = pending[..<offset].lastIndex(of: 10).map { $0 + 1 } ?? 0
                var info = stat()
                if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { _ = ftruncate(descriptor, committed + off_t(whole)) }
                pending.removeAll()
                return
            }
            offset += written
        }
        committed += off_t(pending.count)
        pending.removeAll(keepingCapacity: true)
    }
}
