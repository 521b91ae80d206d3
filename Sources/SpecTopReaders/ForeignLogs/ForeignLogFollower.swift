import Foundation
import SpecTopRecord

/// What `spectop watch` follows: a spectop record (`RecordFollower`) or a
/// foreign log (`ForeignLogFollower`), each turning what was appended into a
/// `LiveRun` through the one reducer.
package protocol RunFollower: AnyObject {
    var path: String { get }
    var phase: RecordFollower.Phase { get }
    var run: LiveRun? { get }
    var junkLines: Int { get }
    var lastGrowth: Double { get }
    var isBackfilling: Bool { get }
    /// A problem that stands (damaged records skipped), for the footer.
    var standingProblem: String? { get }
    @discardableResult func poll(now: Double, maxBytes: Int) -> Bool
    @discardableResult func backfill(maxBytes: Int) -> Bool
    func takeNotices() -> [String]
}

extension RecordFollower: RunFollower {
    package var standingProblem: String? { nil }
}

/// Follows a TensorBoard log directory (or event file) or a Lightning
/// `metrics.csv` another process is writing, as `RecordFollower` follows a
/// record: polled (stat and pread, so NFS and Lustre work), each file read on
/// from where the last poll stopped, a partial record or line left for the
/// next poll, new files and model directories picked up as they appear. A
/// file replaced, truncated or rewritten in place (Lightning rewrites
/// metrics.csv when a new key appears) makes the whole log be read again.
///
/// A long file is opened tail first: the last `tailBytes` of every file (a quarter of it for an event file) give
/// the first picture at once (an event file from the first record whose
/// checksums hold there), and `backfill` reads each file from its start into
/// a second pass, which takes over once it has caught up with every file, so
/// the history ends up as a read from the start would make it.
///
/// A model's step is complete when a later step arrives; the last one is
/// shown once a poll finds its files quiet (at once on the first poll).
package final class ForeignLogFollower: RunFollower {
    private struct Pass {
        var readers: [String: ForeignFileReader] = [:]
        var translator = ForeignTranslator()
        var run: LiveRun
    }

    package let path: String
    private var log: ForeignLog
    private let isDirectory: Bool
    package private(set) var phase: RecordFollower.Phase = .waiting
    package var run: LiveRun? { current?.run }
    package var junkLines: Int { 0 }
    package private(set) var lastGrowth: Double
    package var isBackfilling: Bool { older != nil }
    package var standingProblem: String? {
        damaged == 0 ? nil : "\(damaged) damaged record\(damaged == 1 ? "" : "s") skipped in \(path) (spectop check \(path) lists them)"
    }

    private let tailBytes: Int
    private let historyCapacity: Int
    private var current: Pass?
    private var older: Pass?
    private var identities: [String: (device: UInt64, inode: UInt64, size: Int)] = [:]
    private var notices: [String] = []
    private var reportedFiles = Set<String>()
    private var damaged = 0

    package convenience init(directory: String, tailBytes: Int = 4 << 20, historyCapacity: Int = 1024, now: Double) {
        self.init(path: directory, log: ForeignLog(directory: directory), isDirectory: true,
                  tailBytes: tailBytes, historyCapacity: historyCapacity, now: now)
    }

    package convenience init(file: String, tailBytes: Int = 4 << 20, historyCapacity: Int = 1024, now: Double) {
        self.init(path: file, log: ForeignLog(file: file), isDirectory: false,
                  tailBytes: tailBytes, historyCapacity: historyCapacity, now: now)
    }

    /// The one designated initialiser: a directory is rescanned for new files at every poll, a file is not.
    private init(path: String, log: ForeignLog, isDirectory: Bool, tailBytes: Int, historyCapacity: Int, now: Double) {
        self.path = path
        self.log = log
        self.isDirectory = isDirectory
        self.tailBytes = max(1 << 10, tailBytes)
        self.historyCapacity = historyCapacity
        lastGrowth = now
    }

    package func takeNotices() -> [String] {
        defer { notices.removeAll() }
        return notices
    }

    @discardableResult
    package func poll(now: Double, maxBytes: Int = 32 << 20) -> Bool {
        if isDirectory { log.rescan() }
        guard !log.files.isEmpty else { return false }
        let firstOpen = current == nil
        if firstOpen {
            current = Pass(run: LiveRun(header: log.header, historyCapacity: historyCapacity))
            phase = .reading
        }
        var more = false
        var grew = Set<String>()
        for file in log.files {
            let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }  // removed between the listing and now; the next poll sees it
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let size = Int(info.st_size)
            let identity = (UInt64(info.st_dev), UInt64(info.st_ino), size)
            if let known = identities[file.path] {
                if known.device != identity.0 || known.inode != identity.1 || size < known.size || !headerUnchanged(file.path, descriptor) {
                    let why = size < known.size ? "truncated" : (known.inode != identity.1 ? "replaced by a new file" : "rewritten in place")
                    restart("\(file.path): \(why); reading the log again from the start")
                    return poll(now: now, maxBytes: maxBytes)
                }
            }
            identities[file.path] = identity
            if current!.readers[file.path] == nil {
                // A long file met at the first poll is read tail first; one that appears later, from its start.
                // An event file packs a step into ~100 bytes, so a quarter of a record's tail already holds
                // thousands of steps; decoding them is what the first picture waits for.
                let tail = file.kind == .tensorboard ? max(1 << 10, tailBytes / 4) : tailBytes
                let start = firstOpen && size > 2 * tail ? size - tail : 0
                current!.readers[file.path] = ForeignFileReader(path: file.path, model: file.model, kind: file.kind, start: start)
                if start > 0 && older == nil { older = Pass(run: LiveRun(header: log.header, historyCapacity: historyCapacity)) }
                if older != nil && older!.readers[file.path] == nil {
                    older!.readers[file.path] = ForeignFileReader(path: file.path, model: file.model, kind: file.kind)
                }
            }
            let reader = current!.readers[file.path]!
            let before = reader.consumedOffset
            if read(reader, into: &current!, descriptor: descriptor, size: size, maxBytes: maxBytes, reporting: true) { more = true }
            if reader.consumedOffset != before { grew.insert(file.model) }
            if file.kind == .lightningCSV && reader.csvHeaderRefused && log.files.count == 1 && !isDirectory {
                phase = .refused("\(file.path): not a Lightning metrics.csv (no \"step\" column in its header row)")
            }
        }
        if !grew.isEmpty { lastGrowth = now }
        // A model whose files were quiet this poll has logged its whole last step; at the first
        // poll every model's last step is shown at once. Values of that step that come later
        // reopen it (ForeignTranslator), so a step cut by a writer's buffer still ends whole.
        for model in log.models where firstOpen || !grew.contains(model) {
            for line in current!.translator.flush(model: model) { current!.run.apply(line) }
        }
        return more
    }

    @discardableResult
    package func backfill(maxBytes: Int = 8 << 20) -> Bool {
        guard var pass = older, let current else { return false }
        var caughtUp = true
        var budget = maxBytes
        for file in log.files {
            guard let reader = pass.readers[file.path], let target = current.readers[file.path]?.consumedOffset else { continue }
            guard reader.consumedOffset < target else { continue }
            let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0 else { continue }
            let before = reader.consumedOffset
            _ = read(reader, into: &pass, descriptor: descriptor, size: Int(info.st_size), limit: target, maxBytes: budget, reporting: false)
            budget -= reader.consumedOffset - before
            if reader.consumedOffset < target { caughtUp = false }
            if budget <= 0 { break }
        }
        if caughtUp && log.files.allSatisfy({ f in
            (pass.readers[f.path]?.consumedOffset ?? 0) >= (current.readers[f.path]?.consumedOffset ?? 0)
        }) {
            // The pass from the start has read all the tail pass has: it takes over, pending steps and all.
            self.current = pass
            older = nil
            return false
        }
        older = pass
        return true
    }

    /// Reads one file's new part into a pass; true when more is waiting.
    private func read(_ reader: ForeignFileReader, into pass: inout Pass, descriptor: Int32, size: Int, limit: Int? = nil,
                      maxBytes: Int, reporting: Bool) -> Bool {
        var lines: [RecordLine] = []
        var translator = pass.translator
        let more = reader.read(descriptor: descriptor, size: size, limit: limit, maxBytes: maxBytes, scalar: { value in
            lines += translator.add(value, model: reader.model)
        }, issue: { issue in
            guard reporting else { return }
            damaged += 1
            if reportedFiles.insert(issue.file).inserted { notices.append("\(issue.description) (further damage in this file is counted, not shown)") }
        })
        if let wall = reader.firstWall { translator.setStart(wall, model: reader.model) }
        pass.translator = translator
        for line in lines { pass.run.apply(line) }
        return more
    }

    /// Lightning rewrites metrics.csv whole when a key appears: its header row changes.
    private func headerUnchanged(_ path: String, _ descriptor: Int32) -> Bool {
        guard let header = current?.readers[path]?.csvHeaderBytes, !header.isEmpty else { return true }
        var bytes = [UInt8](repeating: 0, count: header.count)
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, header.count, 0) }
        return got == header.count && bytes == header
    }

    private func restart(_ notice: String) {
        notices.append(notice)
        current = nil
        older = nil
        identities = [:]
        reportedFiles = []
        damaged = 0
        phase = .waiting
    }
}
