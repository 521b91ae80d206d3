import Foundation

/// A numeric table from a CSV file with a header row of column names.
///
/// One column, chosen by name, is the target; the other columns (or an
/// explicit list) are the inputs. Accepted syntax: comma-separated cells;
/// cells in double quotes may contain commas, line breaks and `""` for a
/// quote; blank lines are skipped; `\n`, `\r\n` and `\r` all end a row; a
/// leading UTF-8 byte-order mark is ignored; spaces around unquoted cells are
/// trimmed. Only the columns in use must be numeric, so an id or comment
/// column can stay in the file when the inputs are listed explicitly.
///
/// Errors name the file, the line (1-based, counting every physical line,
/// blank ones included) and the column (1-based index and name).
///
/// The file is parsed as it is read, a chunk at a time, straight into the
/// Float storage of the data set: memory is about the final matrix, however
/// large the file.
public enum CSVDataset {
    /// How the target column is read.
    public enum Task: String, Sendable, CaseIterable {
        /// The target is a real value: `.values` with one column, trained with MSE.
        case regression
        /// The target is an integer class label: the k distinct labels are
        /// mapped in ascending order to 0..<k, trained with cross-entropy.
        case classification
    }

    /// Most distinct labels a classification target may have: more almost
    /// always means a real-valued column was read as labels, and each class
    /// is a network output (and C rows per sample of the eNTK).
    public static let maxClasses = 1000

    /// A loaded table: the data set plus what the UI needs to describe it.
    public struct Loaded: Sendable {
        public var dataset: Dataset
        /// Names of the input columns, in the order of the input features.
        public var inputColumns: [String]
        public var targetColumn: String
        /// For classification, the original label of each class index
        /// (`classLabels[i]` was mapped to class i); empty for regression.
        public var classLabels: [Int]
    }

    /// Loads `path` and returns the data set.
    ///
    /// - Parameters:
    ///   - target: name of the target column.
    ///   - task: regression (real target) or classification (integer labels).
    ///   - inputColumns: the input columns in order; nil takes every column
    ///     except the target, in file order.
    ///   - limit: keep only the first `limit` data rows (at least 1); the
    ///     file is not read past the last row kept. nil keeps all.
    ///   - name: the `Dataset.name`; nil uses the file name without extension.
    public static func load(
        path: String, target: String, task: Task, inputColumns: [String]? = nil, limit: Int? = nil, name: String? = nil
    ) throws(DataError) -> Dataset {
        try loadTable(path: path, target: target, task: task, inputColumns: inputColumns, limit: limit, name: name).dataset
    }

    /// Like `load`, also returning the column names and the class mapping.
    public static func loadTable(
        path: String, target: String, task: Task, inputColumns: [String]? = nil, limit: Int? = nil, name: String? = nil
    ) throws(DataError) -> Loaded {
        try loadTable(
            path: path, target: target, task: task, inputColumns: inputColumns, limit: limit, name: name,
            chunkSize: DataFile.defaultChunkSize)
    }

    /// `loadTable` reading `chunkSize` bytes at a time; tests use tiny chunks
    /// to put every byte of a tricky file on a chunk boundary.
    static func loadTable(
        path: String, target: String, task: Task, inputColumns: [String]?, limit: Int?, name: String?, chunkSize: Int
    ) throws(DataError) -> Loaded {
        let reader = try DataFile.Reader(path: path)
        defer { reader.close() }
        if DataFile.isGzip(try reader.read(offset: 0, count: min(reader.size, 2))) { throw DataError.compressedFile(file: path) }
        let defaultName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try read(
            fileName: path, target: target, task: task, inputColumns: inputColumns, limit: limit, name: name ?? defaultName,
            expectedBytes: reader.size
        ) { body throws(DataError) in
            try reader.forEachChunk(chunkSize: chunkSize, body)
        }
    }

