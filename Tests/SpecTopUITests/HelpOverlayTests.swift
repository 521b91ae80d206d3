import SpecTopUI
import XCTest

final class HelpOverlayTests: XCTestCase {
    func testHelpListsEveryBindingOfTheTable() {
        for mode in [MonitorMode.live, .replay, .watch] {
            let table = KeyTable.forMode(mode)
            for (width, height) in [(80, 24), (120, 40)] {
                var state = MonitorState(mode: mode)
                state.showHelp = true
                let buffer = FrameRenderer.render(makeSnapshot(models: 8), info: testInfo, state: state, width: width, height: height)
                for binding in table.bindings {
                    let context = "\(mode) at \(width)x\(height)"
                    // The label must stand right before its own summary on one
                    // line: a single-letter label anywhere on screen proves nothing.
                    let entry = buffer.lines.contains { line in
                        guard let range = line.range(of: binding.summary) else { return false }
                        let before = line[..<range.lowerBound]
                        guard before.hasSuffix("  ") else { return false }
                        let label = before.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
                        return before.trimmingCharacters(in: .whitespaces).hasSuffix(binding.keyLabel) && !label.isEmpty
                    }
                    XCTAssertTrue(entry, "\(binding.keyLabel) → \"\(binding.summary)\" missing, \(context)\n\(buffer.text)")
                }
                // The mouse, too (issue 33, defect 9: `?` omitted it).
                XCTAssertTrue(buffer.lines.contains { $0.contains(HelpOverlay.mouse) }, "the mouse line, \(mode) at \(width)x\(height)\n\(buffer.text)")
            }
        }
    }

    func testEveryMonitorActionIsBound() {
        // Replay has no training to pause, freeze or export; live has nothing to scrub.
        let replayOnly: Set<MonitorAction> = [.scrubBackward, .scrubForward, .scrubBackwardFar, .scrubForwardFar, .jumpToStart, .jumpToEnd]
        let liveOnly: Set<MonitorAction> = [.freezeFeatures, .export, .selectNextSize, .selectPreviousSize, .selectUp, .selectDown]
        // Several records at once only in watch, which has nothing to control.
        let watchOnly: Set<MonitorAction> = [.cycleRunFilter]
        let watchToo: Set<MonitorAction> = [.quit, .selectNext, .selectPrevious, .selectNextSize, .selectPreviousSize, .selectUp, .selectDown,
                                            .toggleSpectrum, .back, .cycleView, .cycleFocusedMetric, .toggleYScale, .toggleDisplayFreeze,
                                            .cycleTheme, .toggleHelp, .editModelFilter, .hideMatching, .showAll]
        // The compare view's own keys live in its table, in every mode.
        let compareOnly: Set<MonitorAction> = [.cursorBackward, .cursorForward, .toggleSeriesHidden, .cycleXAxis, .cycleZoom, .toggleWindowMeans, .toggleXLog, .cycleUserScalar]
        for mode in [MonitorMode.live, .replay, .watch] {
            let compare = Set(KeyTable.forMode(mode, view: .compare).bindings.map(\.action))
            for action in compareOnly { XCTAssertTrue(compare.contains(action), "\(action) has no key in the compare view (\(mode))") }
        }
        let live = Set(KeyTable.live.bindings.map(\.action)), replay = Set(KeyTable.replay.bindings.map(\.action))
        let watch = Set(KeyTable.watch.bindings.map(\.action))
        for action in MonitorAction.allCases {
            if compareOnly.contains(action) { continue }
            if !replayOnly.contains(action) && !watchOnly.contains(action) { XCTAssertTrue(live.contains(action), "\(action) has no key in the live monitor") }
            if !liveOnly.contains(action) && !watchOnly.contains(action) { XCTAssertTrue(replay.contains(action), "\(action) has no key in replay") }
            if watchOnly.contains(action) || watchToo.contains(action) { XCTAssertTrue(watch.contains(action), "\(action) has no key in watch") }
        }
    }

    func testEveryActionOfTheTableIsReachableAndNoKeyIsBoundTwice() {
        for table in [KeyTable.live, KeyTable.replay, KeyTable.watch] {
            var seen: Set<Key> = []
            for binding in table.bindings {
                for key in binding.keys {
                    XCTAssertFalse(seen.contains(key), "\(key.label) bound twice")
                    seen.insert(key)
                    XCTAssertEqual(table.action(for: key), binding.action)
                }
            }
        }
    }

    func testReplayTableHasTheReplayVariants() {
        let replay = KeyTable.replay
        XCTAssertEqual(replay.action(for: .left), .scrubBackward)
        XCTAssertEqual(replay.action(for: .right), .scrubForward)
        XCTAssertEqual(replay.action(for: .home), .jumpToStart)
        XCTAssertEqual(replay.action(for: .end), .jumpToEnd)
        XCTAssertEqual(replay.action(for: .up), .selectPrevious)
        XCTAssertEqual(replay.action(for: .down), .selectNext)
        XCTAssertEqual(KeyTable.live.action(for: .left), .selectPreviousSize)
        XCTAssertNil(replay.action(for: .character("F")))
    }

    func testFooterShowsKeysFromTheTable() {
        let buffer = FrameRenderer.render(makeSnapshot(models: 2), info: testInfo, width: 120, height: 40)
        let footer = buffer.lines[39]
        for binding in KeyTable.live.bindings where binding.footer != nil {
            XCTAssertTrue(footer.contains(binding.footer ?? ""), footer)
        }
    }

    /// `?` twice turns to the glossary: every quantity on screen with its
    /// meaning, at 80x24 and in ASCII too; a third `?` closes it.
    func testTheSecondPageIsTheGlossary() {
        for (glyphs, unicode) in [(GlyphSet.unicode, true), (.ascii, false)] {
            let monitor = MonitorController(source: RecordingSource(makeSnapshot(models: 4)), info: testInfo, mode: .live)
            monitor.handle(.character("?"))
            monitor.handle(.character("?"))
            XCTAssertTrue(monitor.state.showHelp && monitor.state.helpPage == 1)
            var buffer = CellBuffer(width: 80, height: 24, asciiOnly: !unicode)
            monitor.render(into: &buffer, glyphs: glyphs)
            for entry in Glossary.entries {
                let term = unicode ? entry.term : entry.asciiTerm
                XCTAssertTrue(buffer.lines.contains { $0.contains(String(glyphs.verticalLine) + " " + term + " ") }, "\(term) missing:\n\(buffer.text)")
            }
            XCTAssertTrue(buffer.text.contains("interference"), buffer.text)
            if !unicode { XCTAssertFalse(buffer.text.unicodeScalars.contains { $0.value > 127 }, buffer.text) }
            monitor.handle(.character("?"))
            XCTAssertFalse(monitor.state.showHelp)
        }
    }
}
