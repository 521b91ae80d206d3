import Foundation

/// Everything that can go wrong while building, loading or splitting a data
/// set. Each case carries what a user needs to fix the problem (the file, the
/// line, the column, what was expected and what was found), and
/// `description` renders it as one line that can be printed as is: line
/// breaks and other control characters that a file name, a header or a cell
/// may hold are shown as escapes.
public enum DataError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// A knob of a data source or of the split is out of range, e.g.
    /// `teacher: samples must be at least 1, got 0`.
    case invalidParameter(owner: String, parameter: String, requirement: String, value: String)

    /// The file does not exist, is not a regular file (a directory, FIFO,
    /// device or socket), or cannot be read; `reason` says which.
    case fileUnreadable(file: String, reason: String)
    /// The file starts with the gzip magic bytes 1f 8b; spectop reads only
    /// uncompressed files.
    case compressedFile(file: String)

    /// The CSV file holds no header row (it is empty or only blank lines).
    case csvEmpty(file: String)
    /// The CSV file is not UTF-8 text.
    case csvNotText(file: String)
    /// The CSV file has a header but no data rows.
    case csvNoRows(file: String)
    /// A requested column is not in the header. `available` lists the header.
    case csvMissingColumn(file: String, column: String, available: [String])
    /// Two header cells carry the same name, so selecting by name is ambiguous.
    case csvDuplicateColumn(file: String, column: String, firstIndex: Int, secondIndex: Int)
    /// After removing the target, no input column is left.
    case csvNoInputColumns(file: String, target: String)
    /// A data row has a different number of cells than the header.
    case csvRaggedRow(file: String, line: Int, expected: Int, found: Int)
    /// A quoted field is still open at the end of the file.
    case csvUnterminatedQuote(file: String, line: Int)
    /// A cell that must be numeric is not a finite number. `column` is 1-based.
    case csvNotANumber(file: String, line: Int, column: Int, columnName: String, value: String)
    /// A classification target cell is not an integer label. `column` is 1-based.
    case csvNotALabel(file: String, line: Int, column: Int, columnName: String, value: String)
    /// A classification target takes a single value, so there is nothing to learn.
    case csvSingleClass(file: String, column: String, label: Int)
    /// A classification target has more distinct labels than spectop allows.
    case csvTooManyClasses(file: String, column: String, found: Int, limit: Int)

    /// The IDX header's magic number is not the one expected for this file
    /// kind (`"images"` or `"labels"`).
    case idxWrongMagic(file: String, kind: String, expected: UInt32, found: UInt32)
    /// The file is shorter (or longer) than its header says it must be.
    case idxWrongSize(file: String, expectedBytes: Int, foundBytes: Int)
    /// The header is readable but describes something unusable (zero sizes,
    /// sizes too large to address).
    case idxInvalidHeader(file: String, detail: String)
    /// The images and labels files hold different numbers of samples.
    case idxCountMismatch(imagesFile: String, images: Int, labelsFile: String, labels: Int)

    /// The probe set asks for more samples than the source can provide.
    case probeTooLarge(requested: Int, available: Int, source: String)
    /// `--probe-source fresh` on a data set that cannot draw new samples.
    case freshProbeUnavailable(dataset: String)
    /// Drawing fresh probe samples failed, or they do not have the training
    /// data's shape.
    case freshProbeFailed(dataset: String, detail: String)

    /// The embedded digits data failed to decode: a build problem, not a user one.
    case corruptEmbeddedData(dataset: String, detail: String)

    public var description: String { Self.oneLine(message) }

    private var message: String {
        switch self {
        case let .invalidParameter(owner, parameter, requirement, value):
            return "\(owner): \(parameter) must be \(requirement), got \(value)"
        case let .fileUnreadable(file, reason):
            return "\(file): cannot read the file: \(reason)"
        case let .compressedFile(file):
            return "\(file): the file is gzip-compressed (it starts with bytes 1f 8b); "
                + "decompress it first, e.g. `gunzip -k \(file)`, and pass the uncompressed file"
        case let .csvEmpty(file):
            return "csv: \(file): the file is empty; expected a header row of column names followed by numeric rows"
        case let .csvNotText(file):
            return "csv: \(file): the file is not UTF-8 text"
        case let .csvNoRows(file):
            return "csv: \(file): the file has a header row but no data rows"
        case let .csvMissingColumn(file, column, available):
            let list = available.map { "'\($0)'" }.joined(separator: ", ")
            return "csv: \(file): no column named '\(column)'; the columns are \(list)"
        case let .csvDuplicateColumn(file, column, first, second):
            return "csv: \(file): columns \(first) and \(second) are both named '\(column)'; rename one so columns can be chosen by name"
        case let .csvNoInputColumns(file, target):
            return "csv: \(file): no input columns left after taking '\(target)' as the target"
        case let .csvRaggedRow(file, line, expected, found):
            return "csv: \(file): line \(line) has \(found) cell\(found == 1 ? "" : "s") but the header has \(expected)"
        case let .csvUnterminatedQuote(file, line):
            return "csv: \(file): line \(line): a quoted field is never closed (missing '\"')"
        case let .csvNotANumber(file, line, column, name, value):
            let what = value.isEmpty ? "the cell is empty" : "'\(value)' is not a finite number"
            return "csv: \(file): line \(line), column \(column) '\(name)': \(what)"
        case let .csvNotALabel(file, line, column, name, value):
            return "csv: \(file): line \(line), column \(column) '\(name)': '\(value)' is not an integer class label "
                + "(use task regression for real-valued targets)"
        case let .csvSingleClass(file, column, label):
            return "csv: \(file): target column '\(column)' has a single class (\(label)); classification needs at least 2"
        case let .csvTooManyClasses(file, column, found, limit):
            return "csv: \(file): target column '\(column)' has \(found) distinct labels, more than the \(limit) classes allowed; "
                + "use task regression if it is a real-valued target"
        case let .idxWrongMagic(file, kind, expected, found):
            var message = "idx: \(file): not an IDX \(kind) file: magic number is \(hex(found)), expected \(hex(expected))"
            if let hint = Self.idxMagicHint(kind: kind, found: found) { message += "; \(hint)" }
            return message
        case let .idxWrongSize(file, expectedBytes, foundBytes):
            let problem = foundBytes < expectedBytes ? "truncated" : "longer than its header says"
            return "idx: \(file): file is \(problem): the header implies \(expectedBytes) bytes, found \(foundBytes)"
        case let .idxInvalidHeader(file, detail):
            return "idx: \(file): invalid header: \(detail)"
        case let .idxCountMismatch(imagesFile, images, labelsFile, labels):
            return "idx: \(imagesFile) holds \(images) images but \(labelsFile) holds \(labels) labels; "
                + "pass the labels file that belongs to these images"
        case let .probeTooLarge(requested, available, source):
            return "split: probe size \(requested) is larger than the \(available) samples available for probe source '\(source)'; "
                + "lower the probe size to at most \(available)"
        case let .freshProbeUnavailable(dataset):
            return "split: probe source 'fresh' draws new samples from the teacher, but '\(dataset)' is a fixed data set; "
                + "use probe source 'train' or 'held_out'"
        case let .freshProbeFailed(dataset, detail):
            return "split: cannot use fresh probe samples for '\(dataset)': \(detail)"
        case let .corruptEmbeddedData(dataset, detail):
            return "\(dataset): embedded data is corrupt (\(detail)); regenerate it with scripts/make_digits_resource.py"
        }
    }

    /// `text` with line breaks, tabs and other control characters (C0, DEL,
    /// C1, U+2028/2029) written as visible escapes: a quoted CSV cell or a
    /// file name can hold a newline, and a message must stay one line for
    /// logs, status bars and scripts that match it.
    static func oneLine(_ text: String) -> String {
        func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
            scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
        }
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar): out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Foundation's `localizedDescription` reads this, so callers that only
    /// see `any Error` still print the actionable message.
    public var errorDescription: String? { description }

    /// The usual mistakes behind a wrong IDX magic number.
    private static func idxMagicHint(kind: String, found: UInt32) -> String? {
        if found >> 16 == 0x1F8B { return "the file looks gzip-compressed; decompress it first" }
        if kind == "images" && found == IDXDataset.labelsMagic { return "this is a labels file; were images and labels swapped?" }
        if kind == "labels" && found == IDXDataset.imagesMagic { return "this is an images file; were images and labels swapped?" }
        return nil
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
