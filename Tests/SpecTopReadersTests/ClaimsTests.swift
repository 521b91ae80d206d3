import XCTest
import Foundation
@testable import SpecTopReaders
import SpecTopRecord
import SpecTopUI

/// `spectop claims` on hand-made records where each claim holds, fails, or
/// cannot be evaluated.
final class ClaimsTests: XCTestCase {
    struct Model {
        var id: String
        var params: Int
        var width: Int
        var frozen: Bool
        /// (loss, chiNet, chiPos) at each step.
        var curve: (Int) -> (Double, Double, Double?)
        var steps = 40
        var rEff: Double?
        /// The cross-batch χ_pos^{AB} at each step (nil: not recorded).
        var cross: ((Int) -> Double)? = nil
        /// n, the probe rows (0: not recorded).
        var rows = 0
    }

    private func record(_ models: [Model], extraLines: [String] = []) throws -> RunRecord {
        var lines: [String] = []
        let header = models.map { m in
            "{\"id\":\"\(m.id)\",\"width\":\(m.width),\"depth\":2,\"params\":\(m.params),\"trainable\":\"\(m.frozen ? "readout" : "all")\",\"mode\":\"\(m.frozen ? "frozen" : "active")\"}"
        }
        lines.append("{\"type\":\"run\",\"version\":1,\"seed\":1,\"preset\":\"hand\",\"models\":[\(header.joined(separator: ","))]}")
        for m in models {
            for step in 0...m.steps {
                let (loss, net, pos) = m.curve(step)
                var sample = MetricSample(step: step, loss: loss, chiLoss: loss, chiNet: net, chiPos: pos, gradSq: loss * net * (pos ?? 0), wall: Double(step))
                sample.rows = m.rows
                if let cross = m.cross {
                    let chiPos = cross(step)
                    sample.cross = CrossBatchSample(loss: loss, gradDot: chiPos * loss * net, chiLoss: loss, chiNet: net, chiPos: chiPos, rows: 8)
                }
                lines.append(RecordLines.encode(.metrics(model: m.id, sample)))
            }
            if let r = m.rEff {
                let h = SpectrumHistogram(eigenvalues: [1], weights: [1], lambdaEff: 1)
                lines.append(RecordLines.encode(.spectrum(model: m.id, SpectrumSample(step: 1, eigenvalues: [1], weights: [1], chiPosExact: 0.1, lambdaEff: 1, rEff: r, effectiveRank: 1, histogram: h))))
            }
        }
        lines += extraLines
        lines.append(RecordLines.end(reason: "steps", wall: 1))
        return try RunRecord.parse(Data((lines.joined(separator: "\n") + "\n").utf8), file: "hand.jsonl")
    }

    /// A run where every claim holds: bigger active models fall further and
    /// amplify; frozen twins keep χ_net and stall higher.
    private func healthyModels() -> [Model] {
        [(8, 100), (32, 1_000), (128, 10_000)].flatMap { width, params -> [Model] in
            let size = Double(params)
            let finalLoss = 10 * pow(size, -0.5)
            let reach = 0.1 / Foundation.log10(size)
            return [
                Model(id: "w\(width)-active", params: params, width: width, frozen: false, curve: { step in
                    let t = Double(step) / 40
                    return (1 + (finalLoss - 1) * t, 100 * (1 + t), 0.5 * (1 - t) + reach * t)
                }, rEff: 0.1 * Foundation.log10(size)),
                Model(id: "w\(width)-frozen", params: params, width: width, frozen: true, curve: { step in
                    (5 + (3 * finalLoss - 5) * Double(step) / 40, 50, 0.2)
                }),
            ]
        }
    }

    func testEveryClaimHolds() throws {
        let report = ClaimsEvaluator.evaluate(try record(healthyModels()))
        for n in 1...6 { XCTAssertEqual(report.verdict(n), .holds, "claim \(n): \(report.rows[n - 1].details)") }
        let fit = try XCTUnwrap(report.lossFit)
        XCTAssertEqual(fit.exponent, -0.5, accuracy: 1e-9)
        XCTAssertEqual(fit.rSquared, 1, accuracy: 1e-9)
        XCTAssertEqual(report.rows[0].condition("1.2")?.values.map(\.name), ["w8-active", "w32-active", "w128-active"], report.rows[0].details)
    }

