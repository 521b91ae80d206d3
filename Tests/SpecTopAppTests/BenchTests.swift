import Foundation
import XCTest
import SpectralCore
@testable import SpecTopApp

/// `spectop bench --quick --json` through the library API, in this process.
final class BenchTests: XCTestCase {
    private func parse(_ report: BenchmarkReport) throws -> [String: Any] {
        let text = try report.json()
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(object as? [String: Any], "the bench JSON is not one object")
    }

    private func assertPositive(_ value: Any?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let number = value as? Double else {
            XCTFail("\(what) is \(String(describing: value)), not a number", file: file, line: line)
            return
        }
        XCTAssertTrue(number.isFinite && number > 0, "\(what) = \(number)", file: file, line: line)
    }

    func testQuickBenchReportsEveryFigure() throws {
        let suite = BenchmarkSuite(options: .quick(memoryRun: .inProcess(steps: 3)))
        let report = try suite.run()
        let json = try parse(report)

        for key in BenchmarkReport.fixedKeys + BenchmarkPlugin.expectedKeys.map(\.key) {
            XCTAssertTrue(json.keys.contains(key), "missing key \(key)")
        }
        XCTAssertEqual(json["spectop_version"] as? String, SpecTopVersion.string)
        XCTAssertFalse((json["blas_core"] as? String ?? "").isEmpty)
        XCTAssertEqual(json["quick"] as? Bool, true)
        assertPositive(json["sgemm_gflops_1_thread"], "sgemm_gflops_1_thread")
        assertPositive(json["sgemm_gflops_2_threads"], "sgemm_gflops_2_threads")

        let options = BenchmarkOptions.quick()
        let steps = try XCTUnwrap(json["train_step"] as? [[String: Any]])
        XCTAssertEqual(steps.count, options.trainWidths.count * options.outputs.count)
        for step in steps {
            for key in ["width", "depth", "input_dim", "batch", "outputs", "params", "blas_threads", "ms", "gflops", "fraction_of_sgemm"] {
                assertPositive(step[key], "train_step.\(key)")
            }
            XCTAssertNotNil(step["activation"] as? String)
        }
        let lnp = try XCTUnwrap(json["lnp"] as? [[String: Any]])
        XCTAssertEqual(lnp.count, options.outputs.count)
        for entry in lnp {
            for key in ["width", "probe", "outputs", "ms", "train_step_ms", "steps_equivalent"] { assertPositive(entry[key], "lnp.\(key)") }
        }
        let kernels = try XCTUnwrap(json["entk"] as? [[String: Any]])
        XCTAssertEqual(kernels.count, options.kernelCases.count)
        for entry in kernels {
            for key in ["n", "outputs", "kernel_size", "factors_ms", "kernel_ms", "eigh_ms", "total_ms"] {
                assertPositive(entry[key], "entk.\(key)")
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
        assertPositive(json["peak_rss_mib_default_preset"], "peak_rss_mib_default_preset")
        XCTAssertEqual(json["peak_rss_method"] as? String, "in_process")

        XCTAssertFalse(BenchmarkTable.render(report).isEmpty)
    }

    /// A registered plugin's figure lands under its key; a failing one is
    /// null with the error as the note; the BLAS thread count is restored.
    func testPluginsAndThreadRestore() throws {
        var options = BenchmarkOptions.quick(repeats: 1, memoryRun: .skip(reason: "test"))
        options.sgemmSize = 64
        options.trainWidths = [8]
        options.outputs = [1]
        options.lnpWidth = 8
        options.lnpProbe = 16
        options.kernelWidth = 8
        options.kernelCases = [.init(samples: 8, outputs: 1)]
        struct Broken: Error, CustomStringConvertible { var description: String { "no terminal" } }
        let plugins = [
            BenchmarkPlugin(key: BenchmarkPlugin.uiRenderKey, label: "render", unit: "ms") { _ in 1.5 },
            BenchmarkPlugin(key: BenchmarkPlugin.uiBytesKey, label: "bytes", unit: "B/s") { _ in throw Broken() },
            BenchmarkPlugin(key: "ui_extra_ms", label: "extra", unit: "ms") { _ in .nan },
        ]
        let before = BLASRuntime.threadCount
        let json = try parse(try BenchmarkSuite(options: options, plugins: plugins).run())
        XCTAssertEqual(BLASRuntime.threadCount, before)
        let notes = try XCTUnwrap(json["notes"] as? [String: String])
        XCTAssertEqual(json[BenchmarkPlugin.uiRenderKey] as? Double, 1.5)
        XCTAssertTrue(json[BenchmarkPlugin.uiBytesKey] is NSNull)
        XCTAssertTrue(notes[BenchmarkPlugin.uiBytesKey]?.contains("no terminal") == true)
        XCTAssertTrue(json["ui_extra_ms"] is NSNull, "NaN must become null, not invalid JSON")
        XCTAssertNotNil(notes["ui_extra_ms"])
        XCTAssertTrue(json["peak_rss_mib_default_preset"] is NSNull)
        XCTAssertEqual(json["peak_rss_method"] as? String, "skipped")
    }

    func testHighWaterMarkParsing() {
        let status = "Name:\tspectop\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  100000 kB\n"
        XCTAssertEqual(PeakMemoryProbe.highWaterMarkMiB(status: status), 200)
        XCTAssertNil(PeakMemoryProbe.highWaterMarkMiB(status: "Name:\tx\n"))
    }

    func testMedian() {
        XCTAssertEqual(BenchTimer.median([3, 1, 2]), 2)
        XCTAssertEqual(BenchTimer.median([4, 1, 2, 3]), 2.5)
        XCTAssertEqual(BenchTimer.median([]), 0)
    }
}
