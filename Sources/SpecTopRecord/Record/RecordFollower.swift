import Foundation

/// Follows one record file that another process is writing (`spectop watch`).
///
/// Poll-based on purpose: inotify sees nothing written from another NFS or
/// Lustre node, but a `stat` and a `pread` from the last offset always work.
/// Each `poll` reads what was appended, applies complete lines to a bounded
/// `LiveRun` and keeps a partial last line until its newline arrives. A file
/// replaced (new inode), truncated (shorter than the read offset) or rewritten
/// in place (same inode, longer, but its header or the bytes before the read
/// offset changed: `cp bigger.jsonl watched.jsonl`) is read again from the
/// start, with a notice. Lines that are not JSON are counted and
/// skipped, never fatal.
///
/// A long existing file is opened tail first: the last `tailBytes` give the
/// first picture at once, and `backfill` reads the older part afterwards into
/// a second `LiveRun`, which replaces the first once it has caught up with
/// every line the first one applied, so history, reach and amplification end
/// up exactly as if the file had been read from its start.
///
/// Not thread-safe: one thread polls; others read `LiveRun` copies it publishes.
public final class RecordFollower {
    public enum Phase: Equatable, Sendable {
        /// No file yet, or no complete header line.
        case waiting
        /// Being read.
        case reading
        /// Not a record this spectop can show; says why. Retried when the file is replaced or truncated.
        case refused(String)
    }

    public let path: String
    public private(set) var phase: Phase = .waiting
    /// The run as read so far (nil until the header has been read).
    public private(set) var run: LiveRun?
    /// Complete lines that were no JSON object, skipped.
    public private(set) var junkLines = 0
    /// When the file last grew (or was first opened), on the caller's clock.
    public private(set) var lastGrowth: Double
    /// True while the older part of a tail-first open is still being read.
    public var isBackfilling: Bool { older != nil }

    private let tailBytes: Int
    private let historyCapacity: Int
    private var descriptor: Int32 = -1
    private var identity: (device: UInt64, inode: UInt64)?
    private var knownSize = 0
    private var reader = LineReader(offset: 0)
    private var older: (reader: LineReader, run: LiveRun, junk: Int)?
    private var headerEnd = 0
    /// The header line as read, and the bytes just before the read offset:
    /// what must still be there when the file grows, else it was rewritten.
    private var headerBytes: [UInt8] = []
    private var lastBytes: (offset: Int, bytes: [UInt8]) = (0, [])
    private var notices: [String] = []
    private var reportedRemoval = false
    private var reportedAccess = false

