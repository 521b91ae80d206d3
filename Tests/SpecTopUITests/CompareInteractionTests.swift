import Foundation
@testable import SpecTopUI
import SpecTopRecord
import XCTest

/// Issue 16: the compare view's value cursor, hiding a series, the x axis by
/// step, wall time or compute (6·N·D), and zooming on the latest part of the run.
final class CompareInteractionTests: XCTestCase {
    private func compareController(models: Int = 4, mode: MonitorMode = .live) -> (MonitorController, RecordingSource) {
        var snapshot = makeSnapshot(models: models)
        for i in snapshot.models.indices { snapshot.models[i].batchSize = 32 }
        let source = RecordingSource(snapshot)
        let monitor = MonitorController(source: source, info: testInfo, mode: mode)
        monitor.handle(.character("v"))
        XCTAssertEqual(monitor.state.view, .compare)
        return (monitor, source)
    }

    func testArrowsMoveAValueCursorThatReadsEverySeries() {
        let (monitor, source) = compareController()
        XCTAssertNil(monitor.state.cursor)
        monitor.handle(.right)
        XCTAssertEqual(monitor.state.cursor, 1, "the first press shows it at the latest point")
        for _ in 0..<40 { monitor.handle(.left) }
        XCTAssertEqual(try XCTUnwrap(monitor.state.cursor), 0.5, accuracy: 1e-9)
        XCTAssertEqual(source.commands, [], "in the compare view the arrows move the cursor, they select nothing")
        var buffer = CellBuffer(width: 140, height: 40)
        monitor.render(into: &buffer, glyphs: .unicode)
        // makeSnapshot: 60 points at steps 0, 10, … 590; half way is step 295, so the last point at or before it is step 290.
        let model = monitor.snapshot.models[0]
        let expected = NumberFormat.scientific(model.history.loss[29])
        XCTAssertTrue(buffer.text.contains("loss at step \(NumberFormat.axis(295))"), buffer.text)
        XCTAssertTrue(buffer.text.contains("\(model.id) \(expected)"), "the legend reads each series at the cursor:\n\(buffer.text)")
        XCTAssertTrue(buffer.lines[3].contains(String(GlyphSet.unicode.verticalLine)), "the cursor line is drawn")
        monitor.handle(.escape)
        XCTAssertNil(monitor.state.cursor, "Esc hides the cursor first")
        XCTAssertEqual(monitor.state.view, .compare)
        // Outside the compare view the arrows select as before.
        monitor.handle(.character("v"))
        monitor.handle(.right)
        XCTAssertNil(monitor.state.cursor)
        XCTAssertEqual(monitor.state.selectedModelID, monitor.snapshot.models[2].id)
    }

    func testInReplayTheArrowsKeepScrubbingAndAngleBracketsMoveTheCursor() {
        let (monitor, source) = compareController(mode: .replay)
        monitor.handle(.right)
        XCTAssertEqual(source.commands, [.scrub(by: 1)])
        monitor.handle(.character(">"))
        XCTAssertEqual(monitor.state.cursor, 1)
        monitor.handle(.character("<"))
        XCTAssertEqual(try XCTUnwrap(monitor.state.cursor), 1 - 1.0 / 80, accuracy: 1e-12)
    }

    func testHideShowsTheSeriesAgainAndTheLegendSaysSo() {
        let (monitor, _) = compareController()
        let selected = monitor.snapshot.models[0].id
        monitor.handle(.character("h"))
        XCTAssertEqual(monitor.state.hiddenModels, [selected])
        var buffer = CellBuffer(width: 140, height: 40)
        monitor.render(into: &buffer, glyphs: .ascii)
        XCTAssertTrue(buffer.text.contains("\(selected) (hidden)"), buffer.text)
        let glyph = Character(GlyphSet.ascii.seriesGlyph(0))
        let plot = buffer.lines.dropFirst(1).dropLast(1).map { String($0.prefix(100)) }.joined()
        XCTAssertFalse(plot.contains(glyph), "a hidden series is not drawn")
        monitor.handle(.character("h"))
        XCTAssertTrue(monitor.state.hiddenModels.isEmpty)
    }

    func testTheXAxisByStepWallTimeOrCompute() {
        let model = makeSnapshot(models: 2).models[0]
        var state = MonitorState()
        var withBatch = model
        withBatch.batchSize = 32
        let view = { (state: MonitorState, m: ModelSnapshot) in CompareView(snapshot: EngineSnapshot(state: .running, models: [m], elapsed: 1, stepsPerSecond: 1), state: state, selectedIndex: 0) }
        XCTAssertEqual(view(state, model).xs(model), model.history.steps.map(Double.init))
        state.xAxis = .wall
        XCTAssertEqual(view(state, model).xs(model), model.history.wall)
        state.xAxis = .compute
        XCTAssertNil(view(state, model).xs(model), "no batch size, no compute axis")
        let flops = 6 * Double(model.trainableParameterCount) * 32
        XCTAssertEqual(view(state, withBatch).xs(withBatch), model.history.steps.map { Double($0) * flops })
        XCTAssertEqual([CompareAxis.step, .wall, .compute].map(\.next), [.wall, .compute, .step])
        let buffer = FrameRenderer.render(EngineSnapshot(state: .running, models: [withBatch], elapsed: 1, stepsPerSecond: 1), info: testInfo,
                                          state: { var s = state; s.view = .compare; return s }(), width: 120, height: 40)
        XCTAssertTrue(buffer.line(38).hasPrefix("FLOPs"), buffer.line(38))
    }

