import Foundation
import SpecTopRecord
import XCTest

/// Watch (`LiveRun`), replay, claims and export (`RunRecord`) read what a
/// record says about its models through one reducer, so they cannot disagree.
final class RecordReducerTests: XCTestCase {
    /// A hand-written header listing one model; the lines name two more, stop
    /// one, freeze one live twice and refuse one a spectrum.
    private let text = """
    {"type":"run","version":1,"models":[{"id":"w8","width":8,"depth":1,"params":90,"trainable_params":17,"trainable":"readout","steps":10}]}
    {"type":"step","model":"w8","step":0,"loss":1,"chi_loss":1,"chi_net":4,"chi_pos":0.5,"grad_sq":2,"wall":0.1}
    {"type":"step","model":"zeta","step":0,"loss":1,"chi_loss":1,"chi_net":4,"chi_pos":0.5,"grad_sq":2,"wall":0.1}
    {"type":"event","event":"freeze","model":"alpha","step":7,"wall":0.2}
    {"type":"step","model":"alpha","step":0,"loss":1,"chi_loss":1,"chi_net":4,"chi_pos":0.5,"grad_sq":2,"wall":0.2}
    {"type":"event","event":"freeze","model":"alpha","step":3,"wall":0.3}
    {"type":"event","event":"diverged","model":"zeta","step":4,"wall":0.4,"detail":"loss is inf"}
    {"type":"event","event":"failed","model":"zeta","step":5,"wall":0.5}
    {"type":"event","event":"spectrum","model":"w8","wall":0.5,"detail":"m too large"}
    {"type":"end","reason":"quit","wall":1}

    """

    func testTheFullRecordAndTheLiveViewAgreeOnEveryModel() throws {
        let record = try RunRecord.parse(Data(text.utf8), file: "r.jsonl")
        var live = LiveRun(header: try RecordHeader.decode(Data(text.split(separator: "\n")[0].utf8), file: "r.jsonl"))
        for line in text.split(separator: "\n").dropFirst() { live.apply(RecordLine.decode(Data(line.utf8))!) }

        // Header order first, then the order the lines first name a model.
        XCTAssertEqual(record.models.map(\.id), ["w8", "zeta", "alpha"])
        XCTAssertEqual(record.models, live.models)
        XCTAssertEqual(record.models[0].trainableParameterCount, 17)
        XCTAssertEqual(record.models[0].mode, .frozen)

        XCTAssertEqual(record.divergedModels, ["zeta"])
        let snapshots = live.modelSnapshots()
        XCTAssertEqual(Set(snapshots.filter { $0.status == .diverged || $0.status == .failed }.map(\.id)), record.divergedModels)
        // The first stop wins: zeta diverged (then failed) at step 4.
        XCTAssertEqual(snapshots.first { $0.id == "zeta" }?.status, .diverged)
        // The earliest freeze counts, in whatever order the events came.
        XCTAssertEqual(record.freezeStep(of: "alpha"), 3)
        XCTAssertEqual(live.freezeStep(of: "alpha"), 3)
        XCTAssertNil(record.freezeStep(of: "w8"))
        XCTAssertEqual(snapshots.first { $0.id == "w8" }?.spectrumUnavailable, "m too large")
    }

    func testCombinedRecordsRenameTheReducedState() throws {
        let a = try RunRecord.parse(Data(text.utf8), file: "runs/a.jsonl")
        let b = try RunRecord.parse(Data(text.utf8), file: "runs/b.jsonl")
        let both = RunRecord.combined([a, b])
        XCTAssertEqual(both.models.map(\.id), ["a/w8", "a/zeta", "a/alpha", "b/w8", "b/zeta", "b/alpha"])
        XCTAssertEqual(both.divergedModels, ["a/zeta", "b/zeta"])
        XCTAssertEqual(both.freezeStep(of: "b/alpha"), 3)
        XCTAssertNil(both.freezeStep(of: "alpha"))
    }

