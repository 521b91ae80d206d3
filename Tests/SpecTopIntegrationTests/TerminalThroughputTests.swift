import XCTest
import TestSupport
@testable import SpecTopApp
@testable import SpecTopBench
@testable import SpecTopReaders

final class TerminalThroughputTests: XCTestCase {
    /// The benchmark's pty measurement works end to end: the monitor draws
    /// into the pty, the bytes are counted, and spectop quits on `q`.
    func testMeasuresTheMonitorsOutputThroughAPty() throws {
        let rate = try TerminalThroughput.bytesPerSecond(
            binary: SpectopProcess.binary.path, arguments: ["run", "--preset", "tiny", "--steps", "1000000", "--no-record"],
            width: 120, height: 40, warmup: 2, window: 3)
        XCTAssertTrue(rate.isFinite && rate > 100, "bytes per second: \(rate)")
        print("monitor output at 120x40 (tiny preset, debug build): \(Int(rate)) B/s")
    }
}
