import Foundation
import XCTest
@testable import SpectralCore

/// What the data-loading tests share: a scratch directory per test, file
/// writers, IDX builders and the one-line `DataError` message check.
class DataFileTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The message of the `DataError` `body` throws, which must be one line;
    /// fails the test if it throws nothing or another error.
    func errorMessage(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) -> String {
        do {
            try body()
            XCTFail("expected a DataError, nothing was thrown", file: file, line: line)
        } catch let error as DataError {
            XCTAssertEqual(error.localizedDescription, error.description, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "one line: \(error.description)", file: file, line: line)
            return error.description
        } catch {
            XCTFail("expected a DataError, got \(error)", file: file, line: line)
        }
        return ""
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Array(text.utf8))
    }

    func bigEndian(_ words: [UInt32]) -> [UInt8] {
        words.flatMap { word in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> $0) } }
    }

    func idxImages(count: UInt32, rows: UInt32, cols: UInt32, pixels: [UInt8]) -> [UInt8] {
        bigEndian([IDXDataset.imagesMagic, count, rows, cols]) + pixels
    }

    func idxLabels(_ labels: [UInt8]) -> [UInt8] {
        bigEndian([IDXDataset.labelsMagic, UInt32(labels.count)]) + labels
    }
}
