import SpecTopUI
import XCTest

final class CellBufferTests: XCTestCase {
    func testPutClipsAtTheRightEdgeAndCountsOutsideWrites() {
        var buffer = filledBuffer(width: 6, height: 2)
        buffer.put("abcdefgh", x: 2, y: 0)
        buffer.put("x", x: 0, y: 5)
        buffer.put("z", x: -1, y: 1)
        assertScreen(buffer, ["~~abcd", "~~~~~~"])
        XCTAssertEqual(buffer.outOfBoundsWrites, 2)
    }

    func testMaxWidthLimitsTheText() {
        var buffer = filledBuffer(width: 6, height: 1)
        let written = buffer.put("abcdef", x: 1, y: 0, maxWidth: 3)
        XCTAssertEqual(written, 3)
        assertScreen(buffer, ["~abc~~"])
    }

    func testWideAndControlCharactersTakeOneColumnEach() {
        var buffer = filledBuffer(width: 6, height: 1)
        buffer.put("a\u{4E2D}\tb", x: 0, y: 0)
        assertScreen(buffer, ["a??b~~"])
    }

    func testCombiningMarksAreDropped() {
        var buffer = filledBuffer(width: 4, height: 1)
        buffer.put("e\u{301}x", x: 0, y: 0)
        assertScreen(buffer, ["ex~~"])
    }

    func testAsciiOnlyBufferReplacesEverythingElse() {
        var buffer = filledBuffer(width: 5, height: 1, asciiOnly: true)
        buffer.put("χ▁é", x: 0, y: 0)
        buffer.put("█", x: 4, y: 0)
        assertScreen(buffer, ["???~?"])
    }

    func testResetRefillsAndResizes() {
        var buffer = filledBuffer(width: 3, height: 1)
        buffer.put("abc", x: 0, y: 0)
        buffer.reset(width: 2, height: 2, filler: Cell("."))
        assertScreen(buffer, ["..", ".."])
    }
}
