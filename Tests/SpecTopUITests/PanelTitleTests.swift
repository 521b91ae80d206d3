import SpecTopRecord
@testable import SpecTopUI
import XCTest

/// Long model names in panel titles: shortened in the middle, never blanked,
/// and names that differ only at their end stay apart (a sweep's `RUN/MODEL`).
final class PanelTitleTests: XCTestCase {
    func testLongNamesKeepBothEndsAndTheSelectedTitleIsNeverBlank() {
        let ids = ["sweep-2026-12-07-lr3e-4/cnn-w16-active", "sweep-2026-12-07-lr3e-4/cnn-w32-active"]
        for glyphs in [GlyphSet.unicode, .ascii] {
            var titles: [String] = []
            for (k, id) in ids.enumerated() {
                let model = makeModel(width: 16 << k, mode: .active, status: k == 1 ? .finished : .training, id: id)
                var buffer = CellBuffer(width: 30, height: 12, asciiOnly: !glyphs.isUnicode)
                ModelPanel(model: model, selected: k == 0, state: MonitorState()).render(into: &buffer, area: Rect(x: 0, y: 0, width: 30, height: 12), glyphs: glyphs)
                titles.append(buffer.lines[0])
            }
            let ellipsis = glyphs.ellipsis
            XCTAssertTrue(titles[0].contains(String(glyphs.pointer) + " sweep-") && titles[0].contains(ellipsis) && titles[0].contains("w16-active"),
                          "the selected title keeps the name's start and end: \(titles[0])")
            XCTAssertTrue(titles[1].contains("w32-active") && titles[1].contains(" done"), titles[1])
            XCTAssertNotEqual(titles[0].replacingOccurrences(of: String(glyphs.pointer), with: " "), titles[1])
        }
    }

    func testMiddleEllipsis() {
        XCTAssertEqual(BoxFrame.middleEllipsis("short", width: 10, ellipsis: "…"), "short")
        XCTAssertEqual(BoxFrame.middleEllipsis("abcdefghij", width: 7, ellipsis: "…"), "abc…hij")
        XCTAssertEqual(BoxFrame.middleEllipsis("abcdefghij", width: 8, ellipsis: "..."), "ab...hij")
        XCTAssertEqual(BoxFrame.middleEllipsis("abcdefghij", width: 2, ellipsis: "..."), "ab")
        XCTAssertEqual(BoxFrame.middleEllipsis("abcdefghij", width: 0, ellipsis: "…"), "")
    }
}

/// The scaling view counts sizes, not models, and fits no power law across
/// data sets (a watched sweep of two experiments).
final class ScalingHonestyTests: XCTestCase {
    private func render(_ models: [ModelSnapshot]) -> String {
        let snapshot = EngineSnapshot(state: .running, models: models, elapsed: 1, stepsPerSecond: 1)
        var buffer = CellBuffer(width: 140, height: 40)
        ScalingView(snapshot: snapshot, state: MonitorState()).render(into: &buffer, area: Rect(x: 0, y: 0, width: 140, height: 40), glyphs: .unicode)
        return buffer.text
    }

    func testSeedsOfOneSizeAreOneSizeAndDataSetsAreNotMixed() {
        // Three sizes, two seeds each (ids differ, sizes repeat).
        var models: [ModelSnapshot] = []
        for width in [16, 32, 64] {
            for seed in 1...2 { models.append(makeModel(width: width, mode: .active, id: "w\(width)-s\(seed)")) }
        }
        let text = render(models)
        XCTAssertTrue(text.contains("(3 sizes, 6 models)"), text)
        XCTAssertFalse(text.contains("6 sizes"), text)

        for k in models.indices { models[k].dataSet = k < 3 ? "teacher/mse" : "digits/cross_entropy" }
        let mixed = render(models)
        XCTAssertTrue(mixed.contains("no fit across 2 data sets: digits/"), mixed)
        XCTAssertFalse(mixed.contains("N^"), "no exponent is fitted:\n\(mixed)")
    }
}
