import Foundation
import SpecTopRecord

/// The two foreign log formats spectop reads.
package enum ForeignLogKind: String, Sendable { case tensorboard = "TensorBoard", lightningCSV = "Lightning CSV" }

/// Reads one foreign log file (an event file or a metrics.csv) from a byte
/// offset on, as far as it goes, each call picking up where the last one
/// stopped: the same code reads a whole file (`replay`, `claims`, `export`,
/// `check`) and follows a growing one (`watch`). A partial record or line at
/// the end is left for the next call. The file is opened for each call only.
final class ForeignFileReader {
    let path: String
    let model: String
    let kind: ForeignLogKind
    private var events: TFRecordReader
    private var csv = LightningCSV()
    /// CSV: its lines from a byte offset on (a line over 1 MiB is no Lightning row).
    private var csvLines: LineReader
    /// CSV: the header row's bytes, to see a file rewritten with new columns (Lightning does that).
    private(set) var csvHeaderBytes: [UInt8] = []
    private var lineNumber = 0
    /// The wall time of the file's first event (`brain.Event:2`), where counting starts.
    private(set) var firstWall: Double?
    /// Records decoded, scalars read.
    private(set) var recordCount = 0
    private(set) var scalarCount = 0
    /// Tags of values that are no scalar, said once.
    private(set) var otherTags: [String] = []
    private var otherTagSet = Set<String>()

    /// `start` > 0 opens a long file tail first: an event file is read from
    /// the first record found at or after it, a CSV from the line after it
    /// (its header row is read first all the same).
    init(path: String, model: String, kind: ForeignLogKind, start: Int = 0) {
        self.path = path
        self.model = model
        self.kind = kind
        events = TFRecordReader(offset: start, resynchronising: start > 0)
        csvLines = LineReader(offset: start, skippingToNewline: start > 0, maxLineBytes: 1 << 20)
    }

    /// The offset up to which everything has been read (records or lines complete).
    var consumedOffset: Int { kind == .tensorboard ? events.offset : csvLines.consumedOffset }

    /// Reads what the file holds beyond the last call, up to `limit` (the file's size by default),
    /// about `maxBytes` at most. Returns true when more is waiting.
    func read(descriptor: Int32, size: Int, limit: Int? = nil, maxBytes: Int = .max,
              scalar: (ForeignScalar) -> Void, issue: (ForeignLogIssue) -> Void) -> Bool {
        let end = min(size, limit ?? size)
        switch kind {
        case .tensorboard:
            let window = FileWindow(descriptor: descriptor)
            if firstWall == nil, let first = firstEventWall(window, size: size) { firstWall = first }
            return events.read(window, size: end, maxBytes: maxBytes) { item in
                switch item {
                case .issue(let offset, let message):
                    issue(ForeignLogIssue(file: path, location: "byte \(offset)", message: message))
                case .record(let offset, let data):
                    guard let event = TensorBoardEvent(data) else {
                        issue(ForeignLogIssue(file: path, location: "byte \(offset)", message: "a record with good checksums that is no TensorBoard Event; skipped"))
                        return
                    }
                    recordCount += 1
                    for (tag, value) in event.scalars {
                        scalarCount += 1
                        scalar(ForeignScalar(tag: tag, step: event.step, wall: event.wall, value: value))
                    }
                    for tag in event.otherTags where otherTagSet.insert(tag).inserted { otherTags.append(tag) }
                }
            }
        case .lightningCSV:
            return readCSV(descriptor: descriptor, end: end, maxBytes: maxBytes, scalar: scalar, issue: issue)
        }
    }

    /// What is left after a whole read of a file that will not grow: a truncated record or line.
    func finish(size: Int, scalar: (ForeignScalar) -> Void, issue: (ForeignLogIssue) -> Void) {
        switch kind {
        case .tensorboard:
            if let (offset, message) = events.leftover(size: size) {
                issue(ForeignLogIssue(file: path, location: "byte \(offset)", message: message))
            }
        case .lightningCSV:
            // A last row without its newline is a row all the same when the file is complete.
            let lastStart = csvLines.consumedOffset
            if let last = csvLines.takeUnfinishedLine() {
                lineNumber += 1
                handle(String(decoding: last, as: UTF8.self)[...], at: lastStart, scalar: scalar, issue: issue)
            }
        }
    }

    private func firstEventWall(_ window: FileWindow, size: Int) -> Double? {
        var reader = TFRecordReader()
        var wall: Double?
        _ = reader.read(window, size: min(size, 1 << 16), maxBytes: 1 << 16) { item in
            if wall == nil, case .record(_, let data) = item, let event = TensorBoardEvent(data), event.wall > 0 { wall = event.wall }
        }
        return wall
    }

    private func readCSV(descriptor: Int32, end: Int, maxBytes: Int, scalar: (ForeignScalar) -> Void,
                         issue: (ForeignLogIssue) -> Void) -> Bool {
        if csv.columns == nil && csvLines.readOffset > 0 && lineNumber == 0 {
            // Tail first: the header row comes from the start of the file all the same.
            let reader = ForeignFileReader(path: path, model: model, kind: .lightningCSV)
            _ = reader.readCSV(descriptor: descriptor, end: min(end, 1 << 20), maxBytes: 1 << 20, scalar: { _ in }, issue: { _ in })
            guard reader.csv.columns != nil else { return false }
            csv = reader.csv
            csvHeaderBytes = reader.csvHeaderBytes
            lineNumber = -1_000_000_000  // line numbers are unknown in a tail: said by byte offset
        }
        return csvLines.read(descriptor, upTo: end, maxBytes: maxBytes, line: { bytes, offset in
            if csv.columns == nil { csvHeaderBytes = Array(bytes) + [10] }
            lineNumber += 1
            handle(String(decoding: bytes, as: UTF8.self)[...], at: offset, scalar: scalar, issue: issue)
        }, overlong: { offset in
            issue(ForeignLogIssue(file: path, location: "byte \(offset)", message: "a line longer than 1 MiB; skipped"))
        })
    }

    /// One line of the CSV, starting at byte `offset` (said where the line number is unknown: a tail).
    private func handle(_ line: Substring, at offset: Int, scalar: (ForeignScalar) -> Void, issue: (ForeignLogIssue) -> Void) {
        let location = lineNumber > 0 ? "line \(lineNumber)" : "byte \(offset)"
        if csv.columns == nil {
            guard !csvHeaderRefused else { return }
            if let problem = csv.header(line) {
                csvHeaderRefused = true
                issue(ForeignLogIssue(file: path, location: location, message: problem))
            }
            return
        }
        if line.allSatisfy({ $0 == "\r" || $0 == " " }) { return }
        let (scalars, problems) = csv.row(line)
        for problem in problems { issue(ForeignLogIssue(file: path, location: location, message: problem)) }
        for value in scalars {
            scalarCount += 1
            scalar(value)
        }
        recordCount += 1
    }

    /// True when the file's header row is no Lightning metrics header (its rows are not read).
    private(set) var csvHeaderRefused = false
}
