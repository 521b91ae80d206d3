@testable import SpecTopUI
import SpecTopRecord
import XCTest

final class LayoutTests: XCTestCase {
    private let sizes = [(80, 24), (100, 30), (120, 40), (200, 60)]
    private let counts = [2, 8, 12, 16]

    /// Issue 16, item 7: at every size every panel is the same size and shows
    /// the same rows (with 12 models at 80x24 the active panels lost their
    /// reach row while the frozen kept theirs), titles keep active/frozen,
    /// and the footer keeps `? help`.
    func testEveryPanelDegradesTheSameWayAndTheFooterKeepsHelp() {
        for (width, height) in sizes {
            for count in counts {
                let snapshot = makeSnapshot(models: count)
                let context = "\(count) models at \(width)x\(height)"
                let buffer = FrameRenderer.render(snapshot, info: testInfo, width: width, height: height)
                XCTAssertTrue(buffer.line(height - 1).contains("? help"), "footer, \(context): \(buffer.line(height - 1))")
                guard let layout = GridLayout(models: snapshot.models, area: Rect(x: 0, y: 1, width: width, height: height - 2)) else {
                    XCTFail("no layout, \(context)"); continue
                }
                XCTAssertEqual(Set(layout.slots.map(\.rect.width)).count, 1, "panel widths, \(context)")
                XCTAssertEqual(Set(layout.slots.map(\.rect.height)).count, 1, "panel heights, \(context)")
                func panelText(_ rect: Rect) -> String {
                    (rect.y..<rect.maxY).map { y in String(buffer.line(y).unicodeScalars.dropFirst(rect.x).prefix(rect.width)) }.joined(separator: "\n")
                }
                let texts = layout.slots.map { panelText($0.rect) }
                for word in ["reach", "amp", "params", "step", "λ_eff"] {
                    let having = texts.filter { $0.contains(word) }.count
                    XCTAssertTrue(having == 0 || having == texts.count, "\(word) in \(having) of \(texts.count) panels, \(context)\n\(buffer.text)")
                }
                for (slot, text) in zip(layout.slots, texts) {
                    let model = snapshot.models[slot.modelIndex]
                    XCTAssertTrue(text.contains(model.id), "title \(model.id) (with its mode) whole, \(context)")
                }
            }
        }
    }

