import Foundation
@testable import SpecTopReaders
import SpecTopRecord
@testable import SpecTopUI
import XCTest

/// The user's own numbers (`probe.log`, `scalars` lines): read by every
/// reader as docs/RECORD.md says — export's `user:` columns, the compare
/// view's `u` chart, the spectrum view's latest values, replay at its cursor.
final class UserScalarsTests: XCTestCase {
    static let text = """
    {"type":"run","version":1,"models":[{"id":"m","steps":4}]}
    {"type":"step","model":"m","step":0,"loss":1,"chi_loss":1,"chi_net":4,"chi_pos":0.5,"grad_sq":2,"wall":0}
    {"type":"scalars","model":"m","step":0,"wall":0.1,"values":{"lr":0.1}}
    {"type":"scalars","model":"m","step":1,"wall":0.2,"values":{"val/loss":2.5,"accuracy":0.5}}
    {"type":"step","model":"m","step":2,"loss":0.5,"chi_loss":1,"chi_net":4,"chi_pos":0.25,"grad_sq":1,"wall":0.3}
    {"type":"scalars","model":"m","step":2,"wall":0.3,"values":{"val/loss":2.0,"accuracy":0.75,"junk":"text","":1}}
    {"type":"scalars","model":"m","step":2,"wall":0.35,"values":{"val/loss":1.5,"diverging":null}}
    {"type":"scalars","model":"other","step":3,"wall":0.4,"values":{"lr":0.05}}

    """

    func testTheLinesAreReadAndExportedAsUserColumns() throws {
        let record = try RunRecord.parse(Data(Self.text.utf8), file: "u.jsonl")
        XCTAssertEqual(record.scalars["m"]?.count, 4)
        XCTAssertEqual(record.scalars["m"]?[2].values.map(\.name), ["val/loss", "accuracy", "junk"], "an empty name is dropped, a string kept as a gap")
        XCTAssertTrue(record.scalars["m"]![2].values[2].value.isNaN)
        XCTAssertEqual(record.models.map(\.id), ["m", "other"], "a model only scalars name is a model too")

        let rows = CSVExportTests.parse(CSVExport.text(record, wide: false))
        let header = rows[0]
        XCTAssertEqual(Array(header.suffix(5)), ["user:lr", "user:val/loss", "user:accuracy", "user:junk", "user:diverging"])
        let table = rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        let m = table.filter { $0["model"] == "m" }
        XCTAssertEqual(m.map { $0["step"]! }, ["0", "1", "2"], "step 1 has scalars only: a row of its own")
        XCTAssertEqual(m.map { $0["user:lr"]! }, ["0.1", "", ""])
        XCTAssertEqual(m.map { $0["user:val/loss"]! }, ["", "2.5", "1.5"], "the later value at one step counts")
        XCTAssertEqual(m.map { $0["user:accuracy"]! }, ["", "0.5", "0.75"])
        XCTAssertEqual(m[1]["loss"], "", "measured cells are empty at a step without a step line")
        XCTAssertEqual(m[2]["loss"], "0.5")
        XCTAssertEqual(table.first { $0["model"] == "other" }?["user:lr"], "0.05")
        let wide = CSVExportTests.parse(CSVExport.text(record, wide: true))
        XCTAssertTrue(wide[0].contains("m:user:val/loss") && wide[0].contains("other:user:lr"), "\(wide[0])")
    }

    func testWatchAndReplayShowThemInTheCompareAndSpectrumViews() throws {
        var live = LiveRun(header: try RecordHeader.decode(Data(Self.text.split(separator: "\n")[0].utf8), file: "u.jsonl"))
        for line in Self.text.split(separator: "\n").dropFirst() { live.apply(RecordLine.decode(Data(line.utf8))!) }
        let model = try XCTUnwrap(live.modelSnapshots().first { $0.id == "m" })
        XCTAssertEqual(model.userScalars.map(\.name), ["lr", "val/loss", "accuracy", "junk", "diverging"])
        let valLoss = try XCTUnwrap(model.userScalars.first { $0.name == "val/loss" })
        XCTAssertEqual(valLoss.steps, [1, 2])
        XCTAssertEqual(valLoss.values, [2.5, 1.5])
        XCTAssertEqual(valLoss.latest?.value, 1.5)

        // Replay at its cursor: only what was logged by then.
        let replay = ReplaySource(record: try RunRecord.parse(Data(Self.text.utf8), file: "u.jsonl"))
        replay.perform(.togglePause)
        replay.perform(.jumpToStart)
        replay.perform(.scrub(by: 1))
        let atOne = try XCTUnwrap(replay.snapshot().models.first { $0.id == "m" })
        XCTAssertEqual(atOne.userScalars.first { $0.name == "val/loss" }?.latest?.value, 2.5)

        let monitor = MonitorController(source: replay, info: MonitorInfo(preset: "u", dataset: "", blasCore: ""), mode: .replay)
        replay.perform(.jumpToEnd)
        monitor.refresh()
        monitor.handle(.character("v"))
        monitor.handle(.character("u"))
        monitor.handle(.character("u"))
        XCTAssertEqual(monitor.state.userScalar, "val/loss")
        var buffer = CellBuffer(width: 140, height: 44)
        monitor.render(into: &buffer, glyphs: .unicode)
        XCTAssertTrue(buffer.text.contains("user: val/loss [log]"), buffer.text)
        for _ in 0..<4 { monitor.handle(.character("u")) }
        XCTAssertNil(monitor.state.userScalar, "after the last name, none")

        var spectrum = CellBuffer(width: 120, height: 40)
        SpectrumView(model: model, state: MonitorState()).render(into: &spectrum, area: Rect(x: 0, y: 0, width: 120, height: 40), glyphs: .unicode)
        XCTAssertTrue(spectrum.lines.contains { $0.contains("val/loss") && $0.contains("1.50") }, spectrum.text)
        XCTAssertTrue(spectrum.lines.contains { $0.contains("lr") && $0.contains("@0") }, "a value logged at another step says its step:\n\(spectrum.text)")
    }

    func testAModelKeepsAtMost64Names() throws {
        var live = LiveRun(header: RecordHeader(version: 1))
        for k in 0..<70 {
            live.apply(.scalars(model: "m", ScalarsSample(step: k, wall: 0, values: [.init(name: "n\(k)", value: 1)])))
        }
        XCTAssertEqual(live.modelSnapshots()[0].userScalars.count, LiveRun.scalarNameLimit)
        XCTAssertEqual(live.droppedScalarNameCount, 6)
    }

    /// Watch says how many names a record's models went past the limit with.
    func testWatchSaysHowManyNamesItLeftOut() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-scalars-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var text = #"{"type":"run","version":1,"models":[{"id":"m"}]}"# + "\n"
        for k in 0..<(LiveRun.scalarNameLimit + 5) { text += #"{"type":"scalars","model":"m","step":\#(k),"wall":0,"values":{"n\#(k)":1}}"# + "\n" }
        let file = directory.appendingPathComponent("r.jsonl").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let source = WatchSource(targets: [.file(file)])
        source.refresh(now: 0)
        source.refresh(now: 20)
        XCTAssertTrue(source.statusMessage()?.contains("5 scalar names not shown (at most 64 per model)") == true, source.statusMessage() ?? "none")
    }
}