    func testZoomShowsTheLatestPartOfTheRun() {
        let snapshot = makeSnapshot(models: 2)
        var state = MonitorState()
        let full = CompareView(snapshot: snapshot, state: state, selectedIndex: 0).visibleRange()
        XCTAssertEqual(full.lowerBound, 0)
        XCTAssertEqual(full.upperBound, 590)
        state.zoom = .quarter
        let zoomed = CompareView(snapshot: snapshot, state: state, selectedIndex: 0).visibleRange()
        XCTAssertEqual(zoomed.lowerBound, 590 * 0.75, accuracy: 1e-9)
        XCTAssertEqual(zoomed.upperBound, 590)
        let (monitor, _) = compareController()
        for expected in [CompareZoom.half, .quarter, .tenth, .all] {
            monitor.handle(.character("z"))
            XCTAssertEqual(monitor.state.zoom, expected)
        }
    }

    func testTheHelpOfTheCompareViewListsItsKeys() {
        var state = MonitorState()
        state.view = .compare
        state.showHelp = true
        let buffer = FrameRenderer.render(makeSnapshot(models: 4), info: testInfo, state: state, width: 120, height: 40)
        for summary in ["value cursor left", "hide/show the selected model", "x axis: step/wall/FLOPs", "zoom: latest 1/2, 1/4, 1/10"] {
            XCTAssertTrue(buffer.text.contains(summary), summary)
        }
        let table = KeyTable.forMode(.live, view: .compare)
        XCTAssertEqual(table.action(for: .left), .cursorBackward)
        XCTAssertEqual(KeyTable.forMode(.live, view: .grid).action(for: .left), .selectPreviousSize)
        var seen = Set<Key>()
        for key in table.bindings.flatMap(\.keys) { XCTAssertTrue(seen.insert(key).inserted, "\(key.label) bound twice") }
    }

    /// `X` puts the x axis on a log scale (Fig. 1 of the paper): the range runs
    /// over the positive steps in log10, the labels and the cursor stay in steps.
    func testXPutsTheXAxisOnALogScale() {
        let (monitor, _) = compareController(models: 2)
        monitor.handle(.character("X"))
        XCTAssertTrue(monitor.state.xLog)
        // makeSnapshot: steps 0, 10, …, 590; step 0 has no logarithm.
        let view = CompareView(snapshot: monitor.snapshot, state: monitor.state, selectedIndex: 0)
        let range = view.visibleRange()
        XCTAssertEqual(range.lowerBound, 1, accuracy: 1e-12)
        XCTAssertEqual(range.upperBound, Foundation.log10(590), accuracy: 1e-12)
        var state = monitor.state
        state.cursor = 0.5
        let cursor = try? XCTUnwrap(CompareView(snapshot: monitor.snapshot, state: state, selectedIndex: 0).cursorX(in: range))
        XCTAssertEqual(cursor ?? 0, (10 * 590.0).squareRoot(), accuracy: 1e-9, "half way on a log axis is the geometric mean")
        var buffer = CellBuffer(width: 140, height: 40)
        monitor.render(into: &buffer, glyphs: .unicode)
        assertScreenContains(buffer, "(x axis: log)")
        XCTAssertTrue(buffer.lines.contains { $0.contains("10") && $0.contains("590") }, buffer.text)
        monitor.handle(.character("X"))
        XCTAssertFalse(monitor.state.xLog)
        XCTAssertEqual(CompareView(snapshot: monitor.snapshot, state: monitor.state, selectedIndex: 0).visibleRange().lowerBound, 0)
    }

    /// `W` draws a log schedule's windows as their means with the spread as two
    /// faint lines; without windows it says why and changes nothing.
    func testWindowMeansShowTheSpreadOnlyWhereThereAreWindows() {
        let (plain, _) = compareController(models: 2)
        plain.handle(.character("W"))
        XCTAssertFalse(plain.state.windowMeans)
        XCTAssertTrue(plain.status?.contains("log schedule") == true, plain.status ?? "no status")

        // One model measured on windows of 3 steps, its loss wobbling inside each window.
        var history = MetricHistory()
        for step in 0..<60 {
            var sample = MetricSample(step: step, loss: 1 / Double(1 + step / 3) + (step % 3 == 1 ? 0.2 : 0), chiLoss: 1, chiNet: 100,
                                      chiPos: 0.1, gradSq: 1, wall: Double(step))
            sample.window = step - step % 3
            history.append(sample)
        }
        var model = makeModel(width: 16, mode: .active)
        model.history = history
        let source = RecordingSource(EngineSnapshot(state: .running, models: [model], elapsed: 1, stepsPerSecond: 1))
        let monitor = MonitorController(source: source, info: testInfo, mode: .replay)
        monitor.handle(.character("v"))
        func faintDots() -> Int {
            var buffer = CellBuffer(width: 120, height: 40, asciiOnly: true)
            monitor.render(into: &buffer, glyphs: .ascii)
            return buffer.lines.prefix(30).reduce(0) { $0 + $1.filter { $0 == "." }.count }
        }
        let before = faintDots()
        monitor.handle(.character("W"))
        XCTAssertTrue(monitor.state.windowMeans)
        XCTAssertGreaterThan(faintDots(), before + 20, "the spread's faint lines are drawn")
        monitor.handle(.character("W"))
        XCTAssertEqual(faintDots(), before)
    }
}

