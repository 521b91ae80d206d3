import XCTest
import Foundation
@testable import SpecTopReaders
import SpecTopRecord
import SpecTopUI

/// Issue 16, items 2-4: size claims on one size are n/a, every row lists the
/// conditions it checked, `--json`, and a live freeze splits a model in two.
final class ClaimsConditionsTests: XCTestCase {
    struct Model {
        var id: String
        var params: Int
        var width: Int = 32
        var frozen = false
        /// (loss, chiNet, chiPos) at each step.
        var curve: (Int) -> (Double, Double, Double?)
        var steps = 40
        var rEff: Double?
    }

    static func record(_ models: [Model], extraLines: [String] = []) throws -> RunRecord {
        var lines: [String] = []
        let header = models.map { m in
            "{\"id\":\(JSONLine.quote(m.id)),\"width\":\(m.width),\"depth\":2,\"params\":\(m.params),\"trainable\":\"\(m.frozen ? "readout" : "all")\",\"mode\":\"\(m.frozen ? "frozen" : "active")\"}"
        }
        lines.append("{\"type\":\"run\",\"version\":1,\"seed\":1,\"preset\":\"hand\",\"models\":[\(header.joined(separator: ","))]}")
        lines += extraLines
        for m in models {
            for step in 0...m.steps {
                let (loss, net, pos) = m.curve(step)
                let sample = MetricSample(step: step, loss: loss, chiLoss: loss, chiNet: net, chiPos: pos, gradSq: loss * net * (pos ?? 0), wall: Double(step))
                lines.append(RecordLines.encode(.metrics(model: m.id, sample)))
            }
            if let r = m.rEff {
                let h = SpectrumHistogram(eigenvalues: [1], weights: [1], lambdaEff: 1)
                lines.append(RecordLines.encode(.spectrum(model: m.id, SpectrumSample(step: 1, eigenvalues: [1], weights: [1], chiPosExact: 0.1, lambdaEff: 1, rEff: r, effectiveRank: 1, histogram: h))))
            }
        }
        lines.append(RecordLines.end(reason: "steps", wall: 1))
        return try RunRecord.parse(Data((lines.joined(separator: "\n") + "\n").utf8), file: "hand.jsonl")
    }

    /// An active model that learns: loss to `final`, χ_net doubling, χ_pos from 0.5 to `reach`.
    static func learner(_ id: String, params: Int, final: Double, reach: Double, rEff: Double? = nil) -> Model {
        Model(id: id, params: params, curve: { step in
            let t = Double(step) / 40
            return (1 + (final - 1) * t, 100 * (1 + t), 0.5 * (1 - t) + reach * t)
        }, rEff: rEff)
    }

    func testSizeClaimsOnOneSizeAreNotApplicableWithTheReason() throws {
        // lazy-rich: one width, three output scales, so three models of one size
        // whose losses and reaches differ for reasons that are not size.
        let models = [Self.learner("w256-a0.1", params: 4_609, final: 0.1, reach: 0.01, rEff: 0.5),
                      Self.learner("w256-a1", params: 4_609, final: 0.2, reach: 0.02, rEff: 0.4),
                      Self.learner("w256-a10", params: 4_609, final: 0.2, reach: 0.05, rEff: 0.1)]
        let report = ClaimsEvaluator.evaluate(try Self.record(models))
        for n in [2, 3, 5, 6] {
            let row = try XCTUnwrap(report.row(n))
            XCTAssertEqual(row.verdict, .notApplicable, "claim \(n): \(row.details)")
            XCTAssertTrue(row.conditions.isEmpty, "claim \(n)")
            XCTAssertTrue(row.reason?.contains("all 3 active models have 4609 parameters") == true, "claim \(n): \(row.reason ?? "none")")
        }
        XCTAssertEqual(report.verdict(1), .holds, "claim 1 needs no sizes: \(report.row(1)!.details)")
        XCTAssertEqual(report.verdict(4), .notApplicable)
        XCTAssertEqual(report.row(4)?.reason, "no frozen models")
        let text = ClaimsEvaluator.render(report, record: try Self.record(models))
        XCTAssertTrue(text.contains("needs two or more active sizes (all 3 active models have 4609 parameters)"), text)
        // One model is no "all 1".
        let single = ClaimsEvaluator.evaluate(try Self.record([Self.learner("w256-a1", params: 4_609, final: 0.2, reach: 0.02, rEff: 0.4)]))
        XCTAssertEqual(single.row(2)?.reason, "needs two or more active sizes (the one active model has 4609 parameters)")
    }

