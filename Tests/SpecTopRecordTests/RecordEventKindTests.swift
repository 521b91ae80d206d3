import Foundation
import SpecTopRecord
import XCTest

/// One spelling of every event kind for every writer and reader.
final class RecordEventKindTests: XCTestCase {
    func testEveryKnownKindRoundTripsThroughARecordLine() throws {
        for kind in RecordEventKind.known {
            let line = RecordLines.encode(.event(kind: kind, model: "m", step: 3, wall: 1, detail: "d"))
            guard case .event(let event)? = RecordLine.decode(Data(line.utf8)) else { return XCTFail(line) }
            XCTAssertEqual(event.kind, kind, line)
            XCTAssertTrue(kind.isKnown)
        }
    }

    /// The drift this type ends: the probe wrote `no_spectrum`, the engine and
    /// every reader `spectrum`. Both now read as the one kind, written `spectrum`.
    func testTheNoSpectrumEventHasOneSpellingAndReadsTheOldOne() throws {
        XCTAssertEqual(RecordEventKind.noSpectrum.name, "spectrum")
        for spelling in ["spectrum", "no_spectrum"] {
            let line = #"{"type":"event","event":"\#(spelling)","model":"gpt","wall":0,"detail":"m = 16896 outputs"}"#
            guard case .event(let event)? = RecordLine.decode(Data(line.utf8)) else { return XCTFail(line) }
            XCTAssertEqual(event.kind, .noSpectrum, spelling)
            var run = LiveRun(header: RecordHeader(version: 1))
            run.apply(.event(event))
            XCTAssertEqual(run.modelSnapshots().first?.spectrumUnavailable, "m = 16896 outputs", spelling)
        }
    }

    func testAnUnknownKindIsKeptByName() throws {
        let line = #"{"type":"event","event":"lr_drop","wall":2,"detail":"0.1 -> 0.01"}"#
        guard case .event(let event)? = RecordLine.decode(Data(line.utf8)) else { return XCTFail(line) }
        XCTAssertEqual(event.kind, .other("lr_drop"))
        XCTAssertFalse(event.kind.isKnown)
        XCTAssertEqual(RecordLines.encode(.event(kind: event.kind, model: nil, step: nil, wall: 2, detail: nil)),
                       #"{"type":"event","event":"lr_drop","wall":2}"#)
        let record = try RunRecord.parse(Data(("{\"type\":\"run\",\"version\":1}\n" + line + "\n").utf8), file: "r.jsonl")
        XCTAssertEqual(record.events.map(\.kind), [.other("lr_drop")])
    }
}

extension RecordEventKindTests {
    /// The specification's table of event kinds and the typed kinds are the
    /// same list: a kind added to, renamed in or dropped from either fails here.
    func testTheSpecificationListsEveryKindAndNoOther() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/RECORD.md"), encoding: .utf8)
        let section = try XCTUnwrap(text.range(of: "### Event kinds")).upperBound
        let table = text[section...].split(separator: "\n").drop { !$0.hasPrefix("|") }.prefix { $0.hasPrefix("|") }
        let documented = table.dropFirst(2).compactMap { row -> String? in
            row.split(separator: "|").first.map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: " `")) }
        }
        XCTAssertEqual(Set(documented), Set(RecordEventKind.known.map(\.name)), "docs/RECORD.md's Event kinds table")
        XCTAssertEqual(documented.count, RecordEventKind.known.count)
    }
}
