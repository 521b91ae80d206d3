import SpecTopUI
import XCTest

final class TooSmallTests: XCTestCase {
    func testMessageIsCentred() {
        // Two models stack in one column: 18x10 of panels plus header and footer, at least 40 wide.
        let buffer = FrameRenderer.render(makeSnapshot(models: 2), info: testInfo, width: 60, height: 9)
        let message = "terminal too small: need 40x12, have 60x9"
        let expected = (0..<9).map { row -> String in
            guard row == 4 else { return String(repeating: " ", count: 60) }
            let left = (60 - message.count) / 2
            return String(repeating: " ", count: left) + message + String(repeating: " ", count: 60 - left - message.count)
        }
        assertScreen(buffer, expected)
    }

    func testNeedsFollowTheModelCount() {
        // Eight models: four sizes side by side need 4 x 18 columns and 2 x 5 rows plus header and
        // footer; that is the arrangement nearest to 70x11.
        let buffer = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, width: 70, height: 11)
        assertScreenContains(buffer, "terminal too small: need 72x12 or 40x22, have 70x11")
        // The same models fit 70x30 as two columns of sizes.
        let tall = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, width: 70, height: 30)
        XCTAssertFalse(tall.text.contains("too small"), tall.text)
    }

    func testNarrowTerminalWrapsTheMessage() {
        let buffer = FrameRenderer.render(makeSnapshot(models: 2), info: testInfo, width: 20, height: 5)
        assertScreen(buffer, [
            "                    ",
            "terminal too small: ",
            "    need 40x12,     ",
            "     have 20x5      ",
            "                    ",
        ])
    }

    func testRecoversWhenEnlarged() {
        var buffer = CellBuffer(width: 30, height: 8)
        let snapshot = makeSnapshot(models: 8)
        FrameRenderer.render(snapshot, info: testInfo, into: &buffer)
        XCTAssertTrue(buffer.text.contains("too small"))
        buffer.reset(width: 80, height: 24)
        FrameRenderer.render(snapshot, info: testInfo, into: &buffer)
        XCTAssertFalse(buffer.text.contains("too small"))
        assertScreenContains(buffer, "w128 frozen")
    }
}
