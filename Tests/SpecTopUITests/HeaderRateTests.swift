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

    /// The clock counts training time (it stands while paused) and space
    /// offers what it will do: `resume` when paused, `pause` while a replay plays.
    func testTheClockStandsWhilePausedAndSpaceOffersResume() {
        var snapshot = makeSnapshot(models: 2)
        snapshot.elapsed = 100
        snapshot.pausedSeconds = 40
        snapshot.state = .paused
        let screen = FrameRenderer.render(snapshot, info: testInfo, state: MonitorState(mode: .live), width: 160, height: 40)
        XCTAssertTrue(screen.lines[0].contains("1:00"), screen.lines[0])
        XCTAssertFalse(screen.lines[0].contains("1:40"), screen.lines[0])
        XCTAssertTrue(screen.lines[39].contains("space resume") || screen.lines[39].contains("Space resume"), screen.lines[39])
        snapshot.state = .running
        let running = FrameRenderer.render(snapshot, info: testInfo, state: MonitorState(mode: .live), width: 160, height: 40)
        XCTAssertTrue(running.lines[39].lowercased().contains("space pause"), running.lines[39])
        let playing = FrameRenderer.render(snapshot, info: testInfo, state: MonitorState(mode: .replay), width: 160, height: 40)
        XCTAssertTrue(playing.lines[39].lowercased().contains("space pause"), playing.lines[39])
        snapshot.state = .paused
        let stopped = FrameRenderer.render(snapshot, info: testInfo, state: MonitorState(mode: .replay), width: 160, height: 40)
        XCTAssertTrue(stopped.lines[39].lowercased().contains("space play"), stopped.lines[39])
    }
}
