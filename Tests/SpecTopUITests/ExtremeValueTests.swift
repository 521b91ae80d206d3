@testable import SpecTopUI
import SpecTopRecord
import XCTest

/// A diverging model sends NaN, ±inf, 1e308 and subnormals through every
/// formatter and widget. Before these tests, `NumberFormat.fixed` turned
/// amplification 9.2e16 into an Int and the whole monitor died with SIGILL.
final class ExtremeValueTests: XCTestCase {
    /// Values that broke or could break the formatters, plus their negatives.
    static let extremes: [Double] = {
        let base: [Double] = [0, .nan, .infinity, Double.leastNonzeroMagnitude, .leastNormalMagnitude, Double("1e-310")!, 1e-300, 1e-12, 0.5, 1,
                              9.999, 999.95, 9.2e16, 9.22e18, 1e19, 1e300, 1e308, .greatestFiniteMagnitude]
        return base + base.map { -$0 }
    }()

    /// Random bit patterns cover every exponent, sign and NaN payload.
    static func randomDoubles(_ count: Int) -> [Double] {
        var random = TestRandom(seed: 0xF022)
        return (0..<count).map { _ in Double(bitPattern: random.next()) }
    }

    func testEveryFormatterTakesAnyDoubleAndStaysShort() {
        for value in Self.extremes + Self.randomDoubles(50_000) {
            let outputs = [
                NumberFormat.scientific(value), NumberFormat.axis(value), NumberFormat.rate(value),
                NumberFormat.duration(value), NumberFormat.percent(value),
                NumberFormat.fixed(value, decimals: 0), NumberFormat.fixed(value, decimals: 2), NumberFormat.fixed(value, decimals: 3),
            ]
            for text in outputs {
                XCTAssertFalse(text.isEmpty, "\(value)")
                // Scientific fallbacks stay within a panel's value column.
                XCTAssertLessThanOrEqual(text.count, 12, "\(value) formatted as \(text)")
            }
        }
        for value in [Int.min, Int.min + 1, -1, 0, 999, 1000, Int.max] {
            XCTAssertLessThanOrEqual(NumberFormat.count(value).count, 12, "\(value)")
        }
    }

    func testExtremesFormatToTheirValue() {
        XCTAssertEqual(NumberFormat.scientific(Double.leastNonzeroMagnitude), "4.94e-324")
        XCTAssertEqual(NumberFormat.scientific(1e308), "1.00e308")
        XCTAssertEqual(NumberFormat.scientific(-Double("1e-310")!), "-1.00e-310")
        XCTAssertEqual(NumberFormat.fixed(9.2e16, decimals: 2), "9.20e16")
        XCTAssertEqual(NumberFormat.fixed(-9.2e16, decimals: 0), "-9.20e16")
        XCTAssertEqual(NumberFormat.percent(1e300), "1.00e302%")
        XCTAssertEqual(NumberFormat.duration(1e300), "1.00e300s")
        XCTAssertEqual(NumberFormat.rate(1e300), "1.00e300")
        XCTAssertEqual(NumberFormat.axis(Double.leastNonzeroMagnitude), "4.9e-324")
        XCTAssertEqual(NumberFormat.count(Int.min), "-9.22e6T")
    }

    func testSparklineDrawsInfinityAsAbsentNotAsACrash() {
        let levels = Sparkline.levels([1, .infinity, 2, -.infinity, .nan, 3], scale: .linear, columns: 6, rows: 1)
        XCTAssertEqual(levels.count, 6)
        XCTAssertNil(levels[1])
        XCTAssertNil(levels[3])
        XCTAssertNotNil(levels[0])
    }

    /// A model whose every number is extreme, drawn in every view at several
    /// sizes: nothing may crash, nothing may be written outside the screen.
    func testEveryViewDrawsExtremeModels() {
        for (index, value) in Self.extremes.enumerated() {
            var history = MetricHistory(capacity: 32)
            for step in 0..<40 {
                history.append(MetricSample(step: step, loss: value, chiLoss: value, chiNet: value,
                                            chiPos: step % 2 == 0 ? value : nil, gradSq: value, wall: value))
            }
            let latest = MetricSample(step: 40, loss: value, chiLoss: value, chiNet: value, chiPos: value, gradSq: value, wall: value)
            let histogram = SpectrumHistogram(log10Edges: [value, value, 3], counts: [Int.max / 4, 1], residualWeights: [value, value],
                                              nearZeroCount: 1, nearZeroWeight: value, markerBin: 0)
            let spectrum = SpectrumSample(step: 40, eigenvalues: [value, value], weights: [value, value], chiPosExact: value,
                                          lambdaEff: value, rEff: value, effectiveRank: value, histogram: histogram)
            let layers = [LayerShare(layer: 0, chiNetShare: value, gradientShare: value, chiNet: value, gradSq: value)]
            let models = [TrainingMode.active, .frozen].map { mode in
                ModelSnapshot(id: "w\(index)-\(mode.rawValue)", width: 16 << (index % 4), depth: 2, mode: mode,
                              featuresFrozen: mode == .frozen, parameterCount: 1000, trainableParameterCount: 100,
                              step: 40, stepBudget: 100, status: index % 3 == 0 ? .diverged : .training, trainLoss: value,
                              latest: latest, history: history, spectrum: spectrum, layers: layers, minChiPos: value,
                              maxREff: value, amplification: value, stepsPerSecond: value)
            }
            let snapshot = EngineSnapshot(state: .running, models: models + [makeModel(width: 64, mode: .active)],
                                          elapsed: value, stepsPerSecond: value)
            for view in ViewKind.allCases {
                var state = MonitorState()
                state.view = view
                for (width, height) in [(80, 24), (120, 40), (200, 60)] {
                    let buffer = FrameRenderer.render(snapshot, info: testInfo, state: state, width: width, height: height)
                    XCTAssertEqual(buffer.outOfBoundsWrites, 0, "\(value) in \(view) at \(width)x\(height)")
                }
            }
        }
    }
}