    /// Parses CSV text already in memory; `fileName` is used in error messages.
    public static func parse(
        text: String, fileName: String, target: String, task: Task, inputColumns: [String]? = nil, limit: Int? = nil,
        name: String = "csv"
    ) throws(DataError) -> Loaded {
        try parse(
            text: text, fileName: fileName, target: target, task: task, inputColumns: inputColumns, limit: limit, name: name,
            chunkSize: DataFile.defaultChunkSize)
    }

    /// `parse` fed to the parser `chunkSize` bytes at a time, as a file would be.
    static func parse(
        text: String, fileName: String, target: String, task: Task, inputColumns: [String]?, limit: Int?, name: String,
        chunkSize: Int
    ) throws(DataError) -> Loaded {
        var text = text
        let result = text.withUTF8 { all -> Result<Loaded, DataError> in
            do throws(DataError) {
                return .success(
                    try read(
                        fileName: fileName, target: target, task: task, inputColumns: inputColumns, limit: limit, name: name,
                        expectedBytes: all.count
                    ) { body in
                        slices(of: all, chunkSize: chunkSize, body)
                    })
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Bytes read before the row count is extrapolated to the whole file.
    static let reserveSampleBytes = 64 << 10

    /// The one loading path for files and text: `chunks` hands the bytes over
    /// in order, and each chunk is tokenized and converted before the next
    /// is read. Only the header and the current row are ever held as
    /// strings; values go straight into the Float storage of the data set,
    /// so memory is about the final matrix plus one chunk, not a multiple of
    /// the file (the old whole-file String and array of String records took
    /// over six times the file size).
    ///
    /// Errors are reported in the order a whole-file reader would find them:
    /// non-UTF-8 text first, then a bad `limit`, then an unclosed quote, then
    /// the first problem in the header or rows. So after a header or row
    /// error the rest of the file is still scanned (not converted) for the
    /// first two. A `limit` stops reading after the last row kept: bytes past
    /// it are never read, so they cannot fail the load.
    private static func read(
        fileName: String, target: String, task: Task, inputColumns: [String]?, limit: Int?, name: String, expectedBytes: Int,
        chunks: (_ body: (UnsafeBufferPointer<UInt8>) -> Bool) throws(DataError) -> Void
    ) throws(DataError) -> Loaded {
        var limitError: DataError?
        if let limit, limit < 1 {
            limitError = .invalidParameter(owner: "csv", parameter: "limit", requirement: "at least 1", value: "\(limit)")
        }
        var builder = TableBuilder(fileName: fileName, target: target, task: task, requestedInputs: inputColumns, limit: limit)
        builder.error = limitError
        var tokenizer = Tokenizer()
        var validator = UTF8Validator()
        var consumed = 0
        var reserved = false
        try chunks { chunk in
            let used = tokenizer.feed(chunk) { builder.take($0) }
            // Checked after tokenizing so exactly the bytes the tokenizer
            // used are judged, whatever the chunk size; a row built from
            // invalid bytes is discarded below with the csvNotText error.
            guard validator.validate(UnsafeBufferPointer(rebasing: chunk[..<used])) else { return false }
            consumed += used
            if !reserved && builder.rows > 0 && consumed >= reserveSampleBytes {
                // Growing the storage by doubling would briefly hold the old
                // and new buffers (up to three times the matrix), so the row
                // count is extrapolated once from the bytes per row so far,
                // with some slack. Capacity never touched costs no memory,
                // and each row takes at least one byte per column.
                reserved = true
                let estimate = Double(expectedBytes) * Double(builder.rows) / Double(consumed) * 1.125
                var rows = min(Int(min(estimate, Double(Int.max / 2))) + 16, expectedBytes / builder.columnCount + 1)
                if let limit { rows = min(rows, limit) }
                builder.reserve(rows: rows)
            }
            return !builder.isFull
        }
        guard validator.isValid else { throw DataError.csvNotText(file: fileName) }
        if !builder.isFull {
            // The whole input was read.
            guard validator.isComplete else { throw DataError.csvNotText(file: fileName) }
            if let limitError { throw limitError }
            if try tokenizer.finish(file: fileName) { _ = builder.take(tokenizer.record) }
        }
        return try builder.finish(name: name)
    }

    /// Hands `all` to `body` in pieces of `chunkSize` bytes until it returns false.
    private static func slices(of all: UnsafeBufferPointer<UInt8>, chunkSize: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        var start = 0
        while start < all.count {
            let end = start + min(max(1, chunkSize), all.count - start)
            guard body(UnsafeBufferPointer(rebasing: all[start..<end])) else { return }
            start = end
        }
    }

    /// One row of cells and the physical line it starts on.
    struct Record {
        var fields: [String]
        var line: Int
    }

    /// Splits UTF-8 bytes into records, dropping blank lines; the bytes go
    /// through the tokenizer `chunkSize` at a time.
    static func tokenize(_ bytes: [UInt8], file: String, chunkSize: Int = Int.max) throws(DataError) -> [Record] {
        var tokenizer = Tokenizer()
        var records: [Record] = []
        bytes.withUnsafeBufferPointer { all in
            slices(of: all, chunkSize: chunkSize) { chunk in
                _ = tokenizer.feed(chunk) {
                    records.append($0.record)
                    return true
                }
                return true
            }
        }
        if try tokenizer.finish(file: file) { records.append(tokenizer.record.record) }
        return records
    }

    /// A record as the tokenizer holds it: the cells' bytes back to back and
    /// each cell's range, so a row becomes strings only where one is needed.
    struct RecordView {
        let bytes: [UInt8]
        let cells: [Range<Int>]
        /// The physical line the record starts on.
        let line: Int

        var count: Int { cells.count }

        func string(_ cell: Int) -> String { String(decoding: bytes[cells[cell]], as: UTF8.self) }

        var record: Record { Record(fields: (0..<count).map(string), line: line) }
    }

    /// The CSV grammar as a byte-at-a-time state machine, so input can arrive
    /// in chunks split anywhere: inside a quoted cell, between the two quotes
    /// of `""`, between `\r` and `\n`, inside the byte-order mark.
    struct Tokenizer {
        private enum State {
            case unquoted
            case quoted
            /// A quote inside a quoted cell: `""` if the next byte is a quote, else the closing quote.
            case quoteInQuoted
        }

        private static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n")
        private static let carriageReturn = UInt8(ascii: "\r")
        private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

        /// The record being read: every cell's bytes, back to back.
        private var bytes: [UInt8] = []
        /// The finished cells of the record, as ranges of `bytes` (unquoted ones trimmed).
        private var cells: [Range<Int>] = []
        private var state = State.unquoted
        private var line = 1
        private var recordLine = 1
        /// The line of the last record ended, while the caller reads it.
        private var completedLine = 1
        /// Where the current cell starts in `bytes`.
        private var fieldStart = 0
        private var fieldWasQuoted = false
        /// The current cell holds only spaces and tabs so far, so a quote opens a quoted cell.
        private var fieldIsBlank = true
        // A row holding only `""` is an (empty) cell, not a blank line.
        private var wasQuotedRecord = false
        private var quoteLine = 1
        /// A `\r` ended the last record: a `\n` right after it belongs to the same line break.
        private var skipLineFeed = false
        /// Still at the start of the input, having matched this many bytes of the byte-order mark.
        private var atStart = true
        private var byteOrderMarkMatched = 0

        /// The record `feed` or `finish` just completed.
        var record: RecordView { RecordView(bytes: bytes, cells: cells, line: completedLine) }

        /// Tokenizes `chunk`, calling `onRecord` with each record completed
        /// (blank lines dropped), and stops right after a record for which
        /// it returns false. Returns how many bytes of `chunk` were used: all
        /// of them unless stopped.
        mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, _ onRecord: (RecordView) -> Bool) -> Int {
            var i = 0
            while atStart && i < chunk.count {
                if chunk[i] == Self.byteOrderMark[byteOrderMarkMatched] {
                    byteOrderMarkMatched += 1
                    i += 1
                    if byteOrderMarkMatched == Self.byteOrderMark.count { atStart = false }
                } else {
                    replayByteOrderMarkPrefix()
                }
            }
            while i < chunk.count {
                let byte = chunk[i]
                i += 1
                if step(byte) {
                    let more = onRecord(record)
                    clearRecord()
                    if !more { return i }
                }
            }
            return chunk.count
        }

        /// Ends the input. Returns true when a last record, not ended by a
        /// line break, is ready in `record`.
        mutating func finish(file: String) throws(DataError) -> Bool {
            if atStart { replayByteOrderMarkPrefix() }
            switch state {
            case .quoted: throw DataError.csvUnterminatedQuote(file: file, line: quoteLine)
            case .quoteInQuoted: state = .unquoted
            case .unquoted: break
            }
            guard bytes.count > fieldStart || !cells.isEmpty || fieldWasQuoted else { return false }
            return finishRecord()
        }

        /// The input started with part of the mark only: those bytes are text.
        private mutating func replayByteOrderMarkPrefix() {
            atStart = false
            // None of them is a separator, so no record can end here.
            for byte in Self.byteOrderMark.prefix(byteOrderMarkMatched) { _ = step(byte) }
        }

        /// Reads one byte; true when it ended a record, now in `record`
        /// until `clearRecord`.
        @inline(__always)
        private mutating func step(_ byte: UInt8) -> Bool {
            if skipLineFeed {
                skipLineFeed = false
                if byte == Self.newline { return false }
            }
            switch state {
            case .quoted:
                if byte == Self.quote {
                    state = .quoteInQuoted
                } else {
                    if byte == Self.newline { line += 1 }
                    bytes.append(byte)
                }
                return false
            case .quoteInQuoted:
                if byte == Self.quote {
                    bytes.append(byte)
                    state = .quoted
                    return false
                }
                // The quote closed the cell; this byte is read as unquoted text.
                state = .unquoted
                fallthrough
            case .unquoted:
                if byte == Self.quote && fieldIsBlank && !fieldWasQuoted {
                    // A quoted cell: read to the closing quote, keeping separators.
                    bytes.removeLast(bytes.count - fieldStart)
                    fieldWasQuoted = true
                    wasQuotedRecord = true
                    quoteLine = line
                    state = .quoted
                    return false
                }
                switch byte {
                case Self.comma:
                    finishField()
                    return false
                case Self.newline, Self.carriageReturn:
                    let ended = finishRecord()
                    skipLineFeed = byte == Self.carriageReturn
                    line += 1
                    recordLine = line
                    return ended
                default:
                    // Text after a closing quote is kept, rather than rejected, to stay lenient.
                    if byte != 0x20 && byte != 0x09 { fieldIsBlank = false }
                    bytes.append(byte)
                    return false
                }
            }
        }

        private mutating func finishField() {
            var start = fieldStart, end = bytes.count
            if !fieldWasQuoted {
                while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
                while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
            }
            cells.append(start..<end)
            fieldStart = bytes.count
            fieldWasQuoted = false
            fieldIsBlank = true
        }

        /// Ends the record; true unless it was a blank line, which is dropped.
        private mutating func finishRecord() -> Bool {
            finishField()
            let blank = cells.count == 1 && cells[0].isEmpty
            completedLine = recordLine
            if blank && !wasQuotedRecord {
                clearRecord()
                return false
            }
            return true
        }

        private mutating func clearRecord() {
            bytes.removeAll(keepingCapacity: true)
            cells.removeAll(keepingCapacity: true)
            fieldStart = 0
            wasQuotedRecord = false
        }
    }

    /// Turns records into the data set as they arrive: the first is the
    /// header, the rest are rows converted into Float storage at once.
    private struct TableBuilder {
        let fileName: String
        let target: String
        let task: Task
        let requestedInputs: [String]?
        let limit: Int?
        /// The first problem found; later records are then ignored.
        var error: DataError?
        private var columns: [String] = []
        private var hasHeader = false
        private var targetIndex = 0
        private var inputIndices: [Int] = []
        /// Row-major inputs, `inputIndices.count` per row.
        private var inputs: [Float] = []
        private var targetValues: [Float] = []
        private var rawLabels: [Int] = []
        private(set) var rows = 0

        init(fileName: String, target: String, task: Task, requestedInputs: [String]?, limit: Int?) {
            self.fileName = fileName
            self.target = target
            self.task = task
            self.requestedInputs = requestedInputs
            self.limit = limit
        }

        /// The header's cell count (at least 1 once it is read).
        var columnCount: Int { max(1, columns.count) }

        /// The limit is reached without a problem: nothing more needs reading.
        var isFull: Bool { error == nil && rows >= (limit ?? .max) }

        /// Takes one record; false once no more are wanted.
        mutating func take(_ record: RecordView) -> Bool {
            guard error == nil else { return true }
            do throws(DataError) {
                if hasHeader {
                    try addRow(record)
                    rows += 1
                } else {
                    try readHeader(record)
                }
            } catch {
                self.error = error
            }
            return !isFull
        }

        /// Room for `rows` rows in all.
        mutating func reserve(rows: Int) {
            guard error == nil, hasHeader, rows > self.rows else { return }
            inputs.reserveCapacity(rows * inputIndices.count)
            switch task {
            case .regression: targetValues.reserveCapacity(rows)
            case .classification: rawLabels.reserveCapacity(rows)
            }
        }

        private mutating func readHeader(_ record: RecordView) throws(DataError) {
            columns = (0..<record.count).map(record.string)
            hasHeader = true
            var firstIndexOfName: [String: Int] = [:]
            for (index, column) in columns.enumerated() {
                if let first = firstIndexOfName[column] {
                    throw DataError.csvDuplicateColumn(file: fileName, column: column, firstIndex: first + 1, secondIndex: index + 1)
                }
                firstIndexOfName[column] = index
            }
            func index(of column: String) throws(DataError) -> Int {
                guard let index = firstIndexOfName[column] else {
                    throw DataError.csvMissingColumn(file: fileName, column: column, available: columns)
                }
                return index
            }

            targetIndex = try index(of: target)
            if let requestedInputs {
                inputIndices = try requestedInputs.map(index(of:))
                if inputIndices.contains(targetIndex) {
                    throw DataError.invalidParameter(
                        owner: "csv", parameter: "input columns", requirement: "different from the target column '\(target)'",
                        value: "'\(target)' among them")
                }
                if Set(inputIndices).count != inputIndices.count {
                    throw DataError.invalidParameter(
                        owner: "csv", parameter: "input columns", requirement: "listed once each",
                        value: requestedInputs.map { "'\($0)'" }.joined(separator: ", "))
                }
            } else {
                inputIndices = columns.indices.filter { $0 != targetIndex }
            }
            guard !inputIndices.isEmpty else { throw DataError.csvNoInputColumns(file: fileName, target: target) }
        }

        private mutating func addRow(_ row: RecordView) throws(DataError) {
            guard row.count == columns.count else {
                throw DataError.csvRaggedRow(file: fileName, line: row.line, expected: columns.count, found: row.count)
            }
            func number(_ column: Int) throws(DataError) -> Float {
                let cell = row.string(column)
                guard let value = Double(cell), value.isFinite, Float(value).isFinite else {
                    throw DataError.csvNotANumber(
                        file: fileName, line: row.line, column: column + 1, columnName: columns[column], value: cell)
                }
                return Float(value)
            }
            for column in inputIndices { inputs.append(try number(column)) }
            switch task {
            case .regression:
                targetValues.append(try number(targetIndex))
            case .classification:
                let cell = row.string(targetIndex)
                // Whole numbers written as "3.0" are accepted; 2^53 bounds the exact integers.
                guard let value = Double(cell), value == value.rounded(), abs(value) < 0x1p53 else {
                    throw DataError.csvNotALabel(
                        file: fileName, line: row.line, column: targetIndex + 1, columnName: target, value: cell)
                }
                rawLabels.append(Int(value))
            }
        }

        /// The data set, or the first problem found.
        func finish(name: String) throws(DataError) -> Loaded {
            if let error { throw error }
            guard hasHeader else { throw DataError.csvEmpty(file: fileName) }
            guard rows > 0 else { throw DataError.csvNoRows(file: fileName) }
            let targets: Dataset.Targets
            var classLabels: [Int] = []
            switch task {
            case .regression:
                targets = .values(Matrix(rows: rows, cols: 1, storage: targetValues))
            case .classification:
                classLabels = Array(Set(rawLabels)).sorted()
                guard classLabels.count >= 2 else {
                    throw DataError.csvSingleClass(file: fileName, column: target, label: classLabels.first ?? 0)
                }
                guard classLabels.count <= maxClasses else {
                    throw DataError.csvTooManyClasses(file: fileName, column: target, found: classLabels.count, limit: maxClasses)
                }
                let classOf = Dictionary(uniqueKeysWithValues: classLabels.enumerated().map { ($1, $0) })
                targets = .labels(rawLabels.map { classOf[$0] ?? 0 }, classes: classLabels.count)
            }
            return Loaded(
                dataset: Dataset(name: name, inputs: Matrix(rows: rows, cols: inputIndices.count, storage: inputs), targets: targets),
                inputColumns: inputIndices.map { columns[$0] }, targetColumn: target, classLabels: classLabels)
        }
    }
}

/// UTF-8 well-formedness checked a chunk at a time, so a character split
/// between chunks is judged whole. The rules are Unicode's (Table 3-7): no
/// overlong forms, no surrogates, nothing past U+10FFFF — what Foundation's
/// whole-file `String(data:encoding: .utf8)` check accepted before.
struct UTF8Validator {
    /// Continuation bytes the current character still needs.
    private var pending = 0
    /// Allowed range of the next continuation byte: narrower right after
    /// E0, ED, F0 and F4, which is how overlong forms, surrogates and values
    /// past U+10FFFF are ruled out.
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF
    /// No invalid byte seen so far.
    private(set) var isValid = true

    /// Valid, and not stopped inside a character.
    var isComplete: Bool { isValid && pending == 0 }

    /// Checks the next bytes; false (from then on) once any is invalid.
    mutating func validate(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard isValid else { return false }
        let raw = UnsafeRawBufferPointer(bytes)
        var i = 0
        while i < bytes.count {
            // Eight ASCII bytes at a time: numeric CSV is almost all ASCII.
            if pending == 0 && i + 8 <= bytes.count
                && raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                i += 8
                continue
            }
            let byte = bytes[i]
            i += 1
            if pending > 0 {
                guard byte >= low && byte <= high else {
                    isValid = false
                    return false
                }
                pending -= 1
                low = 0x80
                high = 0xBF
                continue
            }
            switch byte {
            case 0x00...0x7F: break
            case 0xC2...0xDF: pending = 1
            case 0xE0: (pending, low) = (2, 0xA0)
            case 0xE1...0xEC, 0xEE...0xEF: pending = 2
            case 0xED: (pending, high) = (2, 0x9F)
            case 0xF0: (pending, low) = (3, 0x90)
            case 0xF1...0xF3: pending = 3
            case 0xF4: (pending, high) = (3, 0x8F)
            default:
                isValid = false
                return false
            }
        }
        return true
    }
}
