import Foundation
import SpecTopRecord
import SpecTopUI
import XCTest

/// `s`: TensorBoard's debiased EMA on the drawn lines, never on the numbers.
final class SmoothingTests: XCTestCase {
    /// The debiased EMA written out as its weighted sum: point t is
    /// Σ_{i≤t} (1−w) w^(t−i) x_i / (1 − w^(t+1)), i counting drawable points only.
    private func reference(_ values: [Double], weight: Double, scale: AxisScale) -> [Double] {
        var drawable: [Double] = []
        return values.map { value in
            guard let coordinate = scale.transform(value) else { return .nan }
            drawable.append(coordinate)
            let t = drawable.count - 1
            var sum = 0.0
            for (i, x) in drawable.enumerated() { sum += (1 - weight) * pow(weight, Double(t - i)) * x }
            return scale.value(at: sum / (1 - pow(weight, Double(t + 1))))
        }
    }

    func testEveryWeightIsTheDebiasedAverageOnBothScales() {
        var rng = TestRandom(seed: 3)
        var values: [Double] = []
        for i in 0..<300 {
            let noise: Double = 1 + 0.5 * (Double(rng.index(below: 1000)) / 1000 - 0.5)
            let value: Double = exp(-Double(i) / 60) * noise
            values.append(i % 37 == 5 ? .nan : (i % 53 == 7 ? -1 : value))
        }
        for smoothing in Smoothing.allCases where smoothing != .off {
            for scale in [AxisScale.log, .linear] {
                let got = smoothing.apply(values, scale: scale), want = reference(values, weight: smoothing.rawValue, scale: scale)
                XCTAssertEqual(got.count, values.count)
                for (a, b) in zip(got, want) {
                    if b.isNaN { XCTAssertTrue(a.isNaN, "gaps stay gaps") } else { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b))) }
                }
            }
        }
        XCTAssertEqual(Smoothing.off.apply(values, scale: .log).map { $0.bitPattern }, values.map { $0.bitPattern })
        // The first point is its own average (debiased), and a constant stays constant.
        for value in Smoothing.strong.apply([5, 5, 5], scale: .log) { XCTAssertEqual(value, 5, accuracy: 1e-12) }
        XCTAssertEqual(Smoothing.medium.apply([2], scale: .linear), [2])
    }

    func testTheCycleAndTheKey() {
        XCTAssertEqual([Smoothing.off, .light, .medium, .strong].map(\.next), [.light, .medium, .strong, .off])
        XCTAssertEqual(Smoothing.allCases.map(\.label), ["off", "EMA 0.6", "EMA 0.9", "EMA 0.99"])
        let monitor = MonitorController(source: RecordingSource(makeSnapshot(models: 4)), info: testInfo)
        monitor.handle(.character("s"))
        XCTAssertEqual(monitor.state.smoothing, .light)
        XCTAssertEqual(monitor.status, "smoothing EMA 0.6 (the values shown stay raw)")
        var buffer = CellBuffer(width: 120, height: 40)
        monitor.render(into: &buffer, glyphs: .unicode)
        XCTAssertTrue(buffer.line(0).contains("smooth EMA 0.6"), buffer.line(0))
    }

    func testValuesStayRawAndTheCompareViewKeepsTheRawCurveFaint() {
        let snapshot = makeSnapshot(models: 4)
        let latest = snapshot.models[0].latest
        var state = MonitorState()
        state.smoothing = .strong
        let grid = FrameRenderer.render(snapshot, info: testInfo, state: state, width: 120, height: 40)
        XCTAssertTrue(grid.text.contains(NumberFormat.scientific(latest?.loss)), "the value column shows the raw latest loss")
        let plain = FrameRenderer.render(snapshot, info: testInfo, state: MonitorState(), width: 120, height: 40)
        XCTAssertNotEqual(grid.text, plain.text, "the sparklines are smoothed")
        state.view = .compare
        var off = MonitorState()
        off.view = .compare
        let smoothed = FrameRenderer.render(snapshot, info: testInfo, state: state, width: 120, height: 40)
        let raw = FrameRenderer.render(snapshot, info: testInfo, state: off, width: 120, height: 40)
        func mutedPlotCells(_ buffer: CellBuffer) -> Int {
            var count = 0
            for y in 2..<39 { for x in 10..<90 where buffer[x, y].role == .muted && buffer[x, y].character != " " { count += 1 } }
            return count
        }
        XCTAssertGreaterThan(mutedPlotCells(smoothed), mutedPlotCells(raw) + 20, "the raw curves are drawn faintly behind")
    }
}