/// Clicks select, double clicks open the spectrum, the wheel moves the compare cursor.
final class MouseTests: XCTestCase {
    func testClicksSelectPanelsAndDoubleClicksOpenTheSpectrum() throws {
        let source = RecordingSource(makeSnapshot(models: 8))
        let monitor = MonitorController(source: source, info: testInfo)
        var buffer = CellBuffer(width: 120, height: 40)
        monitor.render(into: &buffer, glyphs: .unicode)
        let layout = try XCTUnwrap(GridLayout(models: monitor.snapshot.models, area: Rect(x: 0, y: 1, width: 120, height: 38)))
        for slot in layout.slots {
            XCTAssertTrue(monitor.handle(MouseEvent(.click, x: slot.rect.x + 3, y: slot.rect.y + 2)))
            XCTAssertEqual(monitor.state.selectedModelID, monitor.snapshot.models[slot.modelIndex].id)
        }
        XCTAssertFalse(monitor.handle(MouseEvent(.click, x: 5, y: 0)), "the header is no panel")
        let target = layout.slots[3]
        monitor.handle(MouseEvent(.doubleClick, x: target.rect.x + target.rect.width / 2, y: target.rect.y + target.rect.height / 2))
        XCTAssertEqual(monitor.state.view, .spectrum)
        XCTAssertEqual(monitor.state.selectedModelID, monitor.snapshot.models[target.modelIndex].id)
        XCTAssertEqual(source.commands, [], "the mouse only looks")
    }

    func testTheWheelMovesTheCompareCursorAndLegendClicksSelect() {
        let monitor = MonitorController(source: RecordingSource(makeSnapshot(models: 4)), info: testInfo)
        var buffer = CellBuffer(width: 140, height: 40)
        monitor.render(into: &buffer, glyphs: .unicode)
        XCTAssertFalse(monitor.handle(MouseEvent(.wheelUp, x: 10, y: 10)), "nothing to scroll in the grid")
        monitor.handle(.character("v"))
        monitor.handle(MouseEvent(.wheelDown, x: 10, y: 10))
        XCTAssertEqual(monitor.state.cursor, 1)
        monitor.handle(MouseEvent(.wheelDown, x: 10, y: 10))
        XCTAssertEqual(try XCTUnwrap(monitor.state.cursor), 1 - 1.0 / 80, accuracy: 1e-12)
        // The legend's third row (under its title) is the third model in display order.
        let third = ModelOrder(monitor.snapshot.models).flat[2]
        monitor.handle(MouseEvent(.click, x: 135, y: 1 + 1 + 2))
        XCTAssertEqual(monitor.state.selectedModelID, monitor.snapshot.models[third].id)
    }
}

/// Freezes, exports, pauses, speed changes and divergences marked above the compare charts.
final class RunMarkTests: XCTestCase {
    func testMarksStandAtTheirStepUnderTheCharts() throws {
        var snapshot = makeSnapshot(models: 2)
        snapshot.marks = [RunMark(kind: .freeze, step: 295, wall: 1, model: snapshot.models[0].id),
                          RunMark(kind: .diverged, step: 590, wall: 2, model: snapshot.models[1].id),
                          RunMark(kind: .pause, step: 10_000, wall: 3)]  // beyond the data: not drawn
        var state = MonitorState()
        state.view = .compare
        let buffer = FrameRenderer.render(snapshot, info: testInfo, state: state, width: 140, height: 40)
        let axisRow = buffer.line(1)  // the loss chart's title row, right under the header
        // The plot spans from the axis labels' "0" to the end of their "590".
        let labels = buffer.line(38)
        let plotX = LineChart.yLabelWidth
        let plotWidth = try XCTUnwrap(labels.range(of: "590")).upperBound.utf16Offset(in: labels) - plotX
        let freeze = try XCTUnwrap(axisRow.firstIndex(of: "F")).utf16Offset(in: axisRow)
        XCTAssertEqual(Double(freeze - plotX) / Double(plotWidth - 1), 0.5, accuracy: 0.05, axisRow)
        XCTAssertFalse(axisRow.contains("P"), "a mark beyond the range is not drawn")
        XCTAssertTrue(buffer.text.contains("F freeze  E export"), "the legend explains the letters")
        XCTAssertEqual(RunMark.Kind.allCases.map(\.letter), ["F", "E", "P", "R", "S", "!", "!"])
    }

}
