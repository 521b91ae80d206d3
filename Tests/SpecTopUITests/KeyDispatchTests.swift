import Foundation
import SpecTopUI
import SpecTopRecord
import XCTest

final class KeyDispatchTests: XCTestCase {
    private func controller(models: Int = 8, replay: Bool = false) -> (MonitorController, RecordingSource) {
        let source = RecordingSource(makeSnapshot(models: models))
        return (MonitorController(source: source, info: testInfo, replay: replay), source)
    }

    func testVCyclesViews() {
        let (monitor, _) = controller()
        XCTAssertEqual(monitor.state.view, .grid)
        monitor.handle(.character("v"))
        XCTAssertEqual(monitor.state.view, .compare)
        monitor.handle(.character("v"))
        XCTAssertEqual(monitor.state.view, .scaling)
        monitor.handle(.character("v"))
        XCTAssertEqual(monitor.state.view, .claims)
        monitor.handle(.character("v"))
        XCTAssertEqual(monitor.state.view, .grid)
    }

    func testMessagesNameMetricsAsTheScreenDoes() {
        let (monitor, _) = controller()
        var now = Date(timeIntervalSince1970: 0)
        monitor.clock = { now }
        var buffer = CellBuffer(width: 120, height: 40)
        monitor.render(into: &buffer, glyphs: .unicode)
        monitor.handle(.character("m"))
        XCTAssertEqual(monitor.status, "y acts on χ_net")
        monitor.handle(.character("m"))
        now += 2
        XCTAssertEqual(monitor.status, "y acts on χ_pos")
        monitor.render(into: &buffer, glyphs: .ascii)
        monitor.handle(.character("m"))
        monitor.handle(.character("m"))
        now += 2
        XCTAssertEqual(monitor.status, "y acts on loss", "queued: each message in turn")
        now += 2
        XCTAssertEqual(monitor.status, "y acts on chi_net", "no enum names (chiNet), and ASCII on an ASCII terminal")
    }

    func testFreezeKeySaysWhyWhenItCannotAct() {
        let (replay, replaySource) = controller(replay: true)
        XCTAssertTrue(replay.handle(.character("F")))
        XCTAssertEqual(replay.status, "F (freeze selected features) works in a live run only")
        XCTAssertEqual(replaySource.commands, [])
        var finished = makeSnapshot(models: 2)
        finished.models[0].status = .finished
        let source = RecordingSource(finished)
        let live = MonitorController(source: source, info: testInfo)
        live.handle(.character("F"))
        XCTAssertTrue(live.status?.contains("has finished: nothing to freeze") == true, live.status ?? "nil")
        XCTAssertEqual(source.commands, [])
        let empty = MonitorController(source: RecordingSource(EngineSnapshot(state: .running, models: [], elapsed: 0, stepsPerSecond: 0)), info: testInfo)
        empty.handle(.character("F"))
        XCTAssertEqual(empty.status, "no model to freeze yet")
    }

    func testGAndShiftGJumpInReplay() {
        let (monitor, source) = controller(replay: true)
        monitor.handle(.character("G"))
        monitor.handle(.character("g"))
        XCTAssertEqual(source.commands, [.jumpToEnd, .jumpToStart])
    }

    func testSpaceAndSpeedKeysSendCommands() {
        let (monitor, source) = controller()
        monitor.handle(.character(" "))
        monitor.handle(.character("."))
        monitor.handle(.character("+"))
        monitor.handle(.character("-"))
        monitor.handle(.character("e"))
        XCTAssertEqual(source.commands, [.togglePause, .singleStep, .faster, .slower, .export])
    }

    func testQuitSendsQuitOnceAndRecordsTheReason() {
        let (monitor, source) = controller()
        monitor.handle(.character("q"))
        XCTAssertEqual(monitor.exitReason, .quitKey)
        monitor.finish(.signal(SIGTERM))
        XCTAssertEqual(monitor.exitReason, .quitKey)
        XCTAssertEqual(source.commands, [.quit])
        let (other, _) = controller()
        other.handle(.controlC)
        XCTAssertEqual(other.exitReason, .quitKey)
        XCTAssertEqual(MonitorExitReason.signal(SIGHUP).description, "SIGHUP")
    }

