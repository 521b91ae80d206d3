import Foundation
import XCTest
@testable import SpecTopReaders
import SpecTopRecord

/// `spectop watch` on foreign logs that grow: the follower against a whole
/// read of the same bytes (the reference), with partial records, tail-first
/// opens and rewritten files. No sleeps: the tests move the clock themselves.
final class ForeignLogFollowTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-follow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A perspic-named model's event file, `steps` steps.
    static func eventFile(steps: Int) throws -> [UInt8] {
        var bytes = TensorBoardRecords.fileVersion(wall: 1000)
        for step in 0..<steps {
            let s = Float(step)
            bytes += TensorBoardRecords.scalars(step: step, wall: 1000 + Double(step), [
                ("loss", 1 / (1 + s)), ("chi_net", 2 + s / 100), ("chi_loss", 3 / (1 + s)), ("chi_coup", 0.5 / (1 + s).squareRoot()),
                ("grad_norm_squared", 0.1 / (1 + s)), ("batch_size", 16), ("val_acc", s / Float(steps)),
            ])
        }
        return bytes
    }

    private func write(_ bytes: [UInt8], to path: String, append: Bool = false) throws {
        if append, let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(Data(bytes))
            handle.closeFile()
        } else {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        }
    }

    private func snapshot(_ follower: ForeignLogFollower, model: String) throws -> ModelSnapshot {
        let run = try XCTUnwrap(follower.run)
        return try XCTUnwrap(run.modelSnapshots().first { $0.id == model }, "\(run.modelSnapshots().map(\.id))")
    }

    func testAGrowingEventFileIsFollowedInPiecesCutMidRecordAndEndsAsAWholeRead() throws {
        let model = directory.appendingPathComponent("w32")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let path = model.appendingPathComponent("events.out.tfevents.1.host").path
        let bytes = try Self.eventFile(steps: 40)
        let follower = ForeignLogFollower(directory: directory.path, now: 0)
        XCTAssertFalse(follower.poll(now: 0))
        XCTAssertEqual(follower.phase, .waiting, "no event file yet")
        // Cuts that fall inside records, headers and checksums.
        var written = 0
        for (index, cut) in [5, 100, 101, 700, 1333, 2000, bytes.count].enumerated() {
            try write(Array(bytes[written..<cut]), to: path, append: written > 0)
            written = cut
            follower.poll(now: Double(index + 1))
            XCTAssertEqual(follower.takeNotices(), [], "a partial record is no damage (cut at \(cut))")
        }
        follower.poll(now: 10)  // quiet: the last step is complete
        let followed = try snapshot(follower, model: "w32")
        let whole = try ForeignLog(directory: directory.path).read().record
        let samples = try XCTUnwrap(whole.steps["w32"])
        XCTAssertEqual(samples.count, 40)
        XCTAssertEqual(followed.latest, samples.last)
        XCTAssertEqual(followed.history.steps, samples.map(\.step), "every step once, in order")
        XCTAssertEqual(followed.history.chiPos, samples.map { $0.chiPos ?? .nan })
        XCTAssertEqual(followed.minChiPos, samples.compactMap(\.chiPos).min())
        XCTAssertEqual(followed.userScalars.first { $0.name == "val_acc" }?.values.count, 40)
    }

    /// perspic logs `loss` in the training step and χ_pos later in its analysis hook: when a poll
    /// falls between the two, the step is shown with the loss alone, then again whole.
    func testAStepWhoseValuesArriveInTwoReadsIsOnePointWithAllItsValues() throws {
        let model = directory.appendingPathComponent("w8")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let path = model.appendingPathComponent("events.out.tfevents.1.host").path
        try write(try Self.eventFile(steps: 5), to: path)
        let follower = ForeignLogFollower(directory: directory.path, now: 0)
        follower.poll(now: 0)
        try write(TensorBoardRecords.scalars(step: 5, wall: 1005, [("loss", 0.25)]), to: path, append: true)
        follower.poll(now: 1)
        follower.poll(now: 2)  // quiet: step 5 is shown with its loss alone
        XCTAssertEqual(try snapshot(follower, model: "w8").history.steps, [0, 1, 2, 3, 4, 5])
        XCTAssertNil(try snapshot(follower, model: "w8").latest?.chiPos)
        try write(TensorBoardRecords.scalars(step: 5, wall: 1006, [("chi_net", 2.5), ("chi_loss", 0.5), ("chi_coup", 0.125),
                                                                    ("grad_norm_squared", 0.01), ("batch_size", 16)]), to: path, append: true)
        follower.poll(now: 3)
        follower.poll(now: 4)
        let shown = try snapshot(follower, model: "w8")
        XCTAssertEqual(shown.history.steps, [0, 1, 2, 3, 4, 5], "step 5 once, not a second point")
        XCTAssertEqual(shown.history.loss.last, 0.25, "the loss read first is kept")
        XCTAssertEqual(shown.history.chiPos.last, 0.125, "the late χ_pos is on the same point")
        XCTAssertEqual(shown.latest?.chiPos, 0.125)
        XCTAssertEqual(shown.latest?.loss, 0.25)
        XCTAssertEqual(shown.minChiPos, 0.125)
        // The whole read of the same bytes: the reference.
        let samples = try XCTUnwrap(try ForeignLog(directory: directory.path).read().record.steps["w8"])
        XCTAssertEqual(shown.history.steps, samples.map(\.step))
        XCTAssertEqual(shown.latest, samples.last)
    }

    /// The follower of one file (`spectop watch run/events.out.tfevents…`) reads it as the directory's
    /// follower does, and, being given a file, does not take up a second file that appears beside it.
    func testAFollowerOfOneFileReadsItAsTheDirectoryFollowerDoesAndNothingBesideIt() throws {
        let model = directory.appendingPathComponent("w16")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let path = model.appendingPathComponent("events.out.tfevents.1.host").path
        try write(try Self.eventFile(steps: 30), to: path)
        let ofFile = ForeignLogFollower(file: path, now: 0)
        let ofDirectory = ForeignLogFollower(directory: directory.path, now: 0)
        for now in [0.0, 1] { ofFile.poll(now: now); ofDirectory.poll(now: now) }
        let fileRun = try XCTUnwrap(ofFile.run)
        XCTAssertEqual(fileRun.modelIDs, try XCTUnwrap(ofDirectory.run).modelIDs)
        let fromFile = try XCTUnwrap(fileRun.modelSnapshots().first)
        XCTAssertEqual(fromFile.history, try snapshot(ofDirectory, model: "w16").history)
        XCTAssertEqual(fromFile.history.count, 30)
        XCTAssertEqual(ofFile.path, path)
        try write(try Self.eventFile(steps: 3), to: model.appendingPathComponent("events.out.tfevents.2.host").path)
        for now in [2.0, 3] { ofFile.poll(now: now); ofDirectory.poll(now: now) }
        XCTAssertEqual(try XCTUnwrap(ofFile.run).modelSnapshots().first?.history.count, 30, "a file follower reads its one file")
        XCTAssertNotEqual(try snapshot(ofDirectory, model: "w16").history, fromFile.history, "the directory's follower took up the new file")
    }

    func testALongLogOpensTailFirstAndTheBackfillEndsAsAWholeRead() throws {
        let model = directory.appendingPathComponent("w8")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let path = model.appendingPathComponent("events.out.tfevents.1.host").path
        try write(try Self.eventFile(steps: 3000), to: path)
        let follower = ForeignLogFollower(directory: directory.path, tailBytes: 16 << 10, historyCapacity: 4096, now: 0)
        follower.poll(now: 0)
        follower.poll(now: 1)
        let tail = try snapshot(follower, model: "w8")
        XCTAssertEqual(tail.step, 2999, "the newest step shows first")
        XCTAssertGreaterThan(tail.history.steps.first ?? 0, 2000, "only the tail has been read")
        XCTAssertEqual(follower.takeNotices(), [], "starting mid-file is no damage")
        XCTAssertTrue(follower.isBackfilling)
        var slices = 0
        while follower.backfill(maxBytes: 64 << 10) { slices += 1 }
        XCTAssertGreaterThan(slices, 3)
        XCTAssertFalse(follower.isBackfilling)
        follower.poll(now: 2)
        let full = try snapshot(follower, model: "w8")
        let samples = try XCTUnwrap(try ForeignLog(directory: directory.path).read().record.steps["w8"])
        XCTAssertEqual(full.history.steps, samples.map(\.step))
        XCTAssertEqual(full.minChiPos, samples.compactMap(\.chiPos).min())
        XCTAssertEqual(full.amplification, samples.last!.chiNet / samples.first!.chiNet, "amplification counts from step 0 after the back-fill")
    }

    func testARewrittenMetricsCSVIsReadAgainWithItsNewColumns() throws {
        let version = directory.appendingPathComponent("lightning_logs/version_0")
        try FileManager.default.createDirectory(at: version, withIntermediateDirectories: true)
        let path = version.appendingPathComponent("metrics.csv").path
        try write(Array("chi_coup,epoch,loss,step\n0.5,0,1.0,0\n0.4,0,0.9,1\n".utf8), to: path)
        let follower = ForeignLogFollower(directory: directory.appendingPathComponent("lightning_logs").path, now: 0)
        follower.poll(now: 0)
        follower.poll(now: 1)
        XCTAssertEqual(try snapshot(follower, model: "version_0").history.steps, [0, 1])
        // Lightning rewrites the file whole, with the new column in its header, when a new key is logged.
        try write(Array("chi_coup,epoch,loss,step,val_loss\n0.5,0,1.0,0,\n0.4,0,0.9,1,\n0.3,0,0.8,2,\n,0,,2,0.7\n".utf8), to: path)
        follower.poll(now: 2)
        XCTAssertTrue(follower.takeNotices().contains { $0.contains("rewritten in place") || $0.contains("replaced") })
        follower.poll(now: 3)
        let after = try snapshot(follower, model: "version_0")
        XCTAssertEqual(after.history.steps, [0, 1, 2])
        XCTAssertEqual(after.latest?.chiPos, 0.3)
        XCTAssertEqual(after.userScalars.first { $0.name == "val_loss" }?.values, [0.7])
    }

    func testDamageIsSaidOnceWithItsOffsetAndStands() throws {
        let model = directory.appendingPathComponent("w4")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let path = model.appendingPathComponent("events.out.tfevents.1.host").path
        var bytes = try Self.eventFile(steps: 10)
        let offsets = ForeignLogTests.recordOffsets(bytes)
        bytes[offsets[3] + 20] ^= 1
        bytes[offsets[6] + 20] ^= 1
        try write(bytes, to: path)
        let follower = ForeignLogFollower(directory: directory.path, now: 0)
        follower.poll(now: 0)
        let notices = follower.takeNotices()
        XCTAssertEqual(notices.count, 1, "\(notices)")
        XCTAssertTrue(notices[0].contains("byte \(offsets[3])"), notices[0])
        XCTAssertEqual(follower.standingProblem?.hasPrefix("2 damaged records skipped"), true)
        follower.poll(now: 1)
        XCTAssertEqual(try snapshot(follower, model: "w4").history.count, 8)
    }

    func testWatchSourceShowsATensorBoardDirectoryAsOneRunOfItsModels() throws {
        for name in ["small", "large"] {
            let model = directory.appendingPathComponent("logs/\(name)")
            try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
            try write(try Self.eventFile(steps: 5), to: model.appendingPathComponent("events.out.tfevents.1.h").path)
        }
        let source = WatchSource(targets: [.directory(directory.appendingPathComponent("logs").path)])
        source.refresh(now: 0)
        source.refresh(now: 1)
        let snapshot = source.snapshot()
        XCTAssertEqual(snapshot.models.map(\.id), ["logs/large", "logs/small"])
        XCTAssertEqual(snapshot.models.map(\.step), [4, 4])
        XCTAssertEqual(snapshot.runs.map(\.name), ["logs"])
    }
}