    func testTwinRatiosNameTheRunOnce() {
        XCTAssertEqual(ClaimsEvaluator.pairName("w8-frozen", "w8-active"), "w8-frozen vs w8-active")
        XCTAssertEqual(ClaimsEvaluator.pairName("sweep-3/w8-frozen", "sweep-3/w8-active"), "sweep-3/w8-frozen vs w8-active")
        XCTAssertEqual(ClaimsEvaluator.pairName("a/w8-frozen", "b/w8-active"), "a/w8-frozen vs b/w8-active")
    }

    func testModelsWithoutAParameterCountTakeNoPartInSizeClaims() throws {
        // TensorBoard and Lightning logs give no parameter count (0): such models are no size of
        // their own, and the reason says why instead of "all 2 active models have 0 parameters".
        let unsized = [Self.learner("tb/w16", params: 0, final: 0.3, reach: 0.02, rEff: 0.4),
                       Self.learner("tb/w64", params: 0, final: 0.2, reach: 0.01, rEff: 0.5)]
        let report = ClaimsEvaluator.evaluate(try Self.record(unsized))
        for n in [2, 3, 5, 6] {
            XCTAssertEqual(report.verdict(n), .notApplicable, "claim \(n)")
            XCTAssertTrue(report.row(n)?.reason?.contains("no record gives a parameter count") == true, report.row(n)?.reason ?? "none")
        }
        // Beside two sized models, the unsized one is left out of the comparison, and said.
        let mixed = [Self.learner("w8", params: 100, final: 0.3, reach: 0.05, rEff: 0.2),
                     Self.learner("w64", params: 5_000, final: 0.1, reach: 0.01, rEff: 0.5),
                     Self.learner("tb/w16", params: 0, final: 9, reach: 0.9, rEff: 0.01)]
        let both = ClaimsEvaluator.evaluate(try Self.record(mixed))
        XCTAssertEqual(both.verdict(2), .holds, both.row(2)?.details ?? "")
        XCTAssertEqual(both.row(2)?.conditions.first?.values.map(\.name), ["w8", "w64"])
        XCTAssertTrue(both.row(6)?.reason?.contains("1 model's record gives no parameter count") == true, both.row(6)?.reason ?? "none")
    }

    func testModelsOfOneSizeCountAsOneSizeByTheirMedian() throws {
        // Two seeds per size: sizes compare by their medians, ties within a size are no failure.
        let models = [Self.learner("s1-small", params: 100, final: 0.5, reach: 0.1), Self.learner("s2-small", params: 100, final: 0.3, reach: 0.1),
                      Self.learner("s1-large", params: 1_000, final: 0.2, reach: 0.05), Self.learner("s2-large", params: 1_000, final: 0.2, reach: 0.05)]
        let row = try XCTUnwrap(ClaimsEvaluator.evaluate(try Self.record(models)).row(2))
        XCTAssertEqual(row.verdict, .holds, row.details)
        XCTAssertEqual(row.conditions[0].values.map(\.name), ["100 params (median of 2)", "1000 params (median of 2)"])
        XCTAssertEqual(row.conditions[0].values[0].value ?? 0, 0.4, accuracy: 1e-12)
    }