    func testSelectionMovesAcrossSizesAndRuns() {
        let (monitor, _) = controller()
        monitor.handle(.tab)
        XCTAssertEqual(monitor.state.selectedModelID, "w16 frozen")
        monitor.handle(.right)
        XCTAssertEqual(monitor.state.selectedModelID, "w32 frozen")
        monitor.handle(.up)
        XCTAssertEqual(monitor.state.selectedModelID, "w32 active")
        monitor.handle(.up)
        XCTAssertEqual(monitor.state.selectedModelID, "w32 active")
        monitor.handle(.left)
        monitor.handle(.left)
        XCTAssertEqual(monitor.state.selectedModelID, "w16 active")
        monitor.handle(.backTab)
        XCTAssertEqual(monitor.state.selectedModelID, "w128 frozen")
    }

    func testEnterOpensAndClosesTheSpectrumView() {
        let (monitor, _) = controller()
        monitor.handle(.character("v"))
        monitor.handle(.enter)
        XCTAssertEqual(monitor.state.view, .spectrum)
        monitor.handle(.enter)
        XCTAssertEqual(monitor.state.view, .compare)
        monitor.handle(.enter)
        monitor.handle(.escape)
        XCTAssertEqual(monitor.state.view, .compare)
    }

    func testYTogglesTheFocusedMetricOnly() {
        let (monitor, _) = controller()
        monitor.handle(.character("y"))
        XCTAssertEqual(monitor.state.yScale(.loss), .linear)
        XCTAssertEqual(monitor.state.yScale(.chiNet), .log)
        monitor.handle(.character("m"))
        monitor.handle(.character("y"))
        XCTAssertEqual(monitor.state.yScale(.chiNet), .linear)
        monitor.handle(.character("m"))
        monitor.handle(.character("m"))
        monitor.handle(.character("y"))
        XCTAssertEqual(monitor.state.yScale(.loss), .log)
    }

    func testFreezeDisplayKeepsTheSnapshot() {
        let (monitor, source) = controller(models: 2)
        monitor.handle(.character("f"))
        XCTAssertTrue(monitor.state.displayFrozen)
        source.replace(makeSnapshot(models: 4))
        monitor.refresh()
        XCTAssertEqual(monitor.snapshot.models.count, 2)
        monitor.handle(.character("f"))
        XCTAssertEqual(monitor.snapshot.models.count, 4)
        XCTAssertTrue(source.commands.isEmpty)
    }

    func testFreezeFeaturesOnlyForActiveModels() {
        let (monitor, source) = controller(models: 2)
        var snapshot = makeSnapshot(models: 2)
        snapshot.models[0].featuresFrozen = false
        source.replace(snapshot)
        monitor.refresh()
        monitor.handle(.character("F"))
        XCTAssertEqual(source.commands, [.freezeFeatures(modelID: "w16 active")])
        monitor.handle(.down)
        monitor.handle(.character("F"))
        XCTAssertEqual(source.commands.count, 1)
        XCTAssertNotNil(monitor.localStatus)
    }

    func testThemeAndHelpKeys() {
        let (monitor, _) = controller()
        XCTAssertEqual(monitor.theme.name, "default")
        monitor.handle(.character("t"))
        XCTAssertEqual(monitor.theme.name, "light")
        for _ in 0..<3 { monitor.handle(.character("t")) }
        XCTAssertEqual(monitor.theme.name, "default")
        monitor.handle(.character("?"))
        XCTAssertTrue(monitor.state.showHelp)
        monitor.handle(.escape)
        XCTAssertFalse(monitor.state.showHelp)
    }

