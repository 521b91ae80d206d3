import Foundation
import XCTest
import SpecTopRecord
import SpectralCore
@testable import SpecTopApp
@testable import SpecTopBench
@testable import SpecTopReaders

/// Where the bench's log–log plot puts points, and its labels.
final class LogLogPlotTests: XCTestCase {
    /// Three decades on 11 columns and 5 rows: one point every 5 columns and
    /// 2 rows, a second series overlapping the middle one, and the marker at
    /// x = 10^0.4, two tenths of the way along: column 2.
    func testPointsLandInTheirCells() {
        let plot = LogLogPlot(
            xLabel: "m", yLabel: "ms",
            series: [.init(name: "a", glyph: "x", points: [(1, 1), (10, 10), (100, 100)]),
                     .init(name: "b", glyph: "o", points: [(10, 10)])],
            marker: .init(x: Foundation.pow(10, 0.4), glyph: ":", name: "cross"),
            columns: 11, rows: 5)
        XCTAssertEqual(plot.cell(x: 1, y: 1), .init(column: 0, row: 4))
        XCTAssertEqual(plot.cell(x: 10, y: 10), .init(column: 5, row: 2))
        XCTAssertEqual(plot.cell(x: 100, y: 100), .init(column: 10, row: 0))
        XCTAssertEqual(plot.grid(), [
            "  :       x",
            "  :        ",
            "  :  @     ",
            "  :        ",
            "x :        ",
        ])
    }

    func testRoundingBetweenCellsAndSkippedValues() {
        let plot = LogLogPlot(xLabel: "w", yLabel: "ms",
                              series: [.init(name: "a", glyph: "o", points: [(1, 1), (1000, 1000), (0, 5), (10, -1), (.nan, 3)])],
                              columns: 7, rows: 4)
        // x = 10: a third of the way on 7 columns is 2; y = 10 on 4 rows: 1 of 3 up, row 2.
        XCTAssertEqual(plot.cell(x: 10, y: 10), .init(column: 2, row: 2))
        XCTAssertNil(plot.cell(x: 0, y: 5), "no place for zero on a log axis")
        XCTAssertEqual(plot.grid(), ["      o", "       ", "       ", "o      "])
    }

    func testOnePointSitsInTheMiddle() {
        let plot = LogLogPlot(xLabel: "m", yLabel: "ms", series: [.init(name: "a", glyph: "x", points: [(50, 7)])], columns: 9, rows: 5)
        XCTAssertEqual(plot.cell(x: 50, y: 7), .init(column: 4, row: 2))
    }

    func testAxesTicksAndLegend() {
        let plot = LogLogPlot(
            xLabel: "m", yLabel: "ms",
            series: [.init(name: "exact", glyph: "x", points: [(100, 1), (10000, 100)]),
                     .init(name: "matrix-free", glyph: "o", points: [(100, 10), (10000, 1000)])],
            marker: .init(x: 1000, glyph: ":", name: "crossover"), columns: 21, rows: 5)
        let lines = plot.render()
        XCTAssertEqual(lines.count, 1 + 5 + 3, "y label, rows, x axis, x ticks, legend")
        XCTAssertEqual(lines[0], "  ms")
        XCTAssertEqual(lines[1], "1000 +          :         o")
        XCTAssertEqual(lines[3], "31.6 +          :          ")
        XCTAssertEqual(lines[5], "   1 +x         :          ")
        XCTAssertEqual(lines[6], "     +----------+---------+")
        XCTAssertEqual(lines[7], "      100     1000    10000  m")
        XCTAssertEqual(lines[8], "      x exact   o matrix-free   @ both   : crossover (1000)")
    }

    func testTicks() {
        XCTAssertEqual(LogLogPlot.tick(1328.4), "1328")
        XCTAssertEqual(LogLogPlot.tick(25600), "25600")
        XCTAssertEqual(LogLogPlot.tick(102_400), "1.02e5")
        XCTAssertEqual(LogLogPlot.tick(1.5e6), "1.5e6")
        XCTAssertEqual(LogLogPlot.tick(38.1), "38.1")
        XCTAssertEqual(LogLogPlot.tick(0.5), "0.5")
        XCTAssertEqual(LogLogPlot.tick(2.5e-5), "2.5e-5")
    }

    func testNoPoints() {
        XCTAssertEqual(LogLogPlot(xLabel: "m", yLabel: "ms", series: []).render(), ["(no points to plot)"])
    }
}

/// The training-step-against-width fit and its theory, from given points.
final class TrainWidthCostTests: XCTestCase {
    private func point(_ width: Int, ms: Double, depth: Int = 3, d: Int = 64, batch: Int = 256) -> TrainWidthCost.Point {
        // P = d·w + (depth−1)·w² + w·C + biases ((depth) hidden biases + C), C = 1.
        let params = d * width + (depth - 1) * width * width + width + depth * width + 1
        return .init(width: width, params: params, ms: ms, flops: 6 * Double(params) * Double(batch), samples: 3)
    }

