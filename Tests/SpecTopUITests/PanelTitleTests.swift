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

    /// A sweep's panels: the RUN/ prefix in its run's colour, the same for
    /// every panel of one run and different for the neighbouring run, the
    /// runs' panels adjacent; a long name is still shortened as one text.
    func testRunsAreGroupedAndTheirNamesColouredInTheGrid() {
        var models: [ModelSnapshot] = []
        // Given interleaved, as a watch poll may deliver them.
        for (run, width) in [("lr-0.1", 8), ("lr-0.01", 8), ("lr-0.1", 32), ("lr-0.01", 32)] {
            var model = makeModel(width: width, mode: .active, id: "\(run)/w\(width)-active")
            model.run = run
            models.append(model)
        }
        let snapshot = EngineSnapshot(state: .running, models: models, elapsed: 1, stepsPerSecond: 1)
        var buffer = CellBuffer(width: 120, height: 20)
        let area = Rect(x: 0, y: 0, width: 120, height: 20)
        GridView(snapshot: snapshot, state: MonitorState(mode: .watch), selectedIndex: 0).render(into: &buffer, area: area, glyphs: .unicode)
        let layout = GridLayout.display(models: models, area: area, selected: 0)!
        let runsLeftToRight = layout.slots.sorted { $0.rect.x < $1.rect.x }.map { models[$0.modelIndex].run! }
        XCTAssertEqual(runsLeftToRight, ["lr-0.1", "lr-0.1", "lr-0.01", "lr-0.01"], "one run's panels stand side by side")
        var prefixRoles: [String: Set<ColorRole>] = [:]
        for slot in layout.slots {
            let run = models[slot.modelIndex].run!
            let row = buffer.lines[slot.rect.y]
            let title = String(row.unicodeScalars.dropFirst(slot.rect.x))
            XCTAssertTrue(title.contains("\(run)/w"), title)
            // The run's first letter, after the corner (and the selected panel's pointer).
            let offset = slot.rect.x + 1 + (slot.modelIndex == 0 ? 2 : 0)
            prefixRoles[run, default: []].insert(buffer[offset, slot.rect.y].role)
            let modelOffset = offset + run.count + 1
            XCTAssertEqual(buffer[modelOffset, slot.rect.y].role, .active, "the model part keeps the mode colour")
        }
        XCTAssertEqual(prefixRoles["lr-0.1"]?.count, 1)
        XCTAssertEqual(prefixRoles["lr-0.01"]?.count, 1)
        XCTAssertNotEqual(prefixRoles["lr-0.1"], prefixRoles["lr-0.01"], "neighbouring runs differ in colour")
        XCTAssertFalse(prefixRoles["lr-0.1"]!.contains(.active))

        // One record alone: no prefix colour (nothing to tell apart).
        XCTAssertNil(ModelOrder([models[0]]).role(ofRun: "lr-0.1"))

        // Shortened as one name in two colours: the ellipsis in the middle, the end kept.
        let parts = BoxFrame.shortened([.init("sweep-2026-12-07-lr3e-4", role: .series1, shrinks: true),
                                        .init("/cnn-w16-active", role: .active, attributes: .bold, shrinks: true)], width: 17, ellipsis: "…")
        XCTAssertEqual(parts.map(\.text).joined(), "sweep-20…6-active")
        XCTAssertEqual(parts.map(\.role), [.series1, .active])
    }

    /// Twelve records of one sweep at 80x24 (issue 33, defect 3): the names
    /// share a long date-and-setting prefix and the model; the titles keep
    /// what differs (the setting and seed), so no two panels read alike.
    func testASweepsTitlesKeepWhatTellsTheRunsApartAt80x24() {
        var models: [ModelSnapshot] = []
        for seed in 1...12 {
            let run = String(format: "sweep-2026-12-07-learning-rate-%d-seed-%02d", seed % 3, seed)
            var model = makeModel(width: 8, mode: .active, status: .finished, id: run + "/w8-active")
            model.run = run
            models.append(model)
        }
        XCTAssertEqual(BoxFrame.sharedAffixes(models.map(\.id)).prefix, "sweep-2026-12-07-learning-rate-".count)
        XCTAssertEqual(BoxFrame.sharedAffixes(models.map(\.id)).suffix, "/w8-active".count)
        let snapshot = EngineSnapshot(state: .finished, models: models, elapsed: 1, stepsPerSecond: 0)
        var buffer = CellBuffer(width: 80, height: 22)
        let area = Rect(x: 0, y: 0, width: 80, height: 22)
        GridView(snapshot: snapshot, state: MonitorState(mode: .watch), selectedIndex: 0).render(into: &buffer, area: area, glyphs: .unicode)
        let layout = GridLayout.display(models: models, area: area, selected: 0)!
        XCTAssertEqual(layout.slots.count, 12, "every panel fits")
        var titles: [String] = []
        for slot in layout.slots {
            let row = Array(buffer.lines[slot.rect.y].unicodeScalars)[slot.rect.x..<slot.rect.maxX]
            let title = String(String.UnicodeScalarView(row))
            let run = models[slot.modelIndex].run!
            XCTAssertTrue(title.contains(String(run.suffix(9)).replacingOccurrences(of: "seed-", with: "")) || title.contains(String(run.suffix(9))),
                          "the setting and seed of \(run) are in \(title)")
            titles.append(title.replacingOccurrences(of: "▶ ", with: ""))
        }
        XCTAssertEqual(Set(titles).count, 12, "no two titles alike:\n\(titles.joined(separator: "\n"))")
        // Two names that share nothing keep the middle ellipsis alone.
        XCTAssertEqual(BoxFrame.sharedAffixes(["alpha", "beta"]).prefix, 0)
        XCTAssertEqual(BoxFrame.sharedAffixes(["only-one"]).prefix, 0)
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