    func testReplayKeysScrub() {
        let (monitor, source) = controller(replay: true)
        monitor.handle(.left)
        monitor.handle(.right)
        monitor.handle(.pageDown)
        monitor.handle(.home)
        monitor.handle(.end)
        monitor.handle(.character(" "))
        XCTAssertEqual(source.commands, [.scrub(by: -1), .scrub(by: 1), .scrub(by: 10), .jumpToStart, .jumpToEnd, .togglePause])
        monitor.handle(.down)
        XCTAssertEqual(monitor.state.selectedModelID, "w16 frozen")
        XCTAssertTrue(monitor.handle(.character("F")), "a live-only key says so")
        XCTAssertEqual(source.commands.count, 6, "and sends nothing")
    }

    func testUnboundKeysAreIgnored() {
        let (monitor, source) = controller()
        XCTAssertFalse(monitor.handle(.character("Z")))
        XCTAssertTrue(source.commands.isEmpty)
    }

    /// Messages queue: each key's confirmation and, live, each new message of
    /// the source is on screen for at least two seconds, in order, whatever
    /// follows; the last stays ten seconds. In replay the position line stands
    /// behind them, never above them.
    func testEveryMessageIsSeenForTwoSecondsInEveryMode() {
        final class Talking: MonitorSource, @unchecked Sendable {
            // @unchecked: the test's one thread sets and reads it.
            var message: String?
            func snapshot() -> EngineSnapshot { makeSnapshot(models: 2) }
            func perform(_ command: MonitorCommand) {}
            func statusMessage() -> String? { message }
        }
        let source = Talking()
        let monitor = MonitorController(source: source, info: testInfo)
        var now = Date(timeIntervalSince1970: 0)
        monitor.clock = { now }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-queue-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        monitor.screenDirectory = directory.path
        monitor.handle(.character("e"))
        monitor.handle(.character("t"))
        monitor.handle(.character("w"))
        source.message = "state dump written to out/x"  // the engine's answer to e, a moment later
        var seen: [String] = []
        for _ in 0..<24 {
            if let status = monitor.status, seen.last != status { seen.append(status) }
            now += 0.5
        }
        XCTAssertEqual(seen.count, 4, "\(seen)")
        XCTAssertEqual(seen[0], "export requested")
        XCTAssertEqual(seen[1], "theme light")
        XCTAssertTrue(seen[2].hasPrefix("screen saved to") || seen[2].hasPrefix("cannot save the screen"), seen[2])
        XCTAssertEqual(seen[3], "state dump written to out/x", "the source's message comes once it arrived, and then stands")
        var buffer = CellBuffer(width: 120, height: 40)
        monitor.render(into: &buffer, glyphs: .unicode)
        assertScreenContains(buffer, "state dump written to out/x")

        // Replay: the position line stands behind the confirmations.
        let (replay, _) = controller(replay: true)
        replay.clock = { now }
        let position = replay.status
        replay.handle(.character("t"))
        XCTAssertEqual(replay.status, "theme light")
        now += 1.9
        XCTAssertEqual(replay.status, "theme light", "seen for two seconds")
        now += 10
        XCTAssertEqual(replay.status, position)
    }

    /// `/` filters the models by name as the user types: text a name contains,
    /// or a glob; Enter applies, Backspace edits, Esc keeps the old filter,
    /// Enter on nothing shows every model again.
    func testSlashFiltersModelsByName() {
        let (monitor, _) = controller(models: 8)
        XCTAssertEqual(monitor.snapshot.models.count, 8)
        monitor.handle(.character("/"))
        for c in "w32" { monitor.handle(.character(c)) }
        XCTAssertTrue(monitor.status?.contains("show models matching: w32_") == true, monitor.status ?? "")
        XCTAssertEqual(monitor.snapshot.models.count, 8, "nothing changes until Enter")
        monitor.handle(.enter)
        XCTAssertEqual(monitor.snapshot.models.map(\.id), ["w32 active", "w32 frozen"])
        XCTAssertTrue(monitor.status?.contains("showing 2 models matching w32") == true, monitor.status ?? "")
        monitor.refresh()
        XCTAssertEqual(monitor.snapshot.models.count, 2, "the filter holds for new snapshots")

        monitor.handle(.character("/"))
        for _ in 0..<3 { monitor.handle(.backspace) }
        for c in "W*ACTIVE" { monitor.handle(.character(c)) }
        monitor.handle(.enter)
        XCTAssertEqual(monitor.snapshot.models.map(\.id), ["w16 active", "w32 active", "w64 active", "w128 active"], "a glob, case-insensitive")

        monitor.handle(.character("/"))
        monitor.handle(.character("x"))
        monitor.handle(.escape)
        XCTAssertEqual(monitor.snapshot.models.count, 4, "Esc keeps the filter as it was")
        XCTAssertEqual(monitor.state.modelFilter, "W*ACTIVE")

        monitor.handle(.character("/"))
        for _ in 0..<8 { monitor.handle(.backspace) }
        monitor.handle(.enter)
        XCTAssertNil(monitor.state.modelFilter)
        XCTAssertEqual(monitor.snapshot.models.count, 8)

        XCTAssertTrue(MonitorController.matches("sweep/lr-3e-4/w16", filter: "*lr-3e-4*"))
        XCTAssertTrue(MonitorController.matches("w16-active", filter: "w1?-*"))
        XCTAssertFalse(MonitorController.matches("w16-active", filter: "w1?-frozen"))
        XCTAssertFalse(MonitorController.matches("w16", filter: "w16-active"))
    }