    /// - Parameters:
    ///   - tailBytes: how much of the end of a long file is read first (the rest is back-filled).
    ///   - historyCapacity: points of chart history kept per model (`MetricHistory`).
    public init(path: String, tailBytes: Int = 4 << 20, historyCapacity: Int = 1024, now: Double) {
        self.path = path
        self.tailBytes = max(1 << 10, tailBytes)
        self.historyCapacity = historyCapacity
        self.lastGrowth = now
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Messages since the last call (a replaced or truncated file, a refusal).
    public func takeNotices() -> [String] {
        defer { notices.removeAll() }
        return notices
    }

    /// Reads what was appended since the last poll, at most `maxBytes`.
    /// Returns true when more is waiting (call again without sleeping).
    @discardableResult
    public func poll(now: Double, maxBytes: Int = 32 << 20) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            if error == ENOENT || error == ENOTDIR {
                if identity != nil && !reportedRemoval {
                    reportedRemoval = true
                    notices.append("\(path): removed; showing what was read")
                }
            } else if !reportedAccess {
                reportedAccess = true
                notices.append("\(path): \(String(cString: strerror(error)))")
            }
            return false
        }
        reportedRemoval = false
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            refuse("not a regular file (a FIFO, device or directory), so not a record to follow")
            return false
        }
        let id = (UInt64(info.st_dev), UInt64(info.st_ino))
        if let identity, identity != id {
            restart(because: "replaced by a new file")
        }
        let size = Int(info.st_size)
        if identity != nil && size < knownSize {
            restart(because: "truncated")
        }
        let firstOpen = identity == nil
        if firstOpen, case .refused = phase { phase = .waiting }  // it was no regular file; now it is
        // Open for this poll only: a watch of hundreds of files must not hold a
        // descriptor each (`ulimit -n`), and the terminal needs some too.
        guard openDescriptor(expecting: id) else { return false }
        defer { closeDescriptor() }
        if firstOpen {
            identity = id
            lastGrowth = now
        }
        if size > knownSize {
            lastGrowth = now
            if run != nil && !prefixUnchanged() {
                restart(because: "rewritten in place")
                return poll(now: now, maxBytes: maxBytes)
            }
        }
        knownSize = size
        if case .refused = phase { return false }
        if run == nil {
            guard readHeader(size: size) else { return false }
        }
        var lines: [Data] = []
        let more = reader.read(descriptor, upTo: size, maxBytes: maxBytes, into: &lines)
        apply(lines, to: &run!, junk: &junkLines)
        rememberLastBytes()
        return more
    }

    /// How many bytes before the read offset are compared on growth.
    private static let comparedTail = 64

    private func rememberLastBytes() {
        let end = reader.consumedOffset
        let start = max(headerEnd, end - Self.comparedTail)
        lastBytes = (start, readBytes(at: start, count: end - start) ?? [])
    }

    /// True when the header and the last bytes read are still what they were.
    private func prefixUnchanged() -> Bool {
        guard readBytes(at: 0, count: headerBytes.count) == headerBytes else { return false }
        return lastBytes.bytes.isEmpty || readBytes(at: lastBytes.offset, count: lastBytes.bytes.count) == lastBytes.bytes
    }

    private func readBytes(at offset: Int, count: Int) -> [UInt8]? {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        return got == count ? buffer : nil
    }

    /// Reads up to `maxBytes` of the older part of a tail-first open.
    /// Returns true while there is more to read.
    @discardableResult
    public func backfill(maxBytes: Int = 8 << 20) -> Bool {
        guard var older, let identity, openDescriptor(expecting: identity) else { return false }
        defer { closeDescriptor() }
        self.older = nil
        // Catch up with every line the tail reader has applied, then take over.
        let target = reader.consumedOffset
        var lines: [Data] = []
        _ = older.reader.read(descriptor, upTo: target, maxBytes: maxBytes, into: &lines)
        apply(lines, to: &older.run, junk: &older.junk)
        if older.reader.consumedOffset >= target {
            run = older.run
            junkLines = older.junk
            return false
        }
        self.older = older
        return true
    }

    private func apply(_ lines: [Data], to run: inout LiveRun, junk: inout Int) {
        for line in lines where !line.isEmpty {
            if let decoded = RecordLine.decode(line) { run.apply(decoded) } else { junk += 1 }
        }
    }

    /// Reads the first line; false while it is incomplete or when the file is refused.
    private func readHeader(size: Int) -> Bool {
        var head = Data()
        var offset = 0
        let chunk = 1 << 16
        while offset < size {
            var buffer = [UInt8](repeating: 0, count: min(chunk, size - offset))
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
            guard got > 0 else { return false }
            if offset == 0 && buffer[0] != UInt8(ascii: "{") {
                refuse("not a spectop record (it does not start with a JSON object; binary or other data)")
                return false
            }
            if let newline = buffer[0..<got].firstIndex(of: 10) {
                head.append(contentsOf: buffer[0..<newline])
                offset += newline + 1
                do {
                    let header = try RecordHeader.decode(head, file: path)
                    run = LiveRun(header: header, historyCapacity: historyCapacity)
                    phase = .reading
                    headerEnd = offset
                    headerBytes = Array(head) + [10]
                    startReading(size: size)
                    return true
                } catch let error as RecordError {
                    refuse(error.description, named: false)
                    return false
                } catch {
                    refuse("\(error)")
                    return false
                }
            }
            head.append(contentsOf: buffer[0..<got])
            offset += got
            if head.count > RunRecord.maxLineBytes {
                refuse("not a spectop record (its first line is longer than \(RunRecord.maxLineBytes >> 20) MiB)")
                return false
            }
        }
        return false  // the header is not complete yet
    }

    private func startReading(size: Int) {
        let body = size - headerEnd
        if body > 2 * tailBytes, let header = run?.header {
            // Tail first: the newest lines now, the older ones by `backfill`.
            reader = LineReader(offset: size - tailBytes, skippingToNewline: true)
            older = (LineReader(offset: headerEnd), LiveRun(header: header, historyCapacity: historyCapacity), 0)
        } else {
            reader = LineReader(offset: headerEnd)
        }
    }

    /// Opens the file for one poll; false (with a notice, once) when it cannot
    /// be read, or when it is no longer the file `stat` just saw.
    private func openDescriptor(expecting id: (UInt64, UInt64)) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if !reportedAccess {
                reportedAccess = true
                let reason = errno == EMFILE ? "too many open files; raise ulimit -n" : String(cString: strerror(errno))
                notices.append("\(path): cannot read it (\(reason))")
            }
            return false
        }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_dev) == id.0, UInt64(info.st_ino) == id.1 else {
            close(fd)  // replaced between the two calls: the next poll sees the new file
            return false
        }
        reportedAccess = false
        descriptor = fd
        return true
    }

    private func closeDescriptor() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    private func refuse(_ reason: String, named: Bool = true) {
        let message = named ? "\(path): \(reason)" : reason
        if phase != .refused(message) {
            phase = .refused(message)
            notices.append(message)
        }
    }

    private func restart(because reason: String) {
        notices.append("\(path): \(reason); reading it again from the start")
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        identity = nil
        knownSize = 0
        run = nil
        older = nil
        junkLines = 0
        phase = .waiting
        reader = LineReader(offset: 0)
        headerBytes = []
        lastBytes = (0, [])
    }
}

