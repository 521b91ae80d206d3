import Foundation

/// A problem in a foreign log, where it is: a file and a byte offset (or a CSV line).
package struct ForeignLogIssue: Sendable, Equatable, CustomStringConvertible {
    package var file: String
    /// `byte N` for event files, `line N` for CSV.
    package var location: String
    package var message: String

    package var description: String { "\(file): \(location): \(message)" }
}

/// Reads a file through a window of `chunk` bytes, so a record reader can
/// look at any offset without a system call per record and without the
/// whole file in memory.
final class FileWindow {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private let chunk: Int

    init(descriptor: Int32, chunk: Int = 1 << 20) {
        self.descriptor = descriptor
        self.chunk = chunk
    }

    /// `count` bytes at `offset`, nil when the file has fewer there (it may still grow).
    func bytes(at offset: Int, count: Int) -> ArraySlice<UInt8>? {
        if offset < start || offset + count > start + buffer.count {
            let want = max(count, chunk)
            var fresh = [UInt8](repeating: 0, count: want)
            var got = 0
            while got < want {
                let n = fresh.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + got, want - got, off_t(offset + got)) }
                if n <= 0 { break }
                got += n
            }
            fresh.removeSubrange(got...)
            buffer = fresh
            start = offset
            guard count <= got else { return nil }
        }
        let from = offset - start
        return buffer[from..<(from + count)]
    }
}

/// TFRecord framing, the container of TensorBoard event files: each record is
/// `uint64 length`, `uint32 masked CRC-32C of the length`, `length` bytes of
/// data, `uint32 masked CRC-32C of the data`, little-endian.
///
/// Reads from a byte offset on, as far as the file goes, and stops before a
/// record that is not complete yet (a writer still running: "not yet", never
/// an error). A length whose checksum fails is no record start: that is
/// reported once with its offset and the reader moves on byte by byte until a
/// header and its data both check again (resynchronising; a tail-first open
/// starts the same way, mid-file). A record whose data checksum fails is
/// reported and skipped whole, its length being known good.
struct TFRecordReader {
    /// The most data one record may hold: TensorBoard scalars are tens of
    /// bytes; a larger record (an image, a graph) is skipped without being read.
    static let largestRead = 16 << 20
    /// A length beyond this is impossible for an event file, even with a good checksum.
    static let largestRecord: UInt64 = 1 << 36

    enum Item {
        case record(offset: Int, data: ArraySlice<UInt8>)
        case issue(offset: Int, message: String)
    }

    /// Where the next record starts.
    private(set) var offset: Int
    /// True while looking for a record start after damage (or mid-file).
    private(set) var resynchronising: Bool
    private var damageReported = false
    /// Where the current search for a record start began.
    private var searchStart: Int

    init(offset: Int = 0, resynchronising: Bool = false) {
        self.offset = offset
        self.resynchronising = resynchronising
        damageReported = resynchronising  // a tail-first start mid-file is no damage
        searchStart = offset
    }

    /// Reads records up to `size` (at most about `maxBytes`), handing each to
    /// `body`. Returns true when it stopped because of `maxBytes`.
    mutating func read(_ file: FileWindow, size: Int, maxBytes: Int, _ body: (Item) -> Void) -> Bool {
        let stop = offset + maxBytes
        while offset + 12 <= size {
            if offset >= stop { return true }
            guard let header = file.bytes(at: offset, count: 12) else { return false }
            let length = header.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let lengthCRC = Self.uint32(header.suffix(4))
            let lengthOK = header.prefix(8).withUnsafeBytes { CRC32C.masked(CRC32C.checksum($0)) } == lengthCRC
            guard lengthOK, length <= Self.largestRecord else {
                damaged(lengthOK ? "impossible record length \(length)" : "bad length checksum (no record starts here)", body)
                offset += 1
                continue
            }
            let end = offset + 16 + Int(length)
            guard end <= size else {
                // Not complete yet. While resynchronising a false start can claim
                // a length past the end: look on unless the file could still grow into it.
                if resynchronising && end - offset > Self.largestRead { offset += 1; continue }
                return false
            }
            guard length <= UInt64(Self.largestRead) else {
                if resynchronising { offset += 1; continue }  // a huge record is no proof of a resync
                body(.issue(offset: offset, message: "a record of \(length) bytes (more than \(Self.largestRead >> 20) MiB, no scalar) skipped"))
                offset = end
                continue
            }
            guard let data = file.bytes(at: offset + 12, count: Int(length) + 4) else { return false }
            let payload = data.prefix(Int(length))
            let dataOK = payload.withUnsafeBytes { CRC32C.masked(CRC32C.checksum($0)) } == Self.uint32(data.suffix(4))
            if !dataOK {
                if resynchronising { offset += 1; continue }
                body(.issue(offset: offset, message: "bad data checksum; the record of \(length) bytes is skipped"))
                offset = end
                continue
            }
            resynchronising = false
            damageReported = false
            body(.record(offset: offset, data: payload))
            offset = end
        }
        return false
    }

    /// What is left after the last complete record when the file will not
    /// grow any more (a whole read): a truncated record.
    func leftover(size: Int) -> (offset: Int, message: String)? {
        guard offset < size else { return nil }
        if resynchronising {
            return (searchStart, "no good record from here to the end of the file (\(size - searchStart) bytes)")
        }
        return (offset, "truncated record: the file ends \(size - offset) bytes into it")
    }

    private mutating func damaged(_ what: String, _ body: (Item) -> Void) {
        if !damageReported {
            body(.issue(offset: offset, message: "\(what); looking for the next good record"))
            damageReported = true
            searchStart = offset
        }
        resynchronising = true
    }

    private static func uint32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}
