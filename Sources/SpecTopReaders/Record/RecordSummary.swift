import Foundation
import SpecTopRecord

/// What `spectop runs` says of one record, read cheaply: the header line and
/// the last lines only, never the whole file (a long run's record is hundreds
/// of megabytes, and the list reads every record in the directory).
package struct RecordSummary: Sendable, Equatable {
    /// How the record ends, from its last complete line and its lock.
    package enum State: Sendable, Equatable {
        /// An `end` line: why the run ended, and the detail (the signal's name).
        case ended(reason: String, detail: String?)
        /// No `end` line and a writer holds the lock: the run is going on.
        case running
        /// No `end` line and no writer: the writer was killed (SIGKILL, a
        /// crash, a power cut) before it could end the record.
        case cutOff
    }

    package var path: String
    package var size: Int64
    package var modified: Date
    /// Nil when the first line is no readable header (`problem` says why).
    package var header: RecordHeader?
    package var problem: String?
    /// The header's `started`, when it has a readable one.
    package var started: Date?
    /// The furthest step any model reached among the last lines, nil when
    /// they hold no step yet.
    package var latestStep: Int?
    /// Another process holds the record's lock (`RecordDestination`): it is being written.
    package var isLocked: Bool
    package var state: State

    /// The largest step budget the header gives a model.
    package var stepBudget: Int? { header?.models.map(\.stepBudget).filter { $0 > 0 }.max() }

    /// What the list sorts by: the start time, else the file's last change.
    package var date: Date { started ?? modified }

    /// How far the run got, when the budget and a step are known: `17` for 17%.
    package var percentDone: Int? {
        guard let budget = stepBudget, let latestStep else { return nil }
        return Int(min(100, (100 * Double(latestStep) / Double(budget)).rounded(.down)))
    }

    /// The list's end column: `finished`, `quit at 17%`, `signal SIGINT at 40%`,
    /// `running`, `cut off at 3%` (see `State`), the probe's own reasons as written.
    package var endDescription: String {
        if header == nil { return isLocked ? "starting" : "unreadable" }
        let stopped = percentDone.map { $0 < 100 ? " at \($0)%" : "" } ?? ""
        switch state {
        case .running: return "running"
        case .cutOff: return "cut off" + stopped
        case .ended(let reason, let detail):
            switch reason {
            case "steps": return "finished"
            case "signal": return "signal" + (detail.map { " " + $0 } ?? "") + stopped
            case "quit", "error": return reason + stopped
            default: return reason
            }
        }
    }

    /// The bytes read from each end of a record at first; more only when
    /// they hold no complete line or no step (a spectrum line can be larger).
    package static let tailWindow = 64 << 10

    /// Reads `path`'s header and, with `tail`, its last lines. Never throws:
    /// a file that is no record is summarised with its `problem`.
    package static func read(path: String, tail: Bool = true) -> RecordSummary {
        var summary = RecordSummary(path: path, size: 0, modified: Date(timeIntervalSince1970: 0), header: nil, problem: nil,
                                    started: nil, latestStep: nil, isLocked: false, state: .cutOff)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            summary.problem = "cannot read it: \(String(cString: strerror(errno)))"
            return summary
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            summary.problem = "not a regular file"
            return summary
        }
        summary.size = Int64(info.st_size)
        summary.modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
        // The lock a writer holds (exclusive): a shared one is refused while it
        // does. Not probed on an empty file: an `--out` writer that has just
        // created it and is about to lock it would find this probe's lock and
        // refuse to start.
        if info.st_size > 0 {
            if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
                flock(descriptor, LOCK_UN)
            } else {
                summary.isLocked = errno == EWOULDBLOCK
            }
        }
        summary.state = summary.isLocked ? .running : .cutOff
        let size = Int(info.st_size)
        guard let (headerBytes, bodyStart) = firstLine(descriptor, size: size) else {
            summary.problem = size == 0 ? "empty file" : "no complete first line"
            return summary
        }
        do {
            summary.header = try RecordHeader.decode(headerBytes, file: PathName.base(of: path))
        } catch {
            summary.problem = "\(error)"
            return summary
        }
        summary.started = summary.header?.started.flatMap(parseDate)
        if tail { readTail(descriptor, from: bodyStart, to: size, into: &summary) }
        return summary
    }

    /// The first line without its newline, and where the next begins; nil
    /// when the file has no complete first line (yet).
    private static func firstLine(_ descriptor: Int32, size: Int) -> (Data, Int)? {
        var bytes = Data()
        while bytes.count < min(size, RunRecord.maxLineBytes + 1) {
            let chunk = read(descriptor, at: bytes.count, count: min(tailWindow, size - bytes.count))
            guard !chunk.isEmpty else { break }
            if let newline = chunk.firstIndex(of: 10) {
                bytes.append(chunk[chunk.startIndex..<newline])
                return (bytes, bytes.count + 1)
            }
            bytes.append(chunk)
        }
        return nil
    }

    /// The last complete line says how the record ends; the step lines just
    /// before it how far it got. The window grows from the end (×4 each time)
    /// until it holds a complete line and a step, or reaches the header.
    private static func readTail(_ descriptor: Int32, from bodyStart: Int, to end: Int, into summary: inout RecordSummary) {
        var window = tailWindow
        while true {
            let start = max(bodyStart, end - window)
            let bytes = read(descriptor, at: start, count: end - start)
            var lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
            // After the last newline: a line still being written, or cut by a killed writer.
            if !lines.isEmpty { lines.removeLast() }
            // Before the first newline: the end of a line that began earlier.
            if start > bodyStart && !lines.isEmpty { lines.removeFirst() }
            let complete = lines.filter { !$0.isEmpty }
            if let last = complete.last, case .end(let reason, _, let detail)? = RecordLine.decode(Data(last)) {
                summary.state = .ended(reason: reason ?? "end", detail: detail)
            }
            var latest: Int?
            for line in complete {
                switch RecordLine.decode(Data(line)) {
                case .step(_, let sample)?: latest = max(latest ?? sample.step, sample.step)
                case .spectrum(_, let sample)?: latest = max(latest ?? sample.step, sample.step)
                default: break
                }
            }
            if let latest { summary.latestStep = latest }
            if latest != nil || start == bodyStart || window >= RunRecord.maxLineBytes { return }
            window *= 4
        }
    }

    private static func read(_ descriptor: Int32, at offset: Int, count: Int) -> Data {
        guard count > 0 else { return Data() }
        var data = Data(count: count)
        var filled = 0
        while filled < count {
            let got = data.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + filled, count - filled, off_t(offset + filled)) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            filled += got
        }
        return data.prefix(filled)
    }

    /// ISO 8601 as the engine (`2026-12-07T04:12:33Z`) and the probe write
    /// it, fractional seconds and offsets accepted.
    package static func parseDate(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

extension PathName {
    /// The last component of `path`: `a/b.jsonl` → `b.jsonl`.
    package static func base(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed.split(separator: "/").last.map(String.init) ?? String(trimmed)
    }
}
