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
    ///   - limit: keep only the first `limit` data rows (at least 1); later
    ///     rows are not read as numbers. nil keeps all.
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
        let data = try DataFile.readAll(path)
        guard let text = String(data: data, encoding: .utf8) else { throw DataError.csvNotText(file: path) }
        let defaultName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(
            text: text, fileName: path, target: target, task: task, inputColumns: inputColumns, limit: limit,
            name: name ?? defaultName)
    }

    /// Parses CSV text already in memory; `fileName` is used in error messages.
    public static func parse(
        text: String, fileName: String, target: String, task: Task, inputColumns: [String]? = nil, limit: Int? = nil,
        name: String = "csv"
    ) throws(DataError) -> Loaded {
        if let limit, limit < 1 {
            throw DataError.invalidParameter(owner: "csv", parameter: "limit", requirement: "at least 1", value: "\(limit)")
        }
        let records = try tokenize(Array(text.utf8), file: fileName)
        guard let header = records.first else { throw DataError.csvEmpty(file: fileName) }
        let columns = header.fields
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

        let targetIndex = try index(of: target)
        let inputIndices: [Int]
        if let inputColumns {
            inputIndices = try inputColumns.map(index(of:))
            if inputIndices.contains(targetIndex) {
                throw DataError.invalidParameter(
                    owner: "csv", parameter: "input columns", requirement: "different from the target column '\(target)'",
                    value: "'\(target)' among them")
            }
            if Set(inputIndices).count != inputIndices.count {
                throw DataError.invalidParameter(
                    owner: "csv", parameter: "input columns", requirement: "listed once each",
                    value: inputColumns.map { "'\($0)'" }.joined(separator: ", "))
            }
        } else {
            inputIndices = columns.indices.filter { $0 != targetIndex }
        }
        guard !inputIndices.isEmpty else { throw DataError.csvNoInputColumns(file: fileName, target: target) }

        let rows = records.dropFirst().prefix(limit ?? records.count)
        guard !rows.isEmpty else { throw DataError.csvNoRows(file: fileName) }

        var inputs = Matrix<Float>(rows: rows.count, cols: inputIndices.count)
        var targetValues = [Float]()
        var rawLabels = [Int]()
        for (r, row) in rows.enumerated() {
            guard row.fields.count == columns.count else {
                throw DataError.csvRaggedRow(file: fileName, line: row.line, expected: columns.count, found: row.fields.count)
            }
            func number(_ column: Int) throws(DataError) -> Float {
                let cell = row.fields[column]
                guard let value = Double(cell), value.isFinite, Float(value).isFinite else {
                    throw DataError.csvNotANumber(
                        file: fileName, line: row.line, column: column + 1, columnName: columns[column], value: cell)
                }
                return Float(value)
            }
            for (i, column) in inputIndices.enumerated() { inputs[r, i] = try number(column) }
            switch task {
            case .regression:
                targetValues.append(try number(targetIndex))
            case .classification:
                let cell = row.fields[targetIndex]
                // Whole numbers written as "3.0" are accepted; 2^53 bounds the exact integers.
                guard let value = Double(cell), value == value.rounded(), abs(value) < 0x1p53 else {
                    throw DataError.csvNotALabel(
                        file: fileName, line: row.line, column: targetIndex + 1, columnName: target, value: cell)
                }
                rawLabels.append(Int(value))
            }
        }

        let targets: Dataset.Targets
        var classLabels: [Int] = []
        switch task {
        case .regression:
            targets = .values(Matrix(rows: rows.count, cols: 1, storage: targetValues))
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
            dataset: Dataset(name: name, inputs: inputs, targets: targets),
            inputColumns: inputIndices.map { columns[$0] }, targetColumn: target, classLabels: classLabels)
    }

    /// One row of cells and the physical line it starts on.
    struct Record {
        var fields: [String]
        var line: Int
    }

    /// Splits UTF-8 bytes into records, dropping blank lines.
    static func tokenize(_ bytes: [UInt8], file: String) throws(DataError) -> [Record] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        var records: [Record] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var fields: [String] = []
        var field: [UInt8] = []
        var fieldWasQuoted = false
        // A row holding only `""` is an (empty) cell, not a blank line.
        var wasQuotedRecord = false
        var recordLine = 1

        func finishField() {
            if fieldWasQuoted {
                fields.append(String(decoding: field, as: UTF8.self))
            } else {
                let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
                let start = field.firstIndex { !isBlank($0) } ?? field.endIndex
                let end = field.lastIndex { !isBlank($0) }.map { $0 + 1 } ?? start
                fields.append(String(decoding: field[start..<end], as: UTF8.self))
            }
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func finishRecord() {
            finishField()
            let blank = fields.count == 1 && fields[0].isEmpty
            if !blank || wasQuotedRecord { records.append(Record(fields: fields, line: recordLine)) }
            fields.removeAll(keepingCapacity: true)
            wasQuotedRecord = false
        }

        while i < bytes.count {
            let byte = bytes[i]
            if byte == quote && field.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) && !fieldWasQuoted {
                // A quoted cell: read to the closing quote, keeping separators.
                let openingLine = line
                field.removeAll(keepingCapacity: true)
                fieldWasQuoted = true
                wasQuotedRecord = true
                i += 1
                var closed = false
                while i < bytes.count {
                    let inner = bytes[i]
                    if inner == quote {
                        if i + 1 < bytes.count && bytes[i + 1] == quote {
                            field.append(quote)
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    if inner == newline { line += 1 }
                    field.append(inner)
                    i += 1
                }
                if !closed { throw DataError.csvUnterminatedQuote(file: file, line: openingLine) }
                continue
            }
            switch byte {
            case comma:
                finishField()
                i += 1
            case newline, carriageReturn:
                finishRecord()
                i += (byte == carriageReturn && i + 1 < bytes.count && bytes[i + 1] == newline) ? 2 : 1
                line += 1
                recordLine = line
            default:
                // Text after a closing quote is kept, rather than rejected, to stay lenient.
                field.append(byte)
                i += 1
            }
        }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { finishRecord() }
        return records
    }
}