    func testEveryClaimCanFail() throws {
        // Reverse the size order of losses and reaches; make χ_pos rise; let
        // frozen χ_net drift and beat the active loss; no amplification.
        var models = healthyModels()
        for k in models.indices {
            let params = Double(models[k].params)
            if models[k].frozen {
                models[k].curve = { step in (0.0001, 50 + Double(step), 0.2) }
            } else {
                models[k].curve = { step in
                    let t = Double(step) / 40
                    return (Foundation.log10(params) * (1 - 0.1 * t) + (step % 2 == 0 ? 0.3 : 0), 100 * (1 - 0.5 * t), 0.1 + 0.4 * t * Foundation.log10(params) / 4)
                }
                models[k].rEff = 1 / Foundation.log10(params)
            }
        }
        let report = ClaimsEvaluator.evaluate(try record(models))
        for n in 1...6 { XCTAssertEqual(report.verdict(n), .fails, "claim \(n): \(report.rows[n - 1].details)") }
    }

    func testClaimsThatCannotBeEvaluatedSaySo() throws {
        // One active model, no frozen ones, three steps: nothing to compare.
        let lonely = Model(id: "w8-active", params: 100, width: 8, frozen: false, curve: { _ in (1, 1, nil) }, steps: 2)
        let report = ClaimsEvaluator.evaluate(try record([lonely]))
        for n in 1...6 { XCTAssertEqual(report.verdict(n), .notApplicable, "claim \(n): \(report.rows[n - 1].details)") }
        let text = ClaimsEvaluator.render(report, record: try record([lonely]))
        XCTAssertTrue(text.contains("needs two or more active sizes"), text)
    }

    func testDivergedModelsAreSkippedWithANote() throws {
        var models = healthyModels()
        models.append(Model(id: "w512-active", params: 100_000, width: 512, frozen: false, curve: { _ in (.nan, .nan, nil) }))
        let divergence = RecordLines.encode(.event(kind: "diverged", model: "w512-active", step: 3, wall: 1, detail: "loss is not finite"))
        let report = ClaimsEvaluator.evaluate(try record(models, extraLines: [divergence]))
        XCTAssertTrue(report.notes.contains { $0.contains("w512-active diverged") }, "\(report.notes)")
        for n in 1...6 { XCTAssertEqual(report.verdict(n), .holds, "claim \(n) with a diverged model left out") }
    }

    func testScalingViewShowsTheSameFitAsClaims() throws {
        let record = try record(healthyModels())
        let report = ClaimsEvaluator.evaluate(record)
        let replay = ReplaySource(record: record)
        replay.perform(.jumpToEnd)
        let screen = FrameRenderer.render(replay.snapshot(), info: MonitorInfo(preset: "hand", dataset: "x", blasCore: "test"),
                                          state: MonitorState(view: .scaling), width: 120, height: 40).text
        let fit = try XCTUnwrap(report.lossFit)
        let exponent = String(format: "%.3f", fit.exponent)
        XCTAssertTrue(screen.contains("active: loss ∝ N^\(exponent)"), "expected exponent \(exponent) on:\n\(screen)")
        XCTAssertTrue(screen.contains("R² \(String(format: "%.3f", fit.rSquared))"), screen)
        XCTAssertEqual(report.rows[5].condition("6.1")?.values.first?.value, fit.exponent, report.rows[5].details)
    }

    func testReplaySnapshotsFollowTheCursor() throws {
        let record = try record(healthyModels())
        let replay = ReplaySource(record: record)
        replay.perform(.togglePause)  // starts playing; pause it
        replay.perform(.jumpToStart)
        XCTAssertTrue(replay.snapshot().models.allSatisfy { $0.step == 0 && $0.history.count == 1 })
        replay.perform(.scrub(by: 20))
        let middle = replay.snapshot()
        XCTAssertTrue(middle.models.allSatisfy { $0.step == 20 && $0.history.count == 21 }, "\(middle.models.map(\.step))")
        replay.perform(.jumpToEnd)
        let end = replay.snapshot()
        XCTAssertEqual(end.state, .finished)
        XCTAssertTrue(end.models.allSatisfy { $0.step == 40 && $0.status == .finished })
        replay.perform(.scrub(by: -100))
        XCTAssertTrue(replay.snapshot().models.allSatisfy { $0.history.count == 1 }, "scrubbing back rebuilds the history")
    }

