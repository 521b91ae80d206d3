import Foundation
import XCTest
@testable import SpecTopReaders
import SpecTopRecord

/// The fixtures in examples/foreign-logs, written by the real writers
/// (scripts/make_foreign_log_fixtures.py: torch's SummaryWriter, Lightning's
/// CSVLogger), read back through the whole-read path every command uses.
final class ForeignLogTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/foreign-logs").path
    static let batch = 32.0

    /// The generator's `values(width, step)`, recomputed here.
    static func values(width: Double, step: Int) -> [String: Double] {
        let s = Double(step)
        let chiPos = 0.5 * pow(1 + s, -0.5) * pow(16 / width, 0.2)
        let chiNetRaw = width * (1 + 0.05 * s * width / 16)
        let chiLossRaw = exp(-0.2 * s) / batch
        return ["loss": 0.5 * exp(-0.1 * s * pow(width / 16, 0.3)), "chi_loss": chiLossRaw * batch, "chi_net": chiNetRaw / batch,
                "chi_coup": chiPos, "grad_norm_squared": chiLossRaw * chiNetRaw * chiPos]
    }

    private func scalar(_ record: RunRecord, _ model: String, _ name: String, step: Int) -> Double? {
        record.scalars[model]?.first { $0.step == step }?.values.first { $0.name == name }?.value
    }

    func testTensorBoardLogReadsEveryLoggedValueFloat32Exactly() throws {
        let reading = try ForeignLog(directory: Self.fixtures + "/tensorboard").read()
        let record = reading.record
        XCTAssertEqual(record.models.map(\.id), ["w16", "w64"])
        XCTAssertEqual(record.header.toolVersion, "tensorboard")
        XCTAssertEqual(reading.issues, [])
        for (model, width) in [("w16", 16.0), ("w64", 64.0)] {
            let samples = try XCTUnwrap(record.steps[model])
            XCTAssertEqual(samples.map(\.step), Array(0..<12), model)
            for sample in samples {
                // TensorBoard holds float32: each value is the float32 of the generator's double.
                let logged = Self.values(width: width, step: sample.step).mapValues { Double(Float($0)) }
                XCTAssertEqual(sample.loss, logged["loss"], "\(model) step \(sample.step)")
                XCTAssertEqual(sample.chiPos, logged["chi_coup"])
                XCTAssertEqual(sample.gradSq, logged["grad_norm_squared"])
                XCTAssertEqual(sample.rows, 32)
                // perspic's factors are normalised by its batch size; the record's are not.
                XCTAssertEqual(sample.recordedNormalizedChiNet, logged["chi_net"])
                XCTAssertEqual(sample.recordedNormalizedChiLoss, logged["chi_loss"])
                XCTAssertEqual(sample.chiNet, logged["chi_net"]! * 32)
                XCTAssertEqual(sample.chiLoss, logged["chi_loss"]! / 32)
                // Seconds since the event file was opened (its first event); the fixture logs every 10 s.
                XCTAssertEqual(sample.wall - samples[0].wall, 10 * Double(sample.step), accuracy: 1e-6)
                XCTAssertGreaterThanOrEqual(samples[0].wall, 0)
                XCTAssertEqual(scalar(record, model, "val_acc", step: sample.step), Double(Float(0.5 + 0.03 * Double(sample.step))))
                XCTAssertEqual(scalar(record, model, "epoch", step: sample.step), Double(sample.step / 4))
                XCTAssertEqual(scalar(record, model, "analysis_step", step: sample.step), Double(sample.step))
            }
        }
        // w64 logs the tensor form (new_style), one tag in double precision: read exactly.
        for step in 0..<12 { XCTAssertEqual(scalar(record, "w64", "lr_double", step: step), 1e-3 / Double(1 + step)) }
        XCTAssertEqual(reading.otherTags, ["weights"])
        XCTAssertEqual(Set(reading.keptNames.filter { $0.reason == nil }.map(\.name)), ["val_acc", "lr_double"])
    }

    func testLightningCSVReadsEveryRowAndMergesTheValidationRows() throws {
        let reading = try ForeignLog(directory: Self.fixtures + "/lightning_logs").read()
        let record = reading.record
        XCTAssertEqual(record.models.map(\.id), ["version_0", "version_1"])
        XCTAssertEqual(record.header.toolVersion, "lightning-csv")
        XCTAssertEqual(reading.issues, [])
        XCTAssertEqual(reading.notes, [], "Lightning repeats epoch in the validation row with the same value: no note")
        for (model, width) in [("version_0", 16.0), ("version_1", 64.0)] {
            let samples = try XCTUnwrap(record.steps[model])
            XCTAssertEqual(samples.map(\.step), Array(0..<12))
            for sample in samples {
                let logged = Self.values(width: width, step: sample.step)
                func close(_ a: Double?, _ b: Double?, _ what: String) {
                    guard let a, let b else { return XCTFail("\(model) \(sample.step) \(what): \(String(describing: a)) vs \(String(describing: b))") }
                    XCTAssertEqual(a, b, accuracy: 4 * b.ulp, "\(model) step \(sample.step) \(what)")
                }
                close(sample.loss, logged["loss"], "loss")
                close(sample.chiPos, logged["chi_coup"], "chi_pos")
                close(sample.recordedNormalizedChiNet, logged["chi_net"], "chi_net (perspic)")
                close(sample.chiNet, logged["chi_net"]! * 32, "chi_net")
                XCTAssertEqual(sample.rows, 32)
                XCTAssertEqual(scalar(record, model, "val_loss", step: sample.step).map { ($0 * 1e9).rounded() / 1e9 },
                               sample.step % 4 == 3 ? ((0.6 - 0.02 * Double(sample.step)) * 1e9).rounded() / 1e9 : nil)
            }
        }
    }

    func testCheckNamesWhatItCouldNotMapAndNothingElse() throws {
        let reading = try ForeignLog(directory: Self.fixtures + "/tensorboard").read()
        XCTAssertEqual(reading.mappedFields, ["loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "rows"])
        let kept = Dictionary(uniqueKeysWithValues: reading.keptNames.map { ($0.name, $0.reason) })
        XCTAssertNotNil(kept["epoch"] ?? nil)
        XCTAssertNotNil(kept["analysis_step"] ?? nil)
        XCTAssertNil(kept["chi_net"] as Any?, "a mapped key is not listed")
    }

    // MARK: the name table

    func testTheDocumentedNameTableIsTheOneTheReaderUses() throws {
        let usage = try String(contentsOfFile: URL(fileURLWithPath: Self.fixtures).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/USAGE.md").path, encoding: .utf8)
        let documented = usage.split(separator: "\n").compactMap { line -> String? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[0].hasPrefix("`"), cells[1].hasPrefix("`"), ["spectop", "perspic", "both"].contains(cells[2]) else { return nil }
            return "\(cells[0]) \(cells[1]) \(cells[2])"
        }
        XCTAssertEqual(documented, ForeignNames.table.map { "`\($0.key)` `\($0.field.rawValue)` \($0.scheme.rawValue)" },
                       "docs/USAGE.md's name table and ForeignNames.table must say the same, row for row")
    }

    private func translate(_ values: [(String, Double)], step: Int = 3, model: String = "m") -> (lines: [RecordLine], translator: ForeignTranslator) {
        var translator = ForeignTranslator()
        var lines: [RecordLine] = []
        for (tag, value) in values { lines += translator.add(ForeignScalar(tag: tag, step: step, wall: 100, value: value), model: model) }
        lines += translator.flushAll()
        return (lines, translator)
    }

    func testPrefixedSpectopNamesMapUnnormalised() throws {
        let (lines, translator) = translate([("spectop/loss", 0.25), ("spectop/chi_net", 40), ("spectop/chi_loss", 0.5),
                                             ("spectop/chi_pos", 0.1), ("spectop/grad_sq", 2), ("train/loss", 9)])
        guard case .step(_, let sample) = lines.first else { return XCTFail("no step line: \(lines)") }
        XCTAssertEqual([sample.loss, sample.chiNet, sample.chiLoss, sample.chiPos, sample.gradSq], [0.25, 40, 0.5, 0.1, 2])
        XCTAssertNil(sample.recordedNormalizedChiNet)
        guard case .scalars(_, let scalars) = lines.last else { return XCTFail("the other prefix's loss is no user scalar") }
        XCTAssertEqual(scalars.values, [.init(name: "train/loss", value: 9)])
        XCTAssertEqual(translator.keptNames.map(\.name), ["train/loss"])
    }

    /// perspic's `logarithmic_windows` at step 12 of a window centred at 10 (steps 10…14):
    /// `window_center` is spectop's `window`; the window's index and width stay user scalars, said why.
    func testPerspicWindowCentreIsTheStepsWindowAndItsIdAndWidthStayUserScalars() throws {
        let (lines, translator) = translate([("chi_net", 0.5), ("chi_loss", 3.2), ("chi_coup", 0.2), ("loss", 1), ("batch_size", 32),
                                             ("grad_norm_squared", 0.064), ("window_id", 7), ("window_center", 10), ("window_width", 5)], step: 12)
        guard case .step(_, let sample) = lines.first else { return XCTFail("no step line: \(lines)") }
        XCTAssertEqual(sample.window, 10)
        XCTAssertEqual(sample.chiNet, 16, "still read in perspic's scheme: 0.5 · 32")
        guard case .scalars(_, let scalars) = lines.last else { return XCTFail("no user scalars: \(lines)") }
        XCTAssertEqual(scalars.values, [.init(name: "window_id", value: 7), .init(name: "window_width", value: 5)])
        XCTAssertEqual(translator.keptNames.map(\.name), ["window_id", "window_width"])
        XCTAssertTrue(translator.keptNames.allSatisfy { $0.reason != nil }, "check says why each is kept")
        // The compare view's window means (W) group the steps of one window as for spectop's own log schedule.
        var history = MetricHistory()
        for (step, centre) in [(9, 9), (10, 10), (11, 10), (12, 10), (15, 15)] {
            let (window, _) = translate([("loss", 1), ("chi_coup", Double(step)), ("batch_size", 8), ("window_center", Double(centre))], step: step)
            guard case .step(_, let sample) = window.first else { return XCTFail("no step line") }
            history.append(sample)
        }
        let means = history.windowMeans(xs: history.steps.map(Double.init), ys: history.chiPos)
        XCTAssertEqual(means.x, [9, 10, 15])
        XCTAssertEqual(means.mean, [9, 11, 15])
    }

    func testPerspicFactorsWithoutBatchSizeStayUserScalars() throws {
        let (lines, translator) = translate([("analysis/chi_net", 0.5), ("analysis/chi_coup", 0.2), ("analysis/loss", 1)])
        guard case .step(_, let sample) = lines.first else { return XCTFail("no step line") }
        XCTAssertEqual(sample.chiPos, 0.2)
        XCTAssertTrue(sample.chiNet.isNaN, "χ_net/n without n is no χ_net")
        guard case .scalars(_, let scalars) = lines.last else { return XCTFail("the normalised chi_net was dropped") }
        XCTAssertEqual(scalars.values, [.init(name: "analysis/chi_net", value: 0.5)])
        XCTAssertEqual(translator.notes.count, 1)
        XCTAssertTrue(translator.notes[0].contains("batch_size"), translator.notes[0])
    }

    func testPerspicCrossMeasurementIsDenormalisedWithBothBatchSizes() throws {
        let (lines, _) = translate([("chi_net", 2), ("chi_loss", 3), ("chi_coup", 0.25), ("grad_norm_squared", 1.5), ("batch_size", 4),
                                    ("cross_chi_net", 5), ("cross_chi_loss", 6), ("cross_chi_coup", -0.1), ("cross_loss", 0.7),
                                    ("cross_grad_dot_product", -0.3), ("cross_batch_size", 9)])
        guard case .step(_, let sample) = lines.first, let cross = sample.cross else { return XCTFail("no cross measurement: \(lines)") }
        XCTAssertEqual(sample.chiNet, 8)
        XCTAssertEqual(sample.chiLoss, 0.75)
        XCTAssertEqual(cross.rows, 9)
        XCTAssertEqual(cross.chiNet, 5 * 6)  // √(4·9) = 6
        XCTAssertEqual(cross.chiLoss, 1)
        XCTAssertEqual(cross.chiPos, -0.1)
        XCTAssertEqual(cross.gradDot, -0.3)
        XCTAssertEqual(cross.recordedNormalizedChiNet, 5)
        XCTAssertEqual(lines.count, 1, "analysis_step absent: no user scalars")
    }

    func testAStepLoggedInPiecesIsOneStepLineAndANewStepFlushesTheLast() {
        var translator = ForeignTranslator()
        XCTAssertEqual(translator.add(ForeignScalar(tag: "chi_pos", step: 1, wall: 5, value: 0.3), model: "m"), [])
        XCTAssertEqual(translator.add(ForeignScalar(tag: "loss", step: 1, wall: 6, value: 0.9), model: "m"), [])
        let lines = translator.add(ForeignScalar(tag: "loss", step: 2, wall: 7, value: 0.8), model: "m")
        guard lines.count == 1, case .step(_, let sample) = lines[0] else { return XCTFail("\(lines)") }
        XCTAssertEqual(sample.step, 1)
        XCTAssertEqual(sample.chiPos, 0.3)
        XCTAssertEqual(sample.loss, 0.9)
        XCTAssertEqual(sample.wall, 1, "seconds since the model's first value")
        XCTAssertTrue(translator.hasPending)
    }

    func testValuesArrivingAfterTheirStepWasShownReopenItAndSendItWhole() {
        var translator = ForeignTranslator()
        _ = translator.add(ForeignScalar(tag: "chi_coup", step: 4, wall: 1, value: 0.3), model: "m")
        _ = translator.add(ForeignScalar(tag: "val_acc", step: 4, wall: 1, value: 0.5), model: "m")
        let first = translator.flush(model: "m")  // the file went quiet mid-step
        XCTAssertEqual(first.count, 2)
        _ = translator.add(ForeignScalar(tag: "loss", step: 4, wall: 2, value: 0.9), model: "m")
        let again = translator.flush(model: "m")
        guard again.count == 1, case .step(_, let sample) = again[0] else { return XCTFail("\(again)") }
        XCTAssertEqual(sample.step, 4)
        XCTAssertEqual(sample.chiPos, 0.3, "the values shown before are kept")
        XCTAssertEqual(sample.loss, 0.9)
        // val_acc was sent already: no second point for it.
    }

    /// TensorBoard and Lightning never write an end line, so its absence says nothing of how the
    /// run went: claims (text and JSON), report and replay say so, in place of "no end line yet",
    /// which they keep for a spectop record that lacks one.
    func testAForeignLogsMissingEndLineIsSaidToBeTheFormatsNotTheRunsInClaimsReportAndReplay() throws {
        for log in [Self.fixtures + "/tensorboard", Self.fixtures + "/lightning_logs"] {
            let record = try ForeignLog(directory: log).read().record
            XCTAssertNil(record.endReason)
            let claims = ClaimsEvaluator.render(ClaimsEvaluator.evaluate(record), record: record)
            XCTAssertTrue(claims.contains("note: TensorBoard and Lightning logs carry no end line: the claims use each model's last logged step"), claims)
            XCTAssertFalse(claims.contains("no end line yet"), claims)
            let json = ClaimsEvaluator.json(ClaimsEvaluator.evaluate(record), record: record)
            XCTAssertTrue(json.contains("TensorBoard and Lightning logs carry no end line"), json)
            XCTAssertFalse(json.contains("no end line yet"), json)
            let page = HTMLReport(record: record).html()
            XCTAssertTrue(page.contains("<td>none: TensorBoard and Lightning logs carry no end line, so each model ends at its last logged step</td>"), log)
            XCTAssertFalse(page.contains("still running, or cut off") || page.contains("no end line yet"), log)
            let replay = ReplaySource(record: record)
            replay.perform(.jumpToEnd)
            let footer = try XCTUnwrap(replay.statusMessage())
            XCTAssertTrue(footer.contains("recorded (the last logged step: TensorBoard and Lightning logs have no end line)"), footer)
        }
        // A spectop record cut off before its end line: that is news, and said as before.
        let cut = try RunRecord.parse(Data("""
            {"type":"run","version":1,"models":[{"id":"m","width":4,"depth":1,"params":9,"trainable":"all","mode":"active"}]}
            {"type":"step","model":"m","step":3,"loss":1,"chi_loss":0.5,"chi_net":4,"chi_pos":0.1,"grad_sq":2,"wall":0}

            """.utf8), file: "cut.jsonl")
        XCTAssertTrue(ClaimsEvaluator.render(ClaimsEvaluator.evaluate(cut), record: cut).contains("note: the run has no end line yet (still running or interrupted)"))
        XCTAssertTrue(HTMLReport(record: cut).html().contains("<td>no end line: still running, or cut off</td>"))
        let replay = ReplaySource(record: cut)
        replay.perform(.jumpToEnd)
        XCTAssertEqual(replay.statusMessage()?.hasPrefix("replay cut.jsonl: step 3 of 3 recorded (no end line: still running or cut off)"), true,
                       replay.statusMessage() ?? "")
    }

    // MARK: damage

    /// The offsets of every record of an event file, by its framing (read independently of TFRecordReader).
    static func recordOffsets(_ bytes: [UInt8]) -> [Int] {
        var offsets: [Int] = [], offset = 0
        while offset + 16 <= bytes.count {
            offsets.append(offset)
            let length = bytes[offset..<offset + 8].reversed().reduce(0) { $0 << 8 | Int($1) }
            offset += 16 + length
        }
        return offsets
    }

    static var eventFile: String { fixtures + "/tensorboard/w16/events.out.tfevents.fixture" }

    private func readMutated(_ bytes: [UInt8]) throws -> ForeignLog.Reading {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-foreign-\(UUID().uuidString)/w16")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let path = directory.appendingPathComponent("events.out.tfevents.1.test").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return try ForeignLog(file: path).read()
    }

    func testBadDataChecksumIsReportedAtItsRecordAndTheRestIsRead() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.eventFile)))
        let offsets = Self.recordOffsets(bytes)
        let victim = offsets[5]
        bytes[victim + 14] ^= 0x40  // inside its data
        let reading = try readMutated(bytes)
        XCTAssertEqual(reading.issues.count, 1)
        XCTAssertEqual(reading.issues.first?.location, "byte \(victim)")
        XCTAssertTrue(reading.issues.first?.message.contains("bad data checksum") == true, "\(reading.issues)")
        XCTAssertEqual(reading.recordCount, offsets.count - 1)
    }

    func testWrongLengthIsReportedAndTheReaderFindsTheNextRecord() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.eventFile)))
        let offsets = Self.recordOffsets(bytes)
        let victim = offsets[7]
        bytes[victim] &+= 3  // the length no longer matches its checksum
        let reading = try readMutated(bytes)
        XCTAssertEqual(reading.issues.map(\.location), ["byte \(victim)"])
        XCTAssertTrue(reading.issues[0].message.contains("bad length checksum"), reading.issues[0].message)
        XCTAssertEqual(reading.recordCount, offsets.count - 1, "only the damaged record is lost")
    }

    func testTruncatedLastRecordIsReportedWithItsOffset() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.eventFile)))
        let offsets = Self.recordOffsets(bytes)
        let last = offsets[offsets.count - 1]
        let reading = try readMutated(Array(bytes[..<(last + 20)]))
        XCTAssertEqual(reading.issues.map(\.location), ["byte \(last)"])
        XCTAssertTrue(reading.issues[0].message.contains("truncated"), reading.issues[0].message)
        XCTAssertEqual(reading.recordCount, offsets.count - 1)
    }

    func testAFileOfNoRecordsAtAllSaysWhereTheSearchBeganAndEnded() throws {
        var generator = SystemRandomNumberGenerator()
        let junk = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let reading = try readMutated(junk)
        XCTAssertEqual(reading.recordCount, 0)
        XCTAssertEqual(reading.issues.map(\.location), ["byte 0", "byte 0"])
        XCTAssertTrue(reading.issues[1].message.contains("no good record from here to the end of the file (300 bytes)"), reading.issues[1].message)
    }

    func testCRC32CMatchesTheStandardCheckValue() {
        // RFC 3720 (iSCSI) B.4: CRC-32C of "123456789" is 0xE3069283; 32 zero bytes give 0x8A9136AA.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    }

    func testACSVWithoutAStepColumnIsRefusedWithAMessage() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("metrics.csv").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("a,b\n1,2\n".utf8)))
        XCTAssertThrowsError(try ForeignLog(file: path).read()) { error in
            XCTAssertTrue("\(error)".contains("no \"step\" column"), "\(error)")
        }
    }
}
