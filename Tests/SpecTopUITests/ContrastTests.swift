import Foundation
import SpecTopRecord
import SpecTopUI
import XCTest

/// Issue 16, item 8: the default theme keeps the terminal's own background,
/// so each of its colours must read on a white page as on a black one.
final class ContrastTests: XCTestCase {
    /// WCAG 2 relative luminance of an sRGB colour.
    static func luminance(_ c: RGBColor) -> Double {
        func linear(_ v: UInt8) -> Double {
            let x = Double(v) / 255
            return x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear(c.red) + 0.7152 * linear(c.green) + 0.0722 * linear(c.blue)
    }

    static func contrast(_ a: RGBColor, _ b: RGBColor) -> Double {
        let (la, lb) = (luminance(a), luminance(b))
        return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
    }

    func testTheReferenceFormula() {
        let white = RGBColor(red: 255, green: 255, blue: 255), black = RGBColor(red: 0, green: 0, blue: 0)
        XCTAssertEqual(Self.contrast(white, black), 21, accuracy: 1e-9)
        // The measurements of the old default on white.
        XCTAssertEqual(Self.contrast(RGBColor(hex: "#ffd75f")!, white), 1.39, accuracy: 0.01)
        XCTAssertEqual(Self.contrast(RGBColor(hex: "#f0a030")!, white), 2.15, accuracy: 0.01)
    }

    func testEveryDefaultRoleHasThreeToOneOnWhiteAndOnBlack() throws {
        let theme = try XCTUnwrap(Theme.builtin(named: "default"))
        let backgrounds = [("white", RGBColor(red: 255, green: 255, blue: 255)), ("black", RGBColor(red: 0, green: 0, blue: 0))]
        var checked = 0
        for role in ColorRole.allCases where role != .background {
            guard case .rgb(let color) = theme.color(for: role) else { continue }  // the terminal's own text colour
            // As written, and as a 256-colour terminal shows it.
            let shown = try XCTUnwrap(ColorMapper.rgb(of: ColorMapper.nearest256(color)))
            for (name, background) in backgrounds {
                for (what, c) in [("\(color)", color), ("\(shown) (256-colour)", shown)] {
                    XCTAssertGreaterThanOrEqual(Self.contrast(c, background), 3, "\(role) \(what) on \(name)")
                }
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 18, "every data role has a colour")
    }

    func testWithoutColourTheCompareViewDrawsEachSeriesWithItsOwnGlyph() {
        // Eight sizes, so no two loss curves coincide (one would hide the other).
        let snapshot = EngineSnapshot(state: .running, models: (0..<8).map { makeModel(width: 16 << $0, mode: .active) },
                                      elapsed: 1, stepsPerSecond: 1)
        var state = MonitorState()
        state.view = .compare
        state.monochrome = true
        let mono = FrameRenderer.render(snapshot, info: testInfo, state: state, width: 140, height: 40)
        state.monochrome = false
        let colour = FrameRenderer.render(snapshot, info: testInfo, state: state, width: 140, height: 40)
        // The plot area (left of the legend column): each of the 8 series' glyphs, not braille.
        func plot(_ buffer: CellBuffer) -> String { buffer.lines.dropFirst(1).dropLast(1).map { String($0.prefix(100)) }.joined() }
        for position in 0..<8 {
            let glyph = Character(GlyphSet.unicode.seriesGlyph(position))
            XCTAssertTrue(plot(mono).contains(glyph), "series \(position) (\(glyph)) drawn with its glyph in mono")
        }
        XCTAssertFalse(plot(mono).unicodeScalars.contains { (0x2801...0x28FF).contains($0.value) }, "no braille in mono")
        XCTAssertTrue(plot(colour).unicodeScalars.contains { (0x2801...0x28FF).contains($0.value) }, "braille in colour")
    }
}