/// Splits a growing file into complete lines, from a byte offset on: JSONL
/// records here, and the readers' line-based foreign logs (Lightning's CSV).
package struct LineReader {
    /// The next byte to read.
    package private(set) var readOffset: Int
    /// Bytes of an incomplete last line.
    private var pending: [UInt8] = []
    /// Discard up to the next newline (the tail reader starts mid-line; an overlong line is skipped).
    private var skipping: Bool
    private let maxLineBytes: Int

    package init(offset: Int, skippingToNewline: Bool = false, maxLineBytes: Int = RunRecord.maxLineBytes) {
        readOffset = offset
        skipping = skippingToNewline
        self.maxLineBytes = maxLineBytes
    }

    /// The offset just past the last complete line handed out.
    package var consumedOffset: Int { skipping ? readOffset : readOffset - pending.count }

    /// Reads from `readOffset` up to `limit` (at most `maxBytes`), appending complete lines; a
    /// line over the length limit becomes a one-byte placeholder, which is no JSON, so the
    /// caller counts it as junk. Returns true when it stopped before `limit` because of `maxBytes`.
    mutating func read(_ fd: Int32, upTo limit: Int, maxBytes: Int, into lines: inout [Data]) -> Bool {
        read(fd, upTo: limit, maxBytes: maxBytes, line: { bytes, _ in lines.append(Data(bytes)) },
             overlong: { _ in lines.append(Data([0])) })
    }

    /// Reads from `readOffset` up to `limit` (at most `maxBytes`), handing each complete line
    /// (without its newline) and the offset it starts at to `line`, and the offset of a line dropped for its length (it
    /// resynchronises at the next newline) to `overlong`. Returns true when it stopped before
    /// `limit` because of `maxBytes`.
    package mutating func read(_ fd: Int32, upTo limit: Int, maxBytes: Int, line: (ArraySlice<UInt8>, Int) -> Void,
                               overlong: (Int) -> Void) -> Bool {
        var budget = maxBytes
        var buffer = [UInt8](repeating: 0, count: min(1 << 20, max(1, maxBytes)))
        while readOffset < limit && budget > 0 {
            let want = min(buffer.count, limit - readOffset, budget)
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(readOffset)) }
            guard got > 0 else { return false }
            let base = readOffset
            readOffset += got
            budget -= got
            var start = 0
            while let newline = buffer[start..<got].firstIndex(of: 10) {
                if skipping {
                    skipping = false
                } else if pending.isEmpty {
                    line(buffer[start..<newline], base + start)
                } else {
                    let lineStart = base + start - pending.count
                    pending.append(contentsOf: buffer[start..<newline])
                    line(pending[...], lineStart)
                    pending.removeAll(keepingCapacity: true)
                }
                start = newline + 1
            }
            if !skipping && start < got {
                pending.append(contentsOf: buffer[start..<got])
                if pending.count > maxLineBytes {
                    overlong(readOffset - pending.count)
                    pending.removeAll()
                    skipping = true
                }
            }
        }
        return readOffset < limit && budget <= 0
    }

    /// The bytes after the last newline, handed out once (a last line without its newline, in a
    /// file that will not grow); nil when there are none or they belong to a skipped line.
    package mutating func takeUnfinishedLine() -> [UInt8]? {
        guard !skipping, !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return pending
    }
}
