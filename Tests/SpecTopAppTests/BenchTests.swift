import Foundation
import TestSupport
import XCTest
import SpectralCore
@testable import SpecTopApp
@testable import SpecTopBench
@testable import SpecTopReaders

/// `spectop bench --quick --json` through the library API, in this process.
final class BenchTests: XCTestCase {
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
            // A figure --quick leaves out on purpose (issue 33, defect 9): skipped, not failed.
            BenchmarkPlugin(key: "exit_s_skipped", label: "skipped", unit: "s") { _ in
                throw BenchmarkPlugin.Skipped(description: "measured by the full suite only (not with --quick)")
            },
        ]
        let before = BLASRuntime.threadCount
        let json = try jsonObject(try BenchmarkSuite(options: options, plugins: plugins).run().json())
        XCTAssertEqual(BLASRuntime.threadCount, before)
        let notes = try XCTUnwrap(json["notes"] as? [String: String])
        XCTAssertEqual(json[BenchmarkPlugin.uiRenderKey] as? Double, 1.5)
        XCTAssertTrue(json[BenchmarkPlugin.uiBytesKey] is NSNull)
        XCTAssertTrue(notes[BenchmarkPlugin.uiBytesKey]?.contains("no terminal") == true)
        XCTAssertTrue(json["ui_extra_ms"] is NSNull, "NaN must become null, not invalid JSON")
        XCTAssertNotNil(notes["ui_extra_ms"])
        XCTAssertTrue(json["exit_s_skipped"] is NSNull)
        XCTAssertEqual(notes["exit_s_skipped"], "not measured: measured by the full suite only (not with --quick)")
        XCTAssertEqual(notes[BenchmarkPlugin.uiBytesKey], "the measurement failed: no terminal", "a real failure still says so")
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

/// The crossover of the spectrum cost curves, from given times.
final class SpectrumCostTests: XCTestCase {
    func testCrossoverInterpolatesInLogLog() {
        // Exact is faster at 1000 (1 vs 4 ms), slower at 4000 (64 vs 16): ratios 1/4 and 4 cross at 2000.
        XCTAssertEqual(SpectrumCost.crossover(exact: [1000: 1, 4000: 64], matrixFree: [1000: 4, 4000: 16]), 2000, accuracy: 1e-9)
        XCTAssertTrue(SpectrumCost.crossover(exact: [1000: 1, 4000: 2], matrixFree: [1000: 4, 4000: 16]).isNaN, "no crossing")
        XCTAssertEqual(SpectrumCost.crossover(exact: [1000: 5], matrixFree: [1000: 4]), 1000, "matrix-free already faster")
    }

    func testQuickBenchReportsTheSpectrumFiguresAsNotMeasured() throws {
        let plugin = try XCTUnwrap(SpectrumCost.plugins.first { $0.key == "spectrum_crossover_m" })
        XCTAssertThrowsError(try plugin.measure(.quick(repeats: 1, memoryRun: .skip(reason: "test"))))
        XCTAssertEqual(SpectrumCost.plugins.count, 5 * SpectrumCost.cases.count + 1)
    }
}
