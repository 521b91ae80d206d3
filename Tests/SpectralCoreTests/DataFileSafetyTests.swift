import Foundation
import XCTest

@testable import SpectralCore

/// The streaming CSV reader must give the same answer however its input is
/// cut into chunks, and the same answer as the whole-file tokenizer it
/// replaced; data paths that are not regular files must be refused with a
/// one-line message before anything can block on them.
final class DataFileSafetyTests: DataFileTestCase {
    /// Chunk sizes that put every byte of a small input on a chunk boundary,
    /// plus the default (a small input in one chunk).
    private let chunkSizes = [1, 2, 3, 7, DataFile.defaultChunkSize]

    // MARK: Streaming CSV

    func testTokenizerGivesTheSameRecordsForEveryChunkSize() throws {
        // Quotes, `""`, CRLF, a lone CR, blank and whitespace-only lines, a
        // BOM, line breaks inside quotes, an empty quoted row, text after a
        // closing quote (kept, untrimmed), and a last row without a line
        // break that ends in a quote.
        let text = "\u{FEFF}id, \"size, m²\" ,y\r\n\r\n\"a, \"\"quoted\"\" name\",\"1.5\",2\r\n  \r\nplain, 3 ,4\r"
            + "\"multi\nline\r\nname\",5,6\n\"\"\n\t\n\"x\"tail,7,8\r\n\"\"\"\",9,\"10\""
        let expected: [[String]] = [
            ["id", "size, m² ", "y"], ["a, \"quoted\" name", "1.5", "2"], ["plain", "3", "4"],
            ["multi\nline\r\nname", "5", "6"], [""], ["xtail", "7", "8"], ["\"", "9", "10"],
        ]
        for chunkSize in chunkSizes {
            let records = try CSVDataset.tokenize(Array(text.utf8), file: "t.csv", chunkSize: chunkSize)
            XCTAssertEqual(records.map(\.fields), expected, "chunk size \(chunkSize)")
            XCTAssertEqual(records.map(\.line), [1, 3, 5, 6, 9, 11, 12], "chunk size \(chunkSize)")
        }
    }

