import SpecTopUI
import XCTest

final class HelpOverlayTests: XCTestCase {
    func testHelpListsEveryBindingOfTheTable() {
        for replay in [false, true] {
            let table = KeyTable.forMode(replay: replay)
            for (width, height) in [(80, 24), (120, 40)] {
                var state = MonitorState(replay: replay)
                state.showHelp = true
                let buffer = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, state: state, width: width, height: height)
                for binding in table.bindings {
                    let context = "replay \(replay) at \(width)x\(height)"
                    XCTAssertTrue(buffer.text.contains(binding.keyLabel), "\(binding.keyLabel) missing, \(context)\n\(buffer.text)")
                    XCTAssertTrue(buffer.text.contains(binding.summary), "\"\(binding.summary)\" missing, \(context)\n\(buffer.text)")
                }
            }
        }
    }

    func testEveryActionOfTheTableIsReachableAndNoKeyIsBoundTwice() {
        for table in [KeyTable.live, KeyTable.replay] {
            var seen: Set<Key> = []
            for binding in table.bindings {
                for key in binding.keys {
                    XCTAssertFalse(seen.contains(key), "\(key.label) bound twice")
                    seen.insert(key)
                    XCTAssertEqual(table.action(for: key), binding.action)
                }
            }
        }
    }

    func testReplayTableHasTheReplayVariants() {
        let replay = KeyTable.replay
        XCTAssertEqual(replay.action(for: .left), .scrubBackward)
        XCTAssertEqual(replay.action(for: .right), .scrubForward)
        XCTAssertEqual(replay.action(for: .home), .jumpToStart)
        XCTAssertEqual(replay.action(for: .end), .jumpToEnd)
        XCTAssertEqual(replay.action(for: .up), .selectPrevious)
        XCTAssertEqual(replay.action(for: .down), .selectNext)
        XCTAssertEqual(KeyTable.live.action(for: .left), .selectPreviousSize)
        XCTAssertNil(replay.action(for: .character("F")))
    }

    func testFooterShowsKeysFromTheTable() {
        let buffer = FrameRenderer.render(makeSnapshot(models: 2), info: testInfo, width: 120, height: 40)
        let footer = buffer.lines[39]
        for binding in KeyTable.live.bindings where binding.footer != nil {
            XCTAssertTrue(footer.contains(binding.footer ?? ""), footer)
        }
    }
}
