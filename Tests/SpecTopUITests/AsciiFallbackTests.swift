import SpecTopUI
import SpecTopRecord
import XCTest

final class AsciiFallbackTests: XCTestCase {
    func testEveryCellIsAsciiInEveryView() {
        for view in ViewKind.allCases {
            for (width, height) in [(80, 24), (120, 40)] {
                var state = MonitorState(view: view)
                state.showHelp = view == .compare
                var info = testInfo
                info.dataset = "chiffres manuscrits — é"
                let buffer = FrameRenderer.render(makeSnapshot(models: 8), info: info, state: state, width: width, height: height, glyphs: .ascii)
                for cell in buffer.cells {
                    XCTAssertTrue(cell.character.isASCII, "\(view) \(width)x\(height): \(cell.character)\n\(buffer.text)")
                    if !cell.character.isASCII { return }
                }
            }
        }
    }

    func testAsciiLabelsReplaceGreek() {
        let buffer = FrameRenderer.render(makeSnapshot(models: 2), info: testInfo, width: 120, height: 40, glyphs: .ascii)
        assertScreenContains(buffer, "chi_net")
        assertScreenContains(buffer, "chi_pos")
        assertScreenContains(buffer, "amp x1.84")
    }

    func testGlyphSetFollowsTheLocale() {
        XCTAssertEqual(GlyphSet.detect(codeset: "UTF-8"), .unicode)
        XCTAssertEqual(GlyphSet.detect(codeset: "utf8"), .unicode)
        XCTAssertEqual(GlyphSet.detect(codeset: "ANSI_X3.4-1968"), .ascii)
        XCTAssertEqual(GlyphSet.detect(codeset: nil), .ascii)
        XCTAssertEqual(GlyphSet.detect(codeset: "UTF-8", forceASCII: true), .ascii)
    }

    func testUnicodeGlyphsAreOneScalarEach() {
        let glyphs = GlyphSet.unicode
        for label in [glyphs.chiNet, glyphs.chiPos, glyphs.lambdaEff, glyphs.times, glyphs.approxZero] {
            var buffer = CellBuffer(width: 10, height: 1)
            XCTAssertEqual(buffer.put(label, x: 0, y: 0), label.unicodeScalars.count, label)
        }
    }
}
