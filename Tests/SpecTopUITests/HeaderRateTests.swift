import SpecTopRecord
import SpecTopUI
import XCTest

/// The header's step rate is shown only while steps are taken and one is
/// known: a replay, a paused or finished run, or one too young to measure
/// said `0.0 steps/s`, which reads as a stalled run.
final class HeaderRateTests: XCTestCase {
    func header(_ snapshot: EngineSnapshot, mode: MonitorMode = .live) -> String {
        FrameRenderer.render(snapshot, info: testInfo, state: MonitorState(mode: mode), width: 160, height: 40).lines[0]
    }

    func testARateIsShownOnlyWhileItIsMeasured() {
        var snapshot = makeSnapshot(models: 2)
        XCTAssertTrue(header(snapshot).contains("1.23k steps/s"), header(snapshot))
        snapshot.stepsPerSecond = 0
        XCTAssertFalse(header(snapshot).contains("steps/s"), "a running model without a rate yet: \(header(snapshot))")
        snapshot.stepsPerSecond = 1234
        for state in [EngineState.paused, .finished, .stopped] {
            snapshot.state = state
            XCTAssertFalse(header(snapshot).contains("steps/s"), "\(state): \(header(snapshot))")
        }
        var replayed = makeSnapshot(models: 2)
        replayed.state = .finished
        replayed.stepsPerSecond = 0
        XCTAssertFalse(header(replayed, mode: .replay).contains("steps/s"), header(replayed, mode: .replay))
    }
}