    func testFitUsesOnlyTheUpperWidths() throws {
        // Below 1024 the times are junk (flat); from 1024 they follow w^1.8.
        let points = [64, 128, 256, 512].map { point($0, ms: 5) } + [1024, 2048, 4096, 8192].map { point($0, ms: 2e-5 * Foundation.pow(Double($0), 1.8)) }
        let (time, flops) = TrainWidthCost.fits(points, minWidth: 1024)
        XCTAssertEqual(try XCTUnwrap(time).exponent, 1.8, accuracy: 1e-9)
        XCTAssertEqual(time?.pointCount, 4)
        // The flop count's slope over 1024…8192: below 2 (the d·w and bias terms), above 1.9.
        let slope = try XCTUnwrap(flops).exponent
        XCTAssertLessThan(slope, 2)
        XCTAssertGreaterThan(slope, 1.95)
        // Against the two-point slope of the same flop counts at the ends (the fit of a near-line is close to it).
        let ends = Foundation.log(points[7].flops / points[4].flops) / Foundation.log(8)
        XCTAssertEqual(slope, ends, accuracy: 5e-3)
    }

    func testFlopScaleIsTheGeometricMeanOverTheFittedWidths() throws {
        var a = point(1024, ms: 1), b = point(2048, ms: 1)
        a.flops = 1e9
        b.flops = 4e9
        a.ms = 2   // 2e-9 ms per flop
        b.ms = 32  // 8e-9 ms per flop
        let scale = try XCTUnwrap(TrainWidthCost.flopScale([point(64, ms: 1000), a, b], minWidth: 1024))
        XCTAssertEqual(scale, 4e-9, accuracy: 1e-18)
        XCTAssertNil(TrainWidthCost.flopScale([point(64, ms: 1)], minWidth: 1024))
    }

    func testFitNeedsTwoWidths() {
        let (time, flops) = TrainWidthCost.fits([point(1024, ms: 3)], minWidth: 1024)
        XCTAssertNil(time)
        XCTAssertNil(flops)
    }

    func testWidthsAndKeys() {
        XCTAssertEqual(TrainWidthCost.widths, [64, 128, 256, 512, 1024, 2048, 4096, 8192])
        let keys = TrainWidthCost.plugins.map(\.key)
        XCTAssertTrue(keys.allSatisfy { $0.hasPrefix(TrainWidthCost.keyPrefix) })
        for key in ["train_width_step_ms_w64", "train_width_step_ms_w8192", "train_width_gflops_w1024", "train_width_exponent_fitted",
                    "train_width_exponent_flops", "train_width_exponent_asymptotic", "train_width_fit_min_width"] {
            XCTAssertTrue(keys.contains(key), "missing \(key)")
        }
        XCTAssertEqual(Set(keys).count, keys.count, "duplicate keys")
    }
}

/// The spectrum curve's sizes, keys and its not-measured reasons.
final class SpectrumCurveTests: XCTestCase {
    func testCasesAndKeys() {
        let sizes = SpectrumCost.cases.map(\.size)
        XCTAssertEqual(sizes.first, 320)
        XCTAssertEqual(sizes.last, 102_400)
        XCTAssertEqual(sizes, sizes.sorted())
        for spectrumCase in SpectrumCost.cases {
            XCTAssertEqual(spectrumCase.size % SpectrumCost.outputs, 0, "m = nC must be whole")
            XCTAssertEqual(spectrumCase.exact, spectrumCase.size <= SpectrumCost.exactLimit)
        }
        let keys = SpectrumCost.plugins.map(\.key)
        XCTAssertEqual(keys.count, 5 * sizes.count + 1)
        XCTAssertEqual(Set(keys).count, keys.count)
        XCTAssertTrue(keys.allSatisfy { $0.hasPrefix("spectrum_") })
        // Grouped by m, so `--only spectrum` prints each m as it finishes.
        XCTAssertEqual(Array(keys.prefix(5)), ["spectrum_exact_ms_m320", "spectrum_matrix_free_ms_m320",
                                               "spectrum_matrix_free_products_m320", "spectrum_matrix_free_gemm_floor_ms_m320",
                                               "spectrum_peak_rss_mib_m320"])
        XCTAssertEqual(keys.last, "spectrum_crossover_m")
    }