    /// `H` turns the `/` pattern into a hidden one: the models it matches go,
    /// every other comes back; patterns add up; `a` shows every model again,
    /// in every mode, and the header says what is left out.
    func testHideByPatternAndShowAllAgain() {
        for mode in [MonitorMode.live, .replay, .watch] {
            let source = RecordingSource(makeSnapshot(models: 8))
            let monitor = MonitorController(source: source, info: testInfo, mode: mode)
            monitor.handle(.character("H"))
            XCTAssertEqual(monitor.snapshot.models.count, 8, "H without a pattern hides nothing")
            XCTAssertTrue(monitor.localStatus?.contains("type / and a pattern first") == true, monitor.localStatus ?? "")

            monitor.handle(.character("/"))
            for c in "frozen" { monitor.handle(.character(c)) }
            monitor.handle(.enter)
            XCTAssertEqual(monitor.snapshot.models.count, 4, "the pattern first shows what it matches")
            XCTAssertEqual(header(monitor), true, "the header names the filter")
            monitor.handle(.character("H"))
            XCTAssertEqual(monitor.snapshot.models.map(\.id), ["w16 active", "w32 active", "w64 active", "w128 active"], "\(mode)")
            XCTAssertTrue(monitor.localStatus?.contains("hid 4 models matching frozen, 4 shown") == true, monitor.localStatus ?? "")
            XCTAssertNil(monitor.state.modelFilter)
            monitor.refresh()
            XCTAssertEqual(monitor.snapshot.models.count, 4, "hidden in new snapshots too")

            monitor.handle(.character("/"))
            for c in "w1*" { monitor.handle(.character(c)) }
            monitor.handle(.enter)
            monitor.handle(.character("H"))
            XCTAssertEqual(monitor.snapshot.models.map(\.id), ["w32 active", "w64 active"], "patterns add up (w1* hides w16 and w128)")
            XCTAssertEqual(monitor.state.hiddenPatterns, ["frozen", "w1*"])
            XCTAssertTrue(renderedHeader(monitor).contains("hiding frozen, w1*"), renderedHeader(monitor))

            monitor.handle(.character("a"))
            XCTAssertEqual(monitor.snapshot.models.count, 8, "a shows every model")
            XCTAssertEqual(monitor.state.hiddenPatterns, [])
            XCTAssertTrue(monitor.localStatus?.contains("showing every model (8), 2 hidden patterns cleared") == true, monitor.localStatus ?? "")
            XCTAssertFalse(renderedHeader(monitor).contains("hiding"), renderedHeader(monitor))
        }
    }

    private func renderedHeader(_ monitor: MonitorController) -> String {
        var buffer = CellBuffer(width: 160, height: 30)
        monitor.render(into: &buffer, glyphs: .unicode)
        return buffer.lines[0]
    }

    private func header(_ monitor: MonitorController) -> Bool {
        renderedHeader(monitor).contains("only /frozen")
    }
}

