import Foundation
import XCTest
@testable import SpecTopReaders
import SpecTopRecord

/// 10,000 random mutations of a real event file (the SummaryWriter fixture):
/// bits flipped, bytes overwritten, inserted or deleted, the file cut short.
/// Whatever the damage, reading never traps or hangs, every value it returns
/// is one the writer logged (the checksums keep damaged bytes out), and every
/// problem names a byte offset inside the file. Seconds long: the slow tier
/// (Makefile SLOW_UNIT_TESTS).
final class ForeignLogMutationTests: XCTestCase {
    struct Logged: Hashable { var tag: String; var step: Int; var bits: UInt64 }

    func testTenThousandMutationsNeverCrashAndReadOnlyWhatWasLogged() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ForeignLogTests.eventFile)))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-mutations-\(UUID().uuidString)/w16")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let path = directory.appendingPathComponent("events.out.tfevents.1.mutated").path

        func read(_ bytes: [UInt8], wholePath: Bool = true) throws -> (values: [Logged], issues: [ForeignLogIssue], records: Int) {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            let descriptor = open(path, O_RDONLY)
            defer { close(descriptor) }
            let reader = ForeignFileReader(path: path, model: "w16", kind: .tensorboard)
            var values: [Logged] = [], issues: [ForeignLogIssue] = []
            _ = reader.read(descriptor: descriptor, size: bytes.count, scalar: { values.append(Logged(tag: $0.tag, step: $0.step, bits: $0.value.bitPattern)) },
                            issue: { issues.append($0) })
            reader.finish(size: bytes.count, scalar: { _ in }, issue: { issues.append($0) })
            // The whole path too (translation and the reducer), on a share of the trials: it decodes everything again.
            if wholePath { _ = try ForeignLog(file: path).read() }
            return (values, issues, reader.recordCount)
        }

        let reference = try read(original)
        XCTAssertEqual(reference.issues, [])
        let logged = Set(reference.values)
        XCTAssertGreaterThan(logged.count, 100)
        var generator = SystemRandomNumberGenerator()
        var damaged = 0
        for trial in 0..<10_000 {
            var bytes = original
            switch trial % 5 {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &generator) { bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator)) }
            case 1:
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                for index in at..<min(bytes.count, at + Int.random(in: 1...16, using: &generator)) { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
            case 2:
                bytes.insert(contentsOf: (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) },
                             at: Int.random(in: 0...bytes.count, using: &generator))
            case 3:
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &generator)))
            default:
                bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &generator)...)
            }
            guard bytes != original else { continue }
            let result = try read(bytes, wholePath: trial % 10 == 0)
            let foreign = result.values.filter { !logged.contains($0) }
            XCTAssertEqual(foreign.count, 0, "trial \(trial): values the writer never logged: \(foreign.prefix(3))")
            XCTAssertLessThanOrEqual(result.records, reference.records, "trial \(trial)")
            for issue in result.issues {
                let offset = Int(issue.location.dropFirst("byte ".count))
                XCTAssertTrue(issue.location.hasPrefix("byte ") && offset.map { $0 >= 0 && $0 < bytes.count } == true, "trial \(trial): \(issue)")
            }
            if result.issues.isEmpty {
                // No damage seen: only a cut at a record boundary, or a deletion of exactly whole records,
                // leaves a file that reads clean: then the values are the logged ones in order, a prefix
                // after a cut, some records fewer after a deletion.
                if trial % 5 == 4 {
                    XCTAssertEqual(result.values, Array(reference.values.prefix(result.values.count)), "trial \(trial)")
                } else {
                    var rest = reference.values[...]
                    let inOrder = result.values.allSatisfy { value in
                        guard let index = rest.firstIndex(of: value) else { return false }
                        rest = rest[(index + 1)...]
                        return true
                    }
                    XCTAssertTrue(inOrder, "trial \(trial): clean values out of the logged order")
                    XCTAssertLessThan(result.records, reference.records, "trial \(trial): bytes changed, yet every record read clean")
                }
            } else {
                damaged += 1
            }
        }
        XCTAssertGreaterThan(damaged, 9_000, "nearly every mutation is damage the reader must report")
    }
}
