import SpecTopRecord
@testable import SpecTopUI
import XCTest

final class TooSmallTests: XCTestCase {
    func testMessageIsCentred() {
        // Below the smallest terminal any view is drawn in (40x10), however few the models.
        let buffer = FrameRenderer.render(makeSnapshot(models: 2), info: testInfo, width: 60, height: 9)
        let message = "terminal too small: need 40x10, have 60x9"
        let expected = (0..<9).map { row -> String in
            guard row == 4 else { return String(repeating: " ", count: 60) }
            let left = (60 - message.count) / 2
            return String(repeating: " ", count: left) + message + String(repeating: " ", count: 60 - left - message.count)
        }
        assertScreen(buffer, expected)
    }

    func testModelsThatDoNotFitArePagedNotRefused() {
        // Eight models: four sizes side by side need 4 x 18 columns and 2 x 5 rows plus header and
        // footer (72x12). At 70x11 a page of three panels is shown instead, with the keys.
        let buffer = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, width: 70, height: 11)
        XCTAssertFalse(buffer.text.contains("too small"), buffer.text)
        assertScreenContains(buffer, "page 1/3 of 8 models")
        assertScreenContains(buffer, "?")
        // The same models fit 70x30 as two columns of sizes, unpaged.
        let tall = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, width: 70, height: 30)
        XCTAssertFalse(tall.text.contains("too small"), tall.text)
        XCTAssertFalse(tall.text.contains("page 1/"), tall.text)
    }

    /// A watched directory of 500 records (1,000 models): every model is one
    /// page away, the selected one is always on screen, and the footer stays.
    func testAThousandModelsArePagedAroundTheSelection() {
        let models = (0..<500).flatMap { [makeModel(width: 16 + $0, mode: .active, points: 4), makeModel(width: 16 + $0, mode: .frozen, points: 4)] }
        let snapshot = EngineSnapshot(state: .running, models: models, elapsed: 1, stepsPerSecond: 1)
        let first = FrameRenderer.render(snapshot, info: testInfo, width: 120, height: 40)
        XCTAssertFalse(first.text.contains("too small"), first.text)
        // 120 / 18 = 6 columns, (38 - 1) / 5 = 7 rows: 42 panels a page.
        assertScreenContains(first, "page 1/24 of 1000 models")
        XCTAssertTrue(first.lines.last?.contains("help") == true, first.lines.last ?? "")
        let order = ModelOrder(snapshot.models).flat
        let chosen = snapshot.models[order[500]]
        let state = MonitorState(view: .grid, selectedModelID: chosen.id)
        let later = FrameRenderer.render(snapshot, info: testInfo, state: state, width: 120, height: 40)
        assertScreenContains(later, "page 12/24 of 1000 models")  // 500 / 42 = 11, 0-based
        assertScreenContains(later, "▶")
    }

    func testNarrowTerminalWrapsTheMessage() {
        let buffer = FrameRenderer.render(makeSnapshot(models: 2), info: testInfo, width: 20, height: 5)
        assertScreen(buffer, [
            "                    ",
            "terminal too small: ",
            "    need 40x10,     ",
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