    /// The claims view evaluates the same conditions on what the monitor
    /// holds: at the end of a replay, every verdict and every number equals
    /// `spectop claims` on the record; mid-run it is the run so far; a model
    /// frozen live is split at its freeze as in the record.
    func testTheClaimsViewSaysWhatClaimsSaysOnTheSameRun() throws {
        for models in [healthyModels(), healthyModels().map { m -> Model in
            var m = m; if m.width == 8 && !m.frozen { m.curve = { _ in (1, 100, 0.3) } }; return m
        }] {
            let record = try record(models, extraLines: [#"{"type":"event","event":"freeze","model":"w32-active","step":25,"wall":25}"#])
            let replay = ReplaySource(record: record)
            replay.perform(.togglePause)
            replay.perform(.jumpToEnd)
            let live = ClaimsView(snapshot: replay.snapshot(), state: MonitorState(mode: .replay)).report
            let full = ClaimsEvaluator.evaluate(record)
            XCTAssertEqual(live.rows.map(\.verdict), full.rows.map(\.verdict))
            XCTAssertEqual(live.rows.map { $0.conditions.map(\.values) }, full.rows.map { $0.conditions.map(\.values) })
            XCTAssertEqual(live.rows.map(\.reason), full.rows.map(\.reason))
            XCTAssertTrue(full.notes.contains { $0.contains("w32-active was frozen at step 25") })
            XCTAssertEqual(live.notes.filter { $0.contains("frozen at step") }, full.notes.filter { $0.contains("frozen at step") })

            var buffer = CellBuffer(width: 120, height: 40)
            ClaimsView(snapshot: replay.snapshot(), state: MonitorState(mode: .replay)).render(into: &buffer, area: Rect(x: 0, y: 0, width: 120, height: 40), glyphs: .unicode)
            for row in full.rows {
                let mark = row.verdict == .holds ? "✓ holds" : row.verdict == .fails ? "✗ fails" : "n/a"
                XCTAssertTrue(buffer.lines.contains { $0.contains(mark) && $0.contains("\(row.number)  \(row.title)") }, "claim \(row.number):\n\(buffer.text)")
            }
            for condition in full.rows.flatMap(\.conditions) where !condition.pass {
                XCTAssertTrue(buffer.text.contains(condition.number + " " + condition.description), "failing \(condition.number) shown:\n\(buffer.text)")
            }
        }
        // Part way through, the view judges the run so far.
        let record = try record(healthyModels())
        let replay = ReplaySource(record: record)
        replay.perform(.togglePause)
        replay.perform(.jumpToStart)
        replay.perform(.scrub(by: 3))
        let early = ClaimsView(snapshot: replay.snapshot(), state: MonitorState(mode: .replay)).report
        XCTAssertEqual(early.verdict(1), .notApplicable, "too few chi_pos samples after 3 steps")
    }

    /// Where the run recorded the cross-batch form, claim 1 checks it too and
    /// the report says how often it was negative, per size, in text and JSON.
    func testTheCrossBatchFormIsCheckedAndInterferenceCounted() throws {
        var models = healthyModels()
        for k in models.indices where !models[k].frozen {
            // Falls like the self form; at w8 every fourth measurement below zero.
            let interferes = models[k].width == 8
            models[k].cross = { step in interferes && step % 4 == 1 ? -0.05 : 0.4 * (1 - Double(step) / 40) + 0.01 }
            models[k].rows = 64
        }
        let record = try record(models)
        let report = ClaimsEvaluator.evaluate(record)
        let cross = try XCTUnwrap(report.rows[0].condition("1.3"), report.rows[0].details)
        XCTAssertTrue(cross.pass, report.rows[0].details)
        XCTAssertEqual(cross.values.map(\.name), ["w8-active", "w32-active", "w128-active"])
        XCTAssertEqual(report.interference.map(\.size), [100, 1_000, 10_000])
        XCTAssertEqual(report.interference[0].measurements, 41)
        XCTAssertEqual(report.interference[0].negative, 10)   // steps 1, 5, …, 37
        XCTAssertEqual(report.interference[1].negative, 0)
        let text = ClaimsEvaluator.render(report, record: record)
        XCTAssertTrue(text.contains("interference (cross-batch chi_pos < 0): 24% of 41 at 100 params (w8-active)"), text)
        XCTAssertTrue(text.contains("last normalised factors n·chi_loss, chi_net/n: w8-active"), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ClaimsEvaluator.json(report, record: record).utf8)) as? [String: Any])
        let groups = try XCTUnwrap(json["interference"] as? [[String: Any]])
        XCTAssertEqual(groups.first?["negative"] as? Int, 10)
        XCTAssertEqual(groups.first?["models"] as? [String], ["w8-active"])

        // A cross form that does not fall fails claim 1, whatever the self form does.
        for k in models.indices where !models[k].frozen { models[k].cross = { _ in 0.3 } }
        let flat = ClaimsEvaluator.evaluate(try self.record(models))
        XCTAssertEqual(flat.verdict(1), .fails, flat.rows[0].details)
        XCTAssertEqual(flat.rows[0].condition("1.2")?.pass, true)
        // Without a cross form there is no 1.3 and no interference.
        XCTAssertNil(ClaimsEvaluator.evaluate(try self.record(healthyModels())).rows[0].condition("1.3"))
    }
}
