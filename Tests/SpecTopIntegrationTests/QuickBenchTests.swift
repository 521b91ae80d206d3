import Foundation
import TestSupport
import XCTest
import SpectralCore
@testable import SpecTopApp
@testable import SpecTopBench
@testable import SpecTopReaders

/// The whole quick benchmark suite in this process: seconds of real measurements.
final class QuickBenchTests: XCTestCase {
    func testQuickBenchReportsEveryFigure() throws {
        let suite = BenchmarkSuite(options: .quick(memoryRun: .inProcess(steps: 3)))
        let report = try suite.run()
        let json = try jsonObject(report.json())

        for key in BenchmarkReport.fixedKeys + BenchmarkPlugin.expectedKeys.map(\.key) {
            XCTAssertTrue(json.keys.contains(key), "missing key \(key)")
        }
        XCTAssertEqual(json["spectop_version"] as? String, SpecTopVersion.string)
        XCTAssertFalse((json["blas_core"] as? String ?? "").isEmpty)
        XCTAssertEqual(json["quick"] as? Bool, true)
        assertPositiveNumber(json["sgemm_gflops_1_thread"], "sgemm_gflops_1_thread")
        assertPositiveNumber(json["sgemm_gflops_2_threads"], "sgemm_gflops_2_threads")

        let options = BenchmarkOptions.quick()
        let steps = try XCTUnwrap(json["train_step"] as? [[String: Any]])
        XCTAssertEqual(steps.count, options.trainWidths.count * options.outputs.count)
        for step in steps {
            for key in ["width", "depth", "input_dim", "batch", "outputs", "params", "blas_threads", "ms", "gflops", "fraction_of_sgemm"] {
                assertPositiveNumber(step[key], "train_step.\(key)")
            }
            XCTAssertNotNil(step["activation"] as? String)
        }
        let lnp = try XCTUnwrap(json["lnp"] as? [[String: Any]])
        XCTAssertEqual(lnp.count, options.outputs.count)
        for entry in lnp {
            for key in ["width", "probe", "outputs", "ms", "train_step_ms", "steps_equivalent"] { assertPositiveNumber(entry[key], "lnp.\(key)") }
        }
        let kernels = try XCTUnwrap(json["entk"] as? [[String: Any]])
        XCTAssertEqual(kernels.count, options.kernelCases.count)
        for entry in kernels {
            for key in ["n", "outputs", "kernel_size", "factors_ms", "kernel_ms", "eigh_ms", "total_ms"] {
                assertPositiveNumber(entry[key], "entk.\(key)")
            }
            let parts = ["factors_ms", "kernel_ms", "eigh_ms"].compactMap { entry[$0] as? Double }
            // The total is the median of per-round sums: close to, not exactly, the sum of medians.
            XCTAssertGreaterThan(try XCTUnwrap(entry["total_ms"] as? Double), 0.5 * parts.reduce(0, +))
        }

        // No UI is registered here: the UI keys are present, null, and explained.
        let notes = try XCTUnwrap(json["notes"] as? [String: String])
        for key in BenchmarkPlugin.expectedKeys.map(\.key) {
            XCTAssertTrue(json[key] is NSNull, "\(key) should be null without a UI plugin, got \(String(describing: json[key]))")
            XCTAssertFalse((notes[key] ?? "").isEmpty, "\(key) is null without a note")
        }
        assertPositiveNumber(json["peak_rss_mib_default_preset"], "peak_rss_mib_default_preset")
        XCTAssertEqual(json["peak_rss_method"] as? String, "in_process")

        XCTAssertFalse(BenchmarkTable.render(report).isEmpty)
    }

    /// The cost curves with --quick: the training-step curve shrunk to
    /// widths 64...512 and drawn, the spectrum curve skipped with its reason,
    /// both under their keys in the JSON.
    func testQuickBenchDrawsTheCostCurves() throws {
        var options = BenchmarkOptions.quick(repeats: 1, memoryRun: .skip(reason: "test"))
        options.sgemmSize = 64
        options.trainWidths = [8]
        options.outputs = [1]
        options.lnpWidth = 8
        options.lnpProbe = 16
        options.kernelWidth = 8
        options.kernelCases = [.init(samples: 8, outputs: 1)]
        let suite = BenchmarkSuite(options: options, plugins: SpectrumCost.plugins + TrainWidthCost.plugins,
                                   curveSources: BenchmarkCurveSource.all)
        let report = try suite.run()
        let json = try jsonObject(report.json())
        let notes = try XCTUnwrap(json["notes"] as? [String: String])
        for width in TrainWidthCost.quickWidths { assertPositiveNumber(json["train_width_step_ms_w\(width)"], "width \(width)") }
        XCTAssertTrue(json["train_width_step_ms_w8192"] is NSNull)
        XCTAssertTrue(notes["train_width_step_ms_w8192"]?.contains("not in --quick's widths") == true)
        assertPositiveNumber(json["train_width_exponent_fitted"], "fitted exponent")
        XCTAssertEqual(json["train_width_exponent_asymptotic"] as? Double, 2)
        XCTAssertEqual(json["train_width_fit_min_width"] as? Double, Double(TrainWidthCost.quickFitMinWidth))
        let flops = try XCTUnwrap(json["train_width_exponent_flops"] as? Double)
        XCTAssertGreaterThan(flops, 1)
        XCTAssertLessThan(flops, 2)
        XCTAssertTrue(json["spectrum_crossover_m"] is NSNull)
        XCTAssertTrue(notes["spectrum_crossover_m"]?.contains("--quick") == true)

        XCTAssertEqual(report.curves.count, 2)
        let text = BenchmarkTable.render(report)
        XCTAssertTrue(text.contains("Training step against width"))
        XCTAssertTrue(text.contains("o measured"))
        XCTAssertTrue(text.contains("not measured with --quick"))
        XCTAssertFalse(text.contains("train_width_step_ms_w64"), "the curve's figures are in its table, not under Other figures")
    }
}
