import SpecTopRecord
import XCTest

/// The one downsampling rule: the metrics' history and a user scalar's
/// series, fed the same steps, keep the same points, within their capacity,
/// spanning the whole run.
final class DownsamplerTests: XCTestCase {
    func testMetricsAndUserScalarsThinAlike() {
        for (capacity, count) in [(16, 1000), (2, 37), (1024, 5000)] {
            var history = MetricHistory(capacity: capacity)
            var scalars = UserScalarSeries(name: "val_loss", capacity: capacity)
            for step in 0..<count {
                history.append(MetricSample(step: step, loss: Double(step), chiLoss: 1, chiNet: 1, chiPos: 0.5, gradSq: 1, wall: Double(step)))
                scalars.append(step: step, value: Double(step), wall: Double(step))
            }
            XCTAssertEqual(history.steps, scalars.steps, "capacity \(capacity), \(count) samples")
            XCTAssertEqual(history.loss, scalars.values)
            XCTAssertLessThan(history.count, capacity)
            XCTAssertEqual(history.steps.first, 0, "the start stays")
            XCTAssertGreaterThanOrEqual(history.steps.last ?? 0, count - 2 * history.stride, "the end stays within two strides")
            XCTAssertEqual(history.steps, history.steps.sorted())
            XCTAssertEqual(scalars.latest?.step, count - 1)
        }
    }

    func testTheRuleItself() {
        var sampler = Downsampler(capacity: 4)
        var kept: [Int] = []
        for step in 0..<12 where sampler.admits() {
            kept.append(step)
            if sampler.isFull(count: kept.count) { kept = Downsampler.halved(kept) }
        }
        // 0 1 2 3 → full: 0 2, stride 2 → 5 7 → full: 0 5, stride 4 → 11.
        XCTAssertEqual(kept, [0, 5, 11])
        XCTAssertEqual(sampler.stride, 4)
        XCTAssertEqual(Downsampler.halved([1, 2, 3, 4, 5]), [1, 3, 5])
    }
}