    func testTokenizerMatchesTheWholeFileTokenizerOnRandomInput() {
        // Random strings over the bytes the grammar cares about (BOM bytes
        // included), compared with the tokenizer that read the whole file.
        let alphabet = Array("\",\r\n \ta1".utf8) + [0xEF, 0xBB, 0xBF]
        var generator = SeededGenerator(seed: 2024)
        for trial in 0..<400 {
            var bytes = (0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            if trial % 4 == 0 { bytes = [0xEF, 0xBB, 0xBF] + bytes }
            let expected = Self.describe { try Self.wholeFileTokenize(bytes, file: "r.csv") }
            for chunkSize in chunkSizes {
                let found = Self.describe { try CSVDataset.tokenize(bytes, file: "r.csv", chunkSize: chunkSize) }
                XCTAssertEqual(found, expected, "bytes \(bytes), chunk size \(chunkSize)")
            }
        }
    }

    func testLoadGivesTheSameTableForEveryChunkSize() throws {
        let text = "\u{FEFF}id,\"x, 1\",y\r\n\r\n\"a \"\"b\"\"\",  1.5 ,\"2\"\r\n  \r\nc,\"3\",4\r\"multi\nline\",5e0,6\n\t\nd,7,8"
        let path = try write("tricky.csv", text)
        let broken = try write("broken.csv", text.replacingOccurrences(of: "d,7,8", with: "d,7,x"))
        for chunkSize in chunkSizes {
            let context = "chunk size \(chunkSize)"
            let table = try CSVDataset.loadTable(
                path: path, target: "y", task: .regression, inputColumns: ["x, 1"], limit: nil, name: nil, chunkSize: chunkSize)
            XCTAssertEqual(table.dataset.name, "tricky", context)
            XCTAssertEqual(table.inputColumns, ["x, 1"], context)
            XCTAssertEqual(table.dataset.inputs, Matrix(rows: 4, cols: 1, storage: [1.5, 3, 5, 7]), context)
            XCTAssertEqual(table.dataset.targets, .values(Matrix(rows: 4, cols: 1, storage: [2, 4, 6, 8])), context)

            let parsed = try CSVDataset.parse(
                text: text, fileName: "t.csv", target: "y", task: .classification, inputColumns: ["x, 1"], limit: 3,
                name: "t", chunkSize: chunkSize)
            XCTAssertEqual(parsed.classLabels, [2, 4, 6], context)
            XCTAssertEqual(parsed.dataset.targets, .labels([0, 1, 2], classes: 3), context)

            let badCell = errorMessage {
                _ = try CSVDataset.loadTable(
                    path: broken, target: "y", task: .regression, inputColumns: ["x, 1"], limit: nil, name: nil,
                    chunkSize: chunkSize)
            }
            XCTAssertEqual(badCell, "csv: \(broken): line 9, column 3 'y': 'x' is not a finite number", context)
            let idColumn = errorMessage {
                _ = try CSVDataset.loadTable(
                    path: path, target: "y", task: .regression, inputColumns: nil, limit: nil, name: nil, chunkSize: chunkSize)
            }
            XCTAssertEqual(idColumn, "csv: \(path): line 3, column 1 'id': 'a \"b\"' is not a finite number", context)
        }
    }

    func testLargeFileMatchesForEveryChunkSizeAndLimit() throws {
        // More than `reserveSampleBytes`, so the storage is sized from an
        // estimate; rows get longer halfway, so the estimate falls short.
        let rows = 20_000
        var text = "i,half,note,label\n"
        for i in 0..<rows {
            text += "\(i),\(Double(i) / 2),\(i < rows / 2 ? "" : String(repeating: "n", count: 40)),\(i % 7)\n"
        }
        let path = try write("large.csv", text)
        XCTAssertGreaterThan(text.utf8.count, CSVDataset.reserveSampleBytes)
        let expected = (0..<rows).flatMap { [Float($0), Float(Double($0) / 2)] }
        for chunkSize in [4096, 65_537, DataFile.defaultChunkSize] {
            for limit in [nil, 2, 15_000] as [Int?] {
                let context = "chunk size \(chunkSize), limit \(limit.map(String.init) ?? "none")"
                let table = try CSVDataset.loadTable(
                    path: path, target: "label", task: .classification, inputColumns: ["i", "half"], limit: limit, name: nil,
                    chunkSize: chunkSize)
                let count = limit ?? rows
                XCTAssertEqual(table.dataset.inputs.storage, Array(expected.prefix(2 * count)), context)
                XCTAssertEqual(table.dataset.targets, .labels((0..<count).map { $0 % 7 }, classes: min(count, 7)), context)
            }
        }
    }

    func testLimitStopsReadingAfterTheLastRowKept() throws {
        // Past the last row kept the file is not read, so nothing there can fail the load.
        let garbage = try write("garbage.csv", Array("x,y\r\n1,2\r\n3,4\r\n".utf8) + [0xFF] + Array("\n\"open".utf8))
        let unclosed = try write("unclosed.csv", "x,y\n1,2\n\"open,4\n")
        for chunkSize in chunkSizes {
            let context = "chunk size \(chunkSize)"
            func load(_ path: String, limit: Int?) throws -> Dataset {
                try CSVDataset.loadTable(
                    path: path, target: "y", task: .regression, inputColumns: nil, limit: limit, name: nil, chunkSize: chunkSize
                ).dataset
            }
            XCTAssertEqual(try load(garbage, limit: 2).inputs.storage, [1, 3], context)
            XCTAssertEqual(try load(garbage, limit: 1).inputs.storage, [1], context)
            XCTAssertEqual(errorMessage { _ = try load(garbage, limit: 3) }, "csv: \(garbage): the file is not UTF-8 text", context)
            XCTAssertEqual(errorMessage { _ = try load(garbage, limit: nil) }, "csv: \(garbage): the file is not UTF-8 text", context)
            XCTAssertEqual(try load(unclosed, limit: 1).inputs.storage, [1], context)
            XCTAssertEqual(
                errorMessage { _ = try load(unclosed, limit: nil) },
                "csv: \(unclosed): line 3: a quoted field is never closed (missing '\"')", context)
        }
    }

    func testProblemsAreReportedInWholeFileOrder() throws {
        // Non-UTF-8 anywhere wins over everything, then a bad limit, then an
        // unclosed quote, then the first header or row problem: the order of
        // the checks when the whole file was read first.
        let cases: [(bytes: [UInt8], target: String, inputs: [String]?, limit: Int?, message: String)] = [
            (Array("x,".utf8) + [0xFF] + Array("\n1,2\n".utf8), "y", nil, nil, "the file is not UTF-8 text"),
            (Array("id,x,y\n".utf8) + [0xC3, 0x28] + Array(",1,2\n".utf8), "y", ["x"], nil, "the file is not UTF-8 text"),
            (Array("x,y\n1\n2,3\n4,5\n".utf8) + [0xFE], "y", nil, nil, "the file is not UTF-8 text"),
            (Array("x,y\n1,2\n".utf8) + [0xE2, 0x82], "y", nil, nil, "the file is not UTF-8 text"),
            (Array("x,y\n1,2\n".utf8) + [0xC0, 0x80], "y", nil, nil, "the file is not UTF-8 text"),
            (Array("x,y\n1,2\n".utf8) + [0xED, 0xA0, 0x80], "y", nil, nil, "the file is not UTF-8 text"),
            (Array("x,y\n1,2\n".utf8) + [0xF4, 0x90, 0x80, 0x80], "y", nil, nil, "the file is not UTF-8 text"),
            (Array("x,y\n1,2\n".utf8) + [0xFF], "y", nil, 0, "the file is not UTF-8 text"),
            (Array("x,y\n1,2\n\"open\n".utf8), "y", nil, 0, "limit must be at least 1, got 0"),
            (Array("x,y\n1\n2,3\n\"open\n".utf8), "y", nil, nil, "line 4: a quoted field is never closed (missing '\"')"),
            (Array("x,z\n1,2\n\"open\n".utf8), "y", nil, nil, "line 3: a quoted field is never closed (missing '\"')"),
            (Array("x,y\n1\n2,z\n".utf8), "y", nil, nil, "line 2 has 1 cell but the header has 2"),
        ]
        for (index, test) in cases.enumerated() {
            let path = try write("case\(index).csv", test.bytes)
            for chunkSize in chunkSizes {
                let message = errorMessage {
                    _ = try CSVDataset.loadTable(
                        path: path, target: test.target, task: .regression, inputColumns: test.inputs, limit: test.limit,
                        name: nil, chunkSize: chunkSize)
                }
                XCTAssertTrue(message.hasSuffix(test.message), "case \(index), chunk size \(chunkSize): \(message)")
            }
        }

        // Characters of two to four bytes split across chunks are whole again.
        let names = try write("names.csv", "é,€,𝄞,y\n1,2,3,4\n")
        for chunkSize in chunkSizes {
            let table = try CSVDataset.loadTable(
                path: names, target: "y", task: .regression, inputColumns: nil, limit: nil, name: nil, chunkSize: chunkSize)
            XCTAssertEqual(table.inputColumns, ["é", "€", "𝄞"], "chunk size \(chunkSize)")
        }
    }

    func testErrorMessagesStayOnOneLine() throws {
        let cell = errorMessage {
            _ = try CSVDataset.parse(text: "x,y\n\"1\r\n2\",3\n", fileName: "n.csv", target: "y", task: .regression)
        }
        XCTAssertEqual(cell, "csv: n.csv: line 2, column 1 'x': '1\\r\\n2' is not a finite number")
        let header = errorMessage {
            _ = try CSVDataset.parse(text: "\"a\nb\",\"\u{1B}[2J\"\n1,2\n", fileName: "n.csv", target: "y", task: .regression)
        }
        XCTAssertEqual(header, "csv: n.csv: no column named 'y'; the columns are 'a\\nb', '\\u{1b}[2J'")
        let missing = directory.appendingPathComponent("two\nlines.csv").path
        let path = errorMessage { _ = try CSVDataset.load(path: missing, target: "y", task: .regression) }
        XCTAssertFalse(path.contains("\n"), path)
        XCTAssertTrue(path.hasSuffix("two\\nlines.csv: cannot read the file: no such file"), path)
    }

    // MARK: Files that are not regular files

    func testFIFOIsRefusedWithoutBlocking() throws {
        // Opening a FIFO that has no writer blocks forever; it must be refused
        // from its type alone. Each load runs on a thread with a deadline so a
        // regression fails here instead of hanging the test run.
        let fifo = directory.appendingPathComponent("pipe.csv").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0, String(cString: strerror(errno)))
        let images = try write("images", idxImages(count: 1, rows: 1, cols: 1, pixels: [0]))
        let labels = try write("labels", idxLabels([0]))
        let expected = "\(fifo): cannot read the file: it is a FIFO (named pipe), not a regular file"
        XCTAssertEqual(messageWithin(seconds: 10, unblocking: fifo) { _ = try CSVDataset.load(path: fifo, target: "y", task: .regression) }, expected)
        XCTAssertEqual(messageWithin(seconds: 10, unblocking: fifo) { _ = try IDXDataset.load(images: fifo, labels: labels) }, expected)
        XCTAssertEqual(messageWithin(seconds: 10, unblocking: fifo) { _ = try IDXDataset.load(images: images, labels: fifo) }, expected)

        // A symbolic link is followed to what it names.
        let link = directory.appendingPathComponent("link.csv").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: fifo)
        XCTAssertEqual(
            messageWithin(seconds: 10, unblocking: fifo) { _ = try CSVDataset.load(path: link, target: "y", task: .regression) },
            "\(link): cannot read the file: it is a FIFO (named pipe), not a regular file")
    }

    func testDevicesAndDirectoriesAreRefused() throws {
        // /dev/zero never ends: reading it "to the end" would fill memory.
        let labels = try write("labels", idxLabels([0]))
        let device = "/dev/zero: cannot read the file: it is a character device, not a regular file"
        XCTAssertEqual(errorMessage { _ = try CSVDataset.load(path: "/dev/zero", target: "y", task: .regression) }, device)
        XCTAssertEqual(errorMessage { _ = try IDXDataset.load(images: "/dev/zero", labels: labels) }, device)
        XCTAssertEqual(
            errorMessage { _ = try CSVDataset.load(path: "/dev/null", target: "y", task: .regression) },
            "/dev/null: cannot read the file: it is a character device, not a regular file")
        XCTAssertEqual(
            errorMessage { _ = try CSVDataset.load(path: directory.path, target: "y", task: .regression) },
            "\(directory.path): cannot read the file: it is a directory, not a file")
    }

    func testUnreadablePathsGiveTheSystemReason() throws {
        // The C library's words, never "NSCocoaErrorDomain error 256".
        let file = try write("plain.csv", "x,y\n1,2\n")
        let missing = directory.appendingPathComponent("missing.csv").path
        XCTAssertEqual(
            errorMessage { _ = try CSVDataset.load(path: missing, target: "y", task: .regression) },
            "\(missing): cannot read the file: no such file")
        let throughFile = file + "/inner.csv"
        XCTAssertEqual(
            errorMessage { _ = try CSVDataset.load(path: throughFile, target: "y", task: .regression) },
            "\(throughFile): cannot read the file: not a directory")
        let dangling = directory.appendingPathComponent("dangling.csv").path
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: missing)
        XCTAssertEqual(
            errorMessage { _ = try CSVDataset.load(path: dangling, target: "y", task: .regression) },
            "\(dangling): cannot read the file: no such file")
        let link = directory.appendingPathComponent("link.csv").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        XCTAssertEqual(try CSVDataset.load(path: link, target: "y", task: .regression).inputs.storage, [1])
    }

    func testFileWithoutReadPermissionSaysPermissionDenied() throws {
        // root reads any file whatever its mode, so the case cannot be made there.
        try XCTSkipIf(getuid() == 0, "running as root: permissions are not enforced")
        let locked = try write("locked.csv", "x,y\n1,2\n")
        XCTAssertEqual(chmod(locked, 0), 0)
        defer { _ = chmod(locked, 0o644) }
        XCTAssertEqual(
            errorMessage { _ = try CSVDataset.load(path: locked, target: "y", task: .regression) },
            "\(locked): cannot read the file: permission denied")
    }

    func testIDXPixelsAcrossReadChunks() throws {
        // More pixels than one read chunk, so the conversion crosses chunk boundaries.
        let count = 1100, side = 32
        let pixels = (0..<(count * side * side)).map { UInt8($0 % 251) }
        XCTAssertGreaterThan(pixels.count, DataFile.defaultChunkSize)
        let images = try write("images", idxImages(count: UInt32(count), rows: UInt32(side), cols: UInt32(side), pixels: pixels))
        let labels = try write("labels", idxLabels((0..<count).map { UInt8($0 % 10) }))
        let data = try IDXDataset.load(images: images, labels: labels)
        XCTAssertEqual(data.inputs.storage, pixels.map { Float($0) / 255 })
        let limited = try IDXDataset.load(images: images, labels: labels, limit: 1030)
        XCTAssertEqual(limited.inputs.storage, Array(data.inputs.storage.prefix(1030 * side * side)))
    }

    // MARK: Helpers

    /// The CSV tokenizer as it was before streaming (the whole file in one
    /// array), kept as the reference the streaming one must agree with.
    private static func wholeFileTokenize(_ bytes: [UInt8], file: String) throws(DataError) -> [CSVDataset.Record] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        var records: [CSVDataset.Record] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var fields: [String] = []
        var field: [UInt8] = []
        var fieldWasQuoted = false
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
            if !blank || wasQuotedRecord { records.append(CSVDataset.Record(fields: fields, line: recordLine)) }
            fields.removeAll(keepingCapacity: true)
            wasQuotedRecord = false
        }

        while i < bytes.count {
            let byte = bytes[i]
            if byte == quote && field.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) && !fieldWasQuoted {
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
                field.append(byte)
                i += 1
            }
        }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { finishRecord() }
        return records
    }

    /// Records as comparable text, or the error's message.
    private static func describe(_ body: () throws -> [CSVDataset.Record]) -> String {
        do {
            return try body().map { "\($0.line):\($0.fields)" }.joined(separator: " | ")
        } catch {
            return "error: \(error)"
        }
    }

    /// The message `body` fails with, or a note that it did not fail.
    private static func message(of body: () throws -> Void) -> String {
        do {
            try body()
            return "no error was thrown"
        } catch let error as DataError {
            return error.description
        } catch {
            return "not a DataError: \(error)"
        }
    }

    /// Like `errorMessage`, but `body` runs on its own thread and the test
    /// fails if it has not finished within `seconds`; `fifo` is then opened
    /// for writing so a blocked open returns and the thread can end.
    private func messageWithin(
        seconds: Double, unblocking fifo: String, file: StaticString = #filePath, line: UInt = #line,
        _ body: @escaping @Sendable () throws -> Void
    ) -> String {
        final class Outcome: @unchecked Sendable {
            // Written before `done` is signalled, read after it is waited for.
            var message = ""
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            outcome.message = Self.message(of: body)
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .timedOut else { return outcome.message }
        XCTFail("still blocked after \(seconds) s", file: file, line: line)
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        if writer >= 0 { _ = close(writer) }
        _ = done.wait(timeout: .now() + 5)
        return ""
    }

}