    func testClaimFourWithoutAFrozenTwinOfTheSameSizeIsNotApplicable() throws {
        // The frozen model has the width of an active one but not its size (another depth).
        var frozen = Model(id: "w32-frozen", params: 50, width: 32, frozen: true, curve: { step in (2 - Double(step) / 100, 50, 0.2) })
        let models = [Self.learner("w32-active", params: 100, final: 0.4, reach: 0.1), Self.learner("w64-active", params: 400, final: 0.2, reach: 0.05), frozen]
        let row = try XCTUnwrap(ClaimsEvaluator.evaluate(try Self.record(models)).row(4))
        XCTAssertEqual(row.verdict, .notApplicable, row.details)
        XCTAssertEqual(row.reason, "no frozen model has an active twin of the same size")
        XCTAssertTrue(row.notes.contains { $0.contains("w32-frozen has no active model of its size (50 params)") }, "\(row.notes)")
        // With a twin of its size it is judged: constant χ_net, loss above the twin's.
        frozen.params = 100
        let judged = try XCTUnwrap(ClaimsEvaluator.evaluate(try Self.record(Array(models.dropLast()) + [frozen])).row(4))
        XCTAssertEqual(judged.verdict, .holds, judged.details)
        XCTAssertEqual(judged.condition("4.2")?.values.first?.name, "w32-frozen vs w32-active")
    }

    func testEveryRowListsEachConditionWithItsNumberAndResult() throws {
        // A CSV run: min χ_pos falls with size, r_eff does not rise (the hidden failing part).
        let models = [Self.learner("w8-active", params: 100, final: 0.5, reach: 0.1, rEff: 0.3),
                      Self.learner("w32-active", params: 1_000, final: 0.3, reach: 0.05, rEff: 0.2),
                      Self.learner("w128-active", params: 10_000, final: 0.2, reach: 0.02, rEff: 0.1)]
        let record = try Self.record(models)
        let report = ClaimsEvaluator.evaluate(record)
        let three = try XCTUnwrap(report.row(3))
        XCTAssertEqual(three.verdict, .fails)
        XCTAssertEqual(three.conditions.map(\.number), ["3.1", "3.2"])
        XCTAssertEqual(three.conditions.map(\.pass), [true, false])
        XCTAssertEqual(three.condition("3.2")?.values.map(\.value), [0.3, 0.2, 0.1])
        for row in report.rows where row.verdict != .notApplicable {
            XCTAssertFalse(row.conditions.isEmpty, "claim \(row.number)")
            XCTAssertEqual(row.verdict == .holds, row.conditions.allSatisfy(\.pass), "claim \(row.number)")
            XCTAssertTrue(row.conditions.allSatisfy { $0.number.hasPrefix("\(row.number).") })
        }
        let text = ClaimsEvaluator.render(report, record: record)
        XCTAssertTrue(text.contains("3.1 min chi_pos strictly decreases with size: pass (w8-active 0.1, w32-active 0.05, w128-active 0.02)"), text)
        XCTAssertTrue(text.contains("3.2 max r_eff strictly increases with size: FAIL (w8-active 0.3, w32-active 0.2, w128-active 0.1)"), text)
        XCTAssertTrue(text.contains("6.2 R^2 of the fit at least 0.9: "), text)
        XCTAssertEqual(report.failingClaims, [3])
    }