    /// A writer that names a new model on every line: the full reader keeps the
    /// same bounded set of models as watch and says how many it left out.
    func testModelsPastTheLimitAreLeftOutWithAWarning() throws {
        var lines = [#"{"type":"run","version":1,"models":[]}"#]
        for i in 0..<(LiveRun.modelLimit + 3) {
            lines.append(#"{"type":"step","model":"m\#(i)","step":0,"loss":1,"chi_loss":1,"chi_net":1,"chi_pos":0.5,"grad_sq":1,"wall":0}"#)
        }
        let record = try RunRecord.parse(Data((lines.joined(separator: "\n") + "\n").utf8), file: "many.jsonl")
        XCTAssertEqual(record.models.count, LiveRun.modelLimit)
        XCTAssertEqual(record.steps.count, LiveRun.modelLimit)
        XCTAssertNil(record.steps["m\(LiveRun.modelLimit)"])
        XCTAssertTrue(record.warnings.contains { $0.contains("the 3 after the first 1024 are left out") }, "\(record.warnings)")
    }

    /// A step line without `rows` takes n from the header's `data.probe`, so
    /// its normalised factors exist (RECORD.md); one with `rows` keeps its own.
    func testRowsFallBackToTheHeadersProbeSize() throws {
        let text = """
        {"type":"run","version":1,"data":{"probe":8},"models":[{"id":"m"}]}
        {"type":"step","model":"m","step":0,"loss":1,"chi_loss":0.5,"chi_net":40,"chi_pos":0.1,"grad_sq":2,"wall":0}
        {"type":"step","model":"m","step":1,"loss":1,"chi_loss":0.5,"chi_net":40,"chi_pos":0.1,"grad_sq":2,"wall":0,"rows":4,"chi_loss_normalized":2,"chi_net_normalized":10}

        """
        let record = try RunRecord.parse(Data(text.utf8), file: "r.jsonl")
        let samples = try XCTUnwrap(record.steps["m"])
        XCTAssertEqual(samples.map(\.rows), [8, 4])
        XCTAssertEqual(samples[0].normalizedChiNet, 5)
        XCTAssertEqual(samples[0].normalizedChiLoss, 4)
        var live = LiveRun(header: try RecordHeader.decode(Data(text.split(separator: "\n")[0].utf8), file: "r.jsonl"))
        for line in text.split(separator: "\n").dropFirst() { live.apply(RecordLine.decode(Data(line.utf8))!) }
        XCTAssertEqual(live.modelSnapshots()[0].history.chiNetNormalized, [5, 10])
    }

    /// A step line sent again for the step a model last showed (a foreign log's step reopened by
    /// values that came late) updates that point: one point per step, with the later line's values.
    func testTheSameStepTwiceIsOnePointWithTheLaterValues() throws {
        let text = """
        {"type":"run","version":1,"models":[{"id":"m"}]}
        {"type":"step","model":"m","step":0,"loss":1,"chi_loss":0.5,"chi_net":40,"chi_pos":0.4,"grad_sq":2,"wall":0}
        {"type":"step","model":"m","step":10,"loss":0.9,"chi_loss":0.5,"chi_net":40,"grad_sq":2,"wall":1}
        {"type":"step","model":"m","step":10,"loss":0.9,"chi_loss":0.5,"chi_net":40,"chi_pos":0.2,"grad_sq":2,"wall":1.5}
        {"type":"step","model":"m","step":20,"loss":0.8,"chi_loss":0.5,"chi_net":40,"chi_pos":0.3,"grad_sq":2,"wall":2}

        """
        var live = LiveRun(header: try RecordHeader.decode(Data(text.split(separator: "\n")[0].utf8), file: "r.jsonl"))
        for line in text.split(separator: "\n").dropFirst() { live.apply(RecordLine.decode(Data(line.utf8))!) }
        let model = live.modelSnapshots()[0]
        XCTAssertEqual(model.history.steps, [0, 10, 20])
        XCTAssertEqual(model.history.chiPos, [0.4, 0.2, 0.3], "step 10's point has the χ_pos that came late")
        XCTAssertEqual(model.history.wall, [0, 1.5, 2])
        XCTAssertEqual(model.minChiPos, 0.2)
        XCTAssertEqual(model.latest?.step, 20)
    }

    /// A step the downsampler did not keep stays unkept when it is sent again, and the
    /// thinning goes on as if it had come once (the stride counts steps, not lines).
    func testTheSameStepAgainDoesNotCountTowardsTheThinning() {
        func sample(_ step: Int, chiPos: Double? = 0.5) -> MetricSample {
            MetricSample(step: step, loss: 1, chiLoss: 1, chiNet: 1, chiPos: chiPos, gradSq: 1, wall: Double(step))
        }
        var once = LiveRun(header: RecordHeader(version: 1, models: []), historyCapacity: 4)
        var twice = once
        for step in 0..<11 {
            once.apply(.step(model: "m", sample(step)))
            twice.apply(.step(model: "m", sample(step, chiPos: nil)))
            twice.apply(.step(model: "m", sample(step)))
        }
        XCTAssertEqual(twice.modelSnapshots()[0].history, once.modelSnapshots()[0].history)
        XCTAssertEqual(once.modelSnapshots()[0].history.steps, [0, 5], "capacity 4: halved at 0-3 and at 0,2,5,7")
    }
}
