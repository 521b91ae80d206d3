import XCTest
@testable import SpectralCore

/// The data CSV reader under the record battery's number shapes: every cell
/// of a small table set to values that overflow `Float`, `Int` or `Double`,
/// that are not numbers, or that carry control characters; and random byte
/// edits. Each table loads or fails with one line naming the file; nothing
/// traps, and what loads is finite.
final class CSVMutationTests: XCTestCase {
    static let table = "x1,x2,label\n0.5,1.5,0\n-2,3e-3,1\n4,5,2\n1e-3,-7.25,1\n"
    static let hostile = ["1e19", "-1e19", "3.5e38", "-3.5e38", "1.7e308", "-1.7e308", "1e999", "-1e999", "nan", "NaN", "inf", "-inf",
                          "4.9e-324", "1e-46", "9223372036854775808", "0x1p3", "", " ", "\"1\"", "1,5", "\u{1B}[2J", "٣", "1e", "--1", "+.5"]

    func load(_ text: String, task: CSVDataset.Task) {
        do {
            let loaded = try CSVDataset.parse(text: text, fileName: "m.csv", target: "label", task: task)
            XCTAssertTrue(loaded.dataset.inputs.storage.allSatisfy(\.isFinite), "inputs are finite: \(text)")
        } catch {
            let message = error.description
            XCTAssertTrue(message.contains("m.csv"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
    }

    func testEveryCellTakesHostileValues() {
        let rows = Self.table.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        for row in 1..<rows.count {
            for column in 0..<rows[row].count {
                for value in Self.hostile {
                    var mutated = rows
                    mutated[row][column] = value
                    let text = mutated.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
                    load(text, task: .regression)
                    load(text, task: .classification)
                }
            }
        }
    }

    func testRandomByteEditsNeverCrash() {
        var rng = SeededGenerator(seed: 28)
        let alphabet = Array("0123456789.,-+eE\"\n\r \tnaif".utf8) + [0, 0x1B, 0xFF]
        for _ in 0..<2000 {
            var bytes = Array(Self.table.utf8)
            for _ in 0..<(1 + rng.index(below: 6)) where !bytes.isEmpty {
                let position = rng.index(below: bytes.count)
                switch rng.index(below: 3) {
                case 0: bytes[position] = alphabet[rng.index(below: alphabet.count)]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[rng.index(below: alphabet.count)], at: position)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            load(text, task: rng.index(below: 2) == 0 ? .regression : .classification)
        }
    }
}
