import SpecTopUI
import XCTest

final class ColorMappingTests: XCTestCase {
    private func rgb(_ hex: String, file: StaticString = #filePath, line: UInt = #line) -> ThemeColor {
        guard let color = RGBColor(hex: hex) else {
            XCTFail("bad hex \(hex)", file: file, line: line)
            return .terminalDefault
        }
        return .rgb(color)
    }

    func test256ColoursUseTheCubeAndGreyRamp() {
        XCTAssertEqual(ColorMapper.index(for: rgb("#ff0000"), depth: .ansi256), 196)
        XCTAssertEqual(ColorMapper.index(for: rgb("#000000"), depth: .ansi256), 16)
        XCTAssertEqual(ColorMapper.index(for: rgb("#ffffff"), depth: .ansi256), 231)
        XCTAssertEqual(ColorMapper.index(for: rgb("#5f87af"), depth: .ansi256), 67)
        // Mid grey is nearer the ramp (128 = 8 + 10·12) than the cube (135).
        XCTAssertEqual(ColorMapper.index(for: rgb("#808080"), depth: .ansi256), 244)
        XCTAssertEqual(ColorMapper.index(for: rgb("#1c1c1c"), depth: .ansi256), 234)
        // A dark green stays green (cube 29), although grey 239 is nearer in plain RGB distance.
        XCTAssertEqual(ColorMapper.index(for: rgb("#2e7d32"), depth: .ansi256), 29)
    }

    func test16And8Colours() {
        XCTAssertEqual(ColorMapper.index(for: rgb("#ff0000"), depth: .ansi16), 9)
        XCTAssertEqual(ColorMapper.index(for: rgb("#ff0000"), depth: .ansi8), 1)
        XCTAssertEqual(ColorMapper.index(for: rgb("#0000ee"), depth: .ansi8), 4)
        XCTAssertEqual(ColorMapper.index(for: rgb("#808080"), depth: .ansi16), 8)
        XCTAssertEqual(ColorMapper.index(for: rgb("#808080"), depth: .ansi8), 7)
        XCTAssertEqual(ColorMapper.index(for: rgb("#00ffff"), depth: .ansi16), 14)
    }

    func testDefaultAndMonochromeHaveNoIndex() {
        XCTAssertNil(ColorMapper.index(for: .terminalDefault, depth: .ansi256))
        XCTAssertNil(ColorMapper.index(for: rgb("#ff0000"), depth: .none))
    }

    func testDepthDetectionHonoursNoColor() {
        XCTAssertEqual(ColorDepth.detect(hasColors: true, colors: 256, noColor: nil), .ansi256)
        XCTAssertEqual(ColorDepth.detect(hasColors: true, colors: 88, noColor: nil), .ansi16)
        XCTAssertEqual(ColorDepth.detect(hasColors: true, colors: 8, noColor: nil), .ansi8)
        XCTAssertEqual(ColorDepth.detect(hasColors: false, colors: 0, noColor: nil), ColorDepth.none)
        XCTAssertEqual(ColorDepth.detect(hasColors: true, colors: 256, noColor: ""), ColorDepth.none)
        XCTAssertEqual(ColorDepth.detect(hasColors: true, colors: 256, noColor: "1"), ColorDepth.none)
    }

    func testRoundTripOfThe256Palette() {
        for index in 16..<256 {
            guard let color = ColorMapper.rgb(of: index) else { return XCTFail("no rgb for \(index)") }
            let mapped = ColorMapper.nearest256(color)
            XCTAssertEqual(ColorMapper.rgb(of: mapped), color, "index \(index)")
        }
    }

    func testHexParsing() {
        XCTAssertEqual(RGBColor(hex: "#0a0B0c"), RGBColor(red: 10, green: 11, blue: 12))
        XCTAssertNil(RGBColor(hex: "0a0b0c"))
        XCTAssertNil(RGBColor(hex: "#0a0b0"))
        XCTAssertNil(RGBColor(hex: "#0a0b0cd"))
        XCTAssertEqual(RGBColor(red: 1, green: 171, blue: 255).description, "#01abff")
    }
}