    /// The floor counts the quadrature's block calls once each and every
    /// other product (ARPACK's 176, λ_eff's one) as a single vector: a floor
    /// charging the blocks per vector, or the singles as blocks, is off by
    /// the block size — which depends on m (6 starts + ĝ at m = 5,120, 4 + ĝ
    /// at 10,240).
    func testTheGEMMFloorCountsBlocksOnceAndTheRestAsSingleVectors() {
        let settings = MatrixFreeSettings()  // 48 steps
        XCTAssertEqual(settings.quadratureProducts(size: 5120), 337)
        XCTAssertEqual(SpectrumCost.gemmFloorMs(singleMs: 5, blockMs: 37, products: 176 + 337, size: 5120, settings: settings),
                       177 * 5 + 48 * 37, accuracy: 1e-9)
        XCTAssertEqual(SpectrumCost.gemmFloorMs(singleMs: 5, blockMs: 37, products: 0, size: 5120, settings: settings), 48 * 37, accuracy: 1e-9)
        XCTAssertEqual(settings.quadratureProducts(size: 10_240), 241)
        XCTAssertEqual(SpectrumCost.gemmFloorMs(singleMs: 5, blockMs: 27, products: 176 + 241, size: 10_240, settings: settings),
                       177 * 5 + 48 * 27, accuracy: 1e-9)
    }

    func testExactAboveTheLimitIsNullWithItsReason() throws {
        let plugin = try XCTUnwrap(SpectrumCost.plugins.first { $0.key == "spectrum_exact_ms_m10240" })
        var options = BenchmarkOptions.standard(memoryRun: .skip(reason: "test"))
        options.repeats = 1
        XCTAssertThrowsError(try plugin.measure(options)) { error in
            XCTAssertTrue("\(error)".contains("3.4 GB"), "\(error)")
        }
        XCTAssertTrue(SpectrumCost.exactSkipReason(102_400).contains("335.5 GB"))
    }

    func testQuickCurveIsSkippedWithANote() throws {
        let curve = try XCTUnwrap(SpectrumCost.curve(.quick(repeats: 1, memoryRun: .skip(reason: "test"))))
        XCTAssertNotNil(curve.skipped)
        XCTAssertTrue(curve.render().contains("not measured with --quick"))
    }

    func testCrossoverWithTheExactPathStoppingEarly() {
        // Only sizes both paths measured count: 10240 has no exact time.
        XCTAssertEqual(SpectrumCost.crossover(exact: [2560: 3100, 5120: 47_600], matrixFree: [2560: 4100, 5120: 11_700, 10240: 32_800]),
                       2560 * Foundation.pow(2, Foundation.log(4100.0 / 3100) / (Foundation.log(47_600.0 / 11_700) + Foundation.log(4100.0 / 3100))),
                       accuracy: 1e-6)
    }
}

/// Curves in the human output: their figures are not listed twice.
final class BenchmarkCurveTableTests: XCTestCase {
    func testCurveKeysLeaveOtherFigures() {
        let curve = BenchmarkCurve(title: "Cost", header: ["m", "ms"], rows: [["320", "38.1"]],
                                   plot: LogLogPlot(xLabel: "m", yLabel: "ms", series: [.init(name: "exact", glyph: "x", points: [(320, 38.1)])]),
                                   notes: ["a note"])
        let report = BenchmarkReport(
            spectopVersion: "0", blasCore: "Zen", blasThreadsDefault: 2, cpuCores: 2, benchThreads: 2, quick: false, repeats: 1,
            sgemmSize: 64, sgemmGFLOPS1Thread: 1, sgemmGFLOPS2Threads: 2, trainSteps: [], lnp: [], kernels: [],
            pluginFigures: ["spectrum_exact_ms_m320": 38.1, "other_ms": 2], peakRSSMiB: nil, peakRSSMethod: "skipped", peakRSSSteps: nil,
            notes: ["spectrum_exact_ms_m320": "curve note", "other_ms": "other note"], curves: [curve], curveKeyPrefixes: ["spectrum_"])
        let text = BenchmarkTable.render(report)
        XCTAssertTrue(text.contains("Cost\n"))
        XCTAssertTrue(text.contains("x exact"))
        XCTAssertTrue(text.contains("  a note\n"))
        XCTAssertTrue(text.contains("other_ms"))
        XCTAssertTrue(text.contains("other note"))
        XCTAssertFalse(text.contains("spectrum_exact_ms_m320"), "shown by the curve, not again")
        XCTAssertFalse(text.contains("curve note"))
    }

    func testCurvesForKeys() {
        let source = BenchmarkCurveSource(keyPrefix: "spectrum_") { _ in BenchmarkCurve(title: "S") }
        let options = BenchmarkOptions.quick(repeats: 1, memoryRun: .skip(reason: "test"))
        XCTAssertEqual(BenchmarkCurveSource.curves(for: ["spectrum_crossover_m"], options: options, sources: [source]).map(\.title), ["S"])
        XCTAssertTrue(BenchmarkCurveSource.curves(for: ["ui_render_ms_8_models_200x60"], options: options, sources: [source]).isEmpty)
    }
}