    func testModelsThatDoNotFitBySizeStillAllShow() {
        // 70x20 with eight models: four sizes side by side need 72 columns, two columns of sizes 22
        // rows; nine small panels fit, so every model shows on one page (not by size), with no page line.
        let buffer = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, width: 70, height: 20)
        XCTAssertFalse(buffer.text.contains("too small"), buffer.text)
        XCTAssertFalse(buffer.text.contains("page 1/"), buffer.text)
        for model in makeSnapshot(models: 8).models { assertScreenContains(buffer, model.id) }
        // Below 40x10 nothing can be drawn, whatever the models.
        let tiny = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, width: 39, height: 20)
        XCTAssertTrue(tiny.text.contains("need 40x10,"), tiny.text)
    }

    func testEveryModelIdVisibleNoOverlapNothingOutside() {
        for (width, height) in sizes {
            for count in counts {
                let snapshot = makeSnapshot(models: count)
                let context = "\(count) models at \(width)x\(height)"
                let buffer = FrameRenderer.render(snapshot, info: testInfo, width: width, height: height)
                XCTAssertEqual(buffer.outOfBoundsWrites, 0, context)
                XCTAssertFalse(buffer.text.contains("terminal too small"), context)
                for model in snapshot.models {
                    XCTAssertTrue(buffer.text.contains(model.id), "\(model.id) missing, \(context)\n\(buffer.text)")
                }
                let body = Rect(x: 0, y: 1, width: width, height: height - 2)
                guard let layout = GridLayout(models: snapshot.models, area: body) else {
                    XCTFail("no layout, \(context)"); continue
                }
                XCTAssertEqual(Set(layout.slots.map(\.modelIndex)).count, count, context)
                for (i, a) in layout.slots.enumerated() {
                    XCTAssertTrue(body.contains(a.rect), "\(a.rect) outside \(body), \(context)")
                    XCTAssertGreaterThanOrEqual(a.rect.width, GridLayout.minimumPanelWidth, context)
                    XCTAssertGreaterThanOrEqual(a.rect.height, GridLayout.minimumPanelHeight, context)
                    for b in layout.slots[(i + 1)...] {
                        XCTAssertFalse(a.rect.intersects(b.rect), "\(a.rect) overlaps \(b.rect), \(context)")
                    }
                }
            }
        }
    }

    func testEveryPanelShowsThreeSparklinesWithValues() {
        for (width, height) in sizes {
            for count in counts {
                let snapshot = makeSnapshot(models: count)
                let buffer = FrameRenderer.render(snapshot, info: testInfo, width: width, height: height)
                let text = buffer.text
                for label in ["loss", "χ_net", "χ_pos"] {
                    let occurrences = text.components(separatedBy: label).count - 1
                    XCTAssertGreaterThanOrEqual(occurrences, count, "\(label) at \(width)x\(height) with \(count) models\n\(text)")
                }
                let value = NumberFormat.scientific(snapshot.models[0].latest?.loss)
                XCTAssertTrue(text.contains(value), "\(value) missing at \(width)x\(height)")
            }
        }
    }

    func testSizesRunLeftToRightWithActiveAboveFrozen() {
        let snapshot = makeSnapshot(models: 8)
        guard let layout = GridLayout(models: snapshot.models, area: Rect(x: 0, y: 1, width: 120, height: 38)) else {
            return XCTFail("no layout")
        }
        func rect(_ id: String) -> Rect? {
            layout.slots.first { snapshot.models[$0.modelIndex].id == id }?.rect
        }
        let ids = ["w16", "w32", "w64", "w128"]
        for (a, b) in zip(ids, ids.dropFirst()) {
            XCTAssertLessThan(rect(a + " active")?.x ?? .max, rect(b + " active")?.x ?? .min)
        }
        for id in ids {
            XCTAssertEqual(rect(id + " active")?.x, rect(id + " frozen")?.x)
            XCTAssertLessThan(rect(id + " active")?.y ?? .max, rect(id + " frozen")?.y ?? .min)
        }
    }

    func testHistogramAppearsOnlyWhenThereIsRoom() {
        let small = ModelPanel.plan(innerWidth: 18, innerHeight: 9)
        XCTAssertEqual(small.histogramRows, 0)
        XCTAssertTrue(small.stacked)
        let large = ModelPanel.plan(innerWidth: 28, innerHeight: 17)
        XCTAssertGreaterThanOrEqual(large.histogramRows, 4)
        let tiny = ModelPanel.plan(innerWidth: 24, innerHeight: 3)
        XCTAssertFalse(tiny.stacked)
        XCTAssertFalse(tiny.infoRow)
        XCTAssertFalse(tiny.reachRow)
    }

    func testDivergedModelShowsDivergedInsteadOfPlots() {
        for status in [ModelStatus.diverged, .failed] {
            var snapshot = makeSnapshot(models: 2)
            snapshot.models[0].status = status
            let buffer = FrameRenderer.render(snapshot, info: testInfo, width: 80, height: 24)
            assertScreenContains(buffer, status.rawValue)
            let panelRows = buffer.lines[1..<12].joined()
            XCTAssertEqual(panelRows.components(separatedBy: "loss").count - 1, 0, buffer.text)
            if status == .failed { XCTAssertFalse(buffer.text.contains("diverged"), "a failed model is not called diverged:\n\(buffer.text)") }
        }
    }

    func testEveryViewStaysInsideTheBuffer() {
        for view in ViewKind.allCases {
            for (width, height) in sizes + [(40, 10), (50, 16)] {
                for count in counts {
                    var state = MonitorState(view: view)
                    state.showHelp = count == 12
                    let buffer = FrameRenderer.render(makeSnapshot(models: count), info: testInfo, state: state, width: width, height: height)
                    XCTAssertEqual(buffer.outOfBoundsWrites, 0, "\(view) \(width)x\(height) \(count) models")
                }
            }
        }
    }

    func testFullFrameIsDrawnEverywhere() {
        // A prefilled buffer must have no filler left after a frame: every cell is owned.
        for view in ViewKind.allCases {
            var buffer = filledBuffer(width: 120, height: 40)
            FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, state: MonitorState(view: view), into: &buffer)
            XCTAssertEqual(undrawnCells(buffer), 0, "\(view) left cells undrawn:\n\(buffer.text)")
        }
    }
}
