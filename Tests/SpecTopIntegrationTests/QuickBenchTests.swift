import Foundation
import TestSupport
import XCTest
import SpectralCore
@testable import SpecTopApp

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

    /// A registered plugin's figure lands under its key; a failing one is
    /// null with the error as the note; the BLAS thread count is restored.
}
