import Foundation
import SpecTopRecord
import XCTest

/// The log-spaced schedule's documented steps (METHOD.md, *Log-spaced
/// measurements*), shared by the engine and the probe.
final class MeasurementScheduleTests: XCTestCase {
    func testTheDocumentedStepsAndWindows() {
        let small = MeasurementSchedule.log(pointsPerDecade: 4, window: 2)
        // Centres 0, 1, 3, 5, 10 (⌊10^{k/4}⌋ = 1, 1, 3, 5, 10, 17, …), two steps each.
        XCTAssertEqual(small.steps(upTo: 12), [0, 1, 2, 3, 4, 5, 6, 10, 11])
        XCTAssertEqual(small.steps(upTo: 12).map { small.window(of: $0) }, [0, 1, 1, 3, 3, 5, 5, 10, 10])
        XCTAssertNil(small.window(of: 7))
        XCTAssertFalse(small.isDue(9))
        // Powers of ten are centres whatever pow rounds to.
        for p in [1, 3, 7, 10, 20] {
            for power in [10, 100, 1_000, 10_000, 100_000] {
                XCTAssertTrue(MeasurementSchedule.centres(pointsPerDecade: p, upTo: power).contains(power), "p = \(p), \(power)")
            }
        }
    }

    func testTheDefaultIsDenseEarlyAndSparseLate() {
        let schedule = MeasurementSchedule.defaultLog
        XCTAssertEqual(Array(schedule.steps(upTo: 30).prefix(24)), Array(0...23), "every step up to 23")
        XCTAssertEqual(schedule.steps(upTo: 1_000).count, 105)
        XCTAssertEqual(schedule.steps(upTo: 10_000).count, 155)
        let steps = schedule.steps(upTo: 100_000)
        XCTAssertEqual(steps, steps.sorted())
        XCTAssertEqual(Set(steps).count, steps.count)
        XCTAssertTrue(steps.allSatisfy(schedule.isDue))
        // p·w per decade once the windows stop overlapping: 10 windows of 5 in
        // [10⁴, 10⁵), and the next centre, 10⁵, cut to its first step.
        let lastDecade = steps.filter { $0 >= 10_000 }.count
        XCTAssertEqual(lastDecade, 51)
    }

    func testEverySchedulesAndTheRecordObject() {
        XCTAssertEqual(MeasurementSchedule.every(3).steps(upTo: 10), [0, 3, 6, 9])
        XCTAssertNil(MeasurementSchedule.every(3).window(of: 3))
        for schedule in [MeasurementSchedule.every(7), .log(pointsPerDecade: 4, window: 2)] {
            let object = try? JSONSerialization.jsonObject(with: Data(schedule.json.utf8)) as? [String: Any]
            XCTAssertEqual(object.flatMap(MeasurementSchedule.init(json:)), schedule, schedule.json)
        }
        XCTAssertEqual(MeasurementSchedule.defaultLog.json, #"{"kind":"log","points_per_decade":10,"window":5}"#)
        XCTAssertNil(MeasurementSchedule(json: ["kind": "cosine"]))
        XCTAssertNil(MeasurementSchedule(json: ["kind": "log", "points_per_decade": 0, "window": 5]))
    }
}

/// A log schedule's windows, drawn as their means with their spread.
final class WindowMeansTests: XCTestCase {
    func testEachWindowIsItsMeanWithItsExtremesAndLonePointsStandAlone() {
        var history = MetricHistory()
        let schedule = MeasurementSchedule.log(pointsPerDecade: 4, window: 2)
        // Steps 0…6, 10, 11 (windows 0, 1, 1, 3, 3, 5, 5, 10, 10) and the budget's last step 12 (no window).
        for (k, step) in (schedule.steps(upTo: 12) + [12]).enumerated() {
            var sample = MetricSample(step: step, loss: Double(k), chiLoss: 1, chiNet: 1, chiPos: nil, gradSq: 1, wall: Double(step))
            sample.window = schedule.window(of: step)
            history.append(sample)
        }
        XCTAssertTrue(history.hasWindows)
        let w = history.windowMeans(xs: history.steps.map(Double.init), ys: history.loss)
        XCTAssertEqual(w.x, [0, 1, 3, 5, 10, 12])
        XCTAssertEqual(w.mean, [0, 1.5, 3.5, 5.5, 7.5, 9])
        XCTAssertEqual(w.low, [0, 1, 3, 5, 7, 9])
        XCTAssertEqual(w.high, [0, 2, 4, 6, 8, 9])
        // χ_pos undefined everywhere: every window is a gap, never a zero.
        XCTAssertTrue(history.windowMeans(xs: history.steps.map(Double.init), ys: history.chiPos).mean.allSatisfy(\.isNaN))
    }
}