    func testJSONReportHasEveryClaimAndConditionAndEscapesControls() throws {
        let models = [Self.learner("w8\u{1b}]0;x\u{7}-active", params: 100, final: 0.5, reach: 0.1, rEff: 0.3),
                      Self.learner("w32\u{9b}2J-active", params: 1_000, final: 0.3, reach: 0.05, rEff: 0.2)]
        let record = try Self.record(models)
        let text = ClaimsEvaluator.json(ClaimsEvaluator.evaluate(record), record: record)
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, "one JSON object on one line")
        XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7f...0x9f).contains($0.value) }, "no raw control characters")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(object["finished"] as? Bool, true)
        let claims = try XCTUnwrap(object["claims"] as? [[String: Any]])
        XCTAssertEqual(claims.map { $0["number"] as? Int }, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(claims.map { $0["verdict"] as? String }, ["holds", "holds", "fails", "n/a", "holds", "n/a"])
        XCTAssertEqual(claims[3]["reason"] as? String, "no frozen models")
        let conditions = try XCTUnwrap(claims[2]["conditions"] as? [[String: Any]])
        XCTAssertEqual(conditions.map { $0["number"] as? String }, ["3.1", "3.2"])
        XCTAssertEqual(conditions.map { $0["pass"] as? Bool }, [true, false])
        XCTAssertEqual(conditions[1]["description"] as? String, "max r_eff strictly increases with size")
        let values = try XCTUnwrap(conditions[1]["values"] as? [String: Any])
        XCTAssertEqual(values["w32\u{9b}2J-active"] as? Double, 0.2, "ids survive, escaped: \(values)")
    }

    /// w32 trains, is frozen at step 20 (χ_net drops to its readout part and
    /// stays; χ_pos stops falling and climbs back), twin w32-twin trains on.
    private func liveFreezeRecord() throws -> RunRecord {
        let frozenAt = 20
        let live = Model(id: "w32-active", params: 1_000, curve: { step in
            let t = Double(step) / 40
            if step < frozenAt { return (1 - 0.5 * t, 100 * (1 + t), 0.5 * (1 - 1.8 * t)) }
            return (0.6, 10, 0.5)
        })
        let models = [live, Self.learner("w32-twin", params: 1_000, final: 0.2, reach: 0.05), Self.learner("w8-active", params: 100, final: 0.4, reach: 0.1)]
        let freeze = RecordLines.encode(.event(kind: "freeze", model: "w32-active", step: frozenAt, wall: 20, detail: "features frozen"))
        return try Self.record(models, extraLines: [freeze])
    }

    func testALiveFreezeMakesTheModelActiveBeforeAndFrozenAfter() throws {
        let report = ClaimsEvaluator.evaluate(try liveFreezeRecord())
        // Claim 1 sees its 20 pre-freeze samples (steps 0-19), where χ_pos fell.
        let one = try XCTUnwrap(report.row(1))
        XCTAssertEqual(one.verdict, .holds, one.details)
        XCTAssertEqual(one.condition("1.1")?.values.first { $0.name == "w32-active" }?.value, 20)
        // Claim 4 judges its samples from the freeze step on: χ_net constant, loss above its twin's.
        let four = try XCTUnwrap(report.row(4))
        XCTAssertEqual(four.verdict, .holds, four.details)
        XCTAssertEqual(four.condition("4.1")?.values, [.init(name: "w32-active", value: 0)])
        XCTAssertEqual(four.condition("4.2")?.values.first?.name, "w32-active vs w32-twin")
        // Its final values mix both regimes: left out of the size comparisons.
        XCTAssertEqual(report.row(2)?.conditions.first?.values.map(\.name), ["w8-active", "w32-twin"])
        XCTAssertTrue(report.notes.contains { $0.contains("w32-active was frozen at step 20") }, "\(report.notes)")
    }

    func testReplayAmplificationRestartsAtTheFreeze() throws {
        let replay = ReplaySource(record: try liveFreezeRecord())
        replay.perform(.togglePause)
        replay.perform(.jumpToStart)
        replay.perform(.scrub(by: 18))  // step 18 of 40 (a unit is 1 % of the run, at least one step)
        var model = try XCTUnwrap(replay.snapshot().models.first { $0.id == "w32-active" })
        XCTAssertFalse(model.featuresFrozen)
        XCTAssertEqual(try XCTUnwrap(model.amplification), model.latest!.chiNet / 100, accuracy: 1e-12, "before the freeze: relative to chi_net(0)")
        replay.perform(.jumpToEnd)
        model = try XCTUnwrap(replay.snapshot().models.first { $0.id == "w32-active" })
        XCTAssertTrue(model.featuresFrozen)
        XCTAssertEqual(model.amplification, 1, "after the freeze: relative to chi_net at the freeze, not the all-layer chi_net(0)")
    }

    func testWatchAmplificationRestartsAtTheFreeze() throws {
        let record = try liveFreezeRecord()
        var run = LiveRun(header: RecordHeader(version: 1, models: record.models))
        let samples = record.steps["w32-active"]!
        for sample in samples where sample.step < 20 { run.apply(.step(model: "w32-active", sample)) }
        XCTAssertEqual(run.modelSnapshots()[0].amplification ?? 0, samples[19].chiNet / 100, accuracy: 1e-12)
        run.apply(.event(record.events[0]))
        for sample in samples where sample.step >= 20 { run.apply(.step(model: "w32-active", sample)) }
        let model = run.modelSnapshots()[0]
        XCTAssertTrue(model.featuresFrozen)
        XCTAssertEqual(model.amplification, 1, "relative to chi_net at the freeze step")
    }
}
