import SpecTopUI
import XCTest

final class SparklineTests: XCTestCase {
    private func draw(_ values: [Double], scale: AxisScale = .linear, width: Int, height: Int = 1, glyphs: GlyphSet = .unicode) -> CellBuffer {
        var buffer = filledBuffer(width: width, height: height)
        Sparkline(values: values, scale: scale).render(into: &buffer, area: buffer.bounds, glyphs: glyphs)
        return buffer
    }

    func testLinearScaleQuantisesToEighths() {
        // 0...7 spans the eight levels exactly: level = 1 + value.
        let buffer = draw((0..<8).map(Double.init), width: 8)
        assertScreen(buffer, ["▁▂▃▄▅▆▇█"])
    }

    func testTwoRowsUseSixteenLevels() {
        let buffer = draw([0, 15], width: 2, height: 2)
        assertScreen(buffer, [" █", "▁█"])
        XCTAssertEqual(Sparkline.levels([0, 7.5, 15], scale: .linear, columns: 3, rows: 2), [1, 9, 16])
    }

    func testLogScaleIsEvenInDecades() {
        let buffer = draw([1e-3, 1e-2, 1e-1, 1], scale: .log, width: 4)
        // log10 spans -3...0; levels 1, 1+7/3, 1+14/3, 8 rounded.
        assertScreen(buffer, ["▁▃▆█"])
    }

    func testLogScaleDropsNonPositiveValues() {
        let buffer = draw([0, 1, -1, 10], scale: .log, width: 4)
        assertScreen(buffer, [" ▁ █"])
    }

    func testNaNIsAGapNotZero() {
        let buffer = draw([0, .nan, 2], width: 4)
        // The minimum (0) is drawn as the lowest eighth; the NaN column stays empty.
        assertScreen(buffer, ["▁ █ "])
    }

    func testConstantSeriesIsDrawnAtHalfHeight() {
        assertScreen(draw([3, 3, 3], width: 3), ["▄▄▄"])
    }

    func testAllZeroSeriesIsGuarded() {
        assertScreen(draw([0, 0, 0], width: 3), ["▄▄▄"])
        assertScreen(draw([-2, -1, 0], width: 3), ["▁▅█"])
    }

    func testEmptyAndAllMissingSeriesDrawNothing() {
        assertScreen(draw([], width: 3), ["   "])
        assertScreen(draw([.nan, .infinity], width: 3), ["   "])
    }

    func testLongSeriesIsAveragedIntoColumns() {
        let values: [Double] = [0, 0, 1, 1, 2, 2, 3, .nan]
        XCTAssertEqual(Sparkline.resample(values, scale: .linear, columns: 4), [0, 1, 2, 3])
        let gaps = Sparkline.resample([.nan, .nan, 1, 1], scale: .linear, columns: 2)
        XCTAssertTrue(gaps[0].isNaN)
        XCTAssertEqual(gaps[1], 1)
    }

    func testAsciiGlyphs() {
        let buffer = draw((0..<8).map(Double.init), width: 8, glyphs: .ascii)
        assertScreen(buffer, ["_.-~=+*#"])
    }
}
