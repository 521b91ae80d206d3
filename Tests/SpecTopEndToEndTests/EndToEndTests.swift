import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

/// The real binary in a real terminal (tmux), driven with keys as a person
/// would, read back with `capture-pane`.
final class EndToEndTests: XCTestCase {
    private var session = ""
    private var scratch: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            throw XCTSkip("tmux is not installed (make test installs it)")
        }
        session = "spectop-e2e-\(UUID().uuidString.prefix(8))"
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent(session)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        _ = try? tmux(["kill-session", "-t", session])
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    @discardableResult
    private func tmux(_ arguments: [String]) throws -> String {
        // Through system(), not Foundation's Process: Process learns that a
        // child exited when a socket it shares with the child closes, and the
        // tmux server that `new-session` forks inherits that socket and keeps
        // it open for ever, so waitUntilExit would hang on a fresh machine.
        let output = scratch.appendingPathComponent("tmux-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let quoted = (["/usr/bin/tmux", "-L", "spectop-tests"] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let status = system(quoted.joined(separator: " ") + " </dev/null >'\(output.path)' 2>/dev/null")
        if status == -1 { throw CocoaError(.executableLoad) }
        return String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self)
    }

    /// The data directory every monitor started here records into by
    /// default (never the real ~/.local/share).
    private var dataHome: URL { scratch.appendingPathComponent("data") }

    /// Starts spectop in a detached tmux session; after it exits the shell
    /// prints its status and the terminal modes, then waits. XDG_DATA_HOME is
    /// the scratch `dataHome` unless `environment` sets it after.
    private func start(_ arguments: String, environment: String = "", width: Int = 120, height: Int = 40) throws {
        let command = "XDG_DATA_HOME='\(dataHome.path)' \(environment) '\(SpectopProcess.binary.path)' \(arguments); echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -E '^-?(echo|icanon)$' | tr '\\n' ' '; echo; sleep 60"
        try tmux(["new-session", "-d", "-s", session, "-x", "\(width)", "-y", "\(height)", "bash", "-c", command])
    }

    private func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session]) }

    private func keys(_ keys: String...) throws { try tmux(["send-keys", "-t", session] + keys) }

    /// Polls the screen until `condition` holds or `timeout` passes.
    @discardableResult
    private func waitFor(_ timeout: Double = 20, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var text = try screen()
        while !condition(text) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            text = try screen()
        }
        return text
    }

    private func steps(in text: String) -> [Int] {
        text.components(separatedBy: "step ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    }

    private func spectopPIDs(marker: String) -> [Int32] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        process.arguments = ["-f", marker]
        let pipe = Pipe()
        process.standardOutput = pipe
        try? process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").compactMap { Int32($0) }
            // Only spectop itself, not the shell whose command line names it.
            .filter { pid in (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.hasPrefix("spectop") == true }
    }

    func testMonitorShowsModelsPausesSwitchesViewsAndQuitsCleanly() throws {
        let out = scratch.appendingPathComponent("ui.jsonl").path
        try start("run --preset tiny --steps 1000000 --out \(out)", environment: "LANG=C.UTF-8 TERM=xterm-256color")
        let grid = try waitFor { text in ["w8-active", "w8-frozen", "w32-active", "w32-frozen"].allSatisfy(text.contains) && self.steps(in: text).allSatisfy { $0 > 20 } }
        for id in ["w8-active", "w8-frozen", "w32-active", "w32-frozen", "loss", "χ_net", "χ_pos"] {
            XCTAssertTrue(grid.contains(id), "\(id) missing from:\n\(grid)")
        }
        XCTAssertTrue(grid.contains { "▁▂▃▄▅▆▇█".contains($0) }, "sparklines are drawn:\n\(grid)")
        XCTAssertTrue(grid.contains("running"))

        try keys("space")
        let paused = try waitFor { $0.contains("paused") }
        XCTAssertTrue(paused.contains("paused"), paused)
        Thread.sleep(forTimeInterval: 0.5)
        let before = steps(in: try screen())
        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertEqual(steps(in: try screen()), before, "the step counters stop while paused")

        try keys("v")
        let compare = try waitFor { $0.contains("[log]") }
        XCTAssertTrue(compare.contains("loss [log]") && compare.contains("models"), compare)

        try keys("?")
        let help = try waitFor { $0.contains("single step") || $0.contains("help") }
        XCTAssertTrue(help.lowercased().contains("quit"), help)
        try keys("?")

        try keys("q")
        // The terminal modes are the line after EXIT=: wait for it too, as the other tests do.
        let after = try waitFor { $0.contains("EXIT=") && $0.contains("icanon") }
        XCTAssertTrue(after.contains("EXIT=0"), after)
        XCTAssertTrue(after.contains(" echo") || after.hasPrefix("echo") || after.contains("\necho"), "echo restored:\n\(after)")
        XCTAssertTrue(after.contains("icanon") && !after.contains("-icanon") && !after.contains("-echo "), "terminal modes restored:\n\(after)")
        XCTAssertFalse(after.contains("spectop │"), "the alternate screen was left:\n\(after)")
        XCTAssertEqual(try RunRecord.read(path: out).endReason, "quit")
    }

    /// No run is lost: without --out the monitor records into the data
    /// directory (XDG_DATA_HOME, here the scratch one), and on `q` says where,
    /// with the one command that checks its claims.
    func testTheMonitorRecordsByDefaultAndSaysWhereOnQuit() throws {
        try start("run --preset tiny --steps 1000000", environment: "TERM=xterm-256color LANG=C.UTF-8 HOME='\(scratch.path)'", width: 200)
        _ = try waitFor { $0.contains("w32-frozen") && self.steps(in: $0).allSatisfy { $0 > 5 } }
        let runs = dataHome.appendingPathComponent("spectop/runs").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []
        XCTAssertEqual(names.count, 1, "one record, made when the run started: \(names)")
        let name = try XCTUnwrap(names.first)
        XCTAssertTrue(RunsDirectory.isRecordName(name) && name.hasSuffix("-tiny.jsonl"), name)
        XCTAssertTrue(RecordDestination.isLocked(runs + "/" + name), "being written while the monitor runs")
        try keys("q")
        let after = try waitFor { $0.contains("EXIT=") }
        XCTAssertTrue(after.contains("EXIT=0"), after)
        let shown = "~/data/spectop/runs/\(name)"
        XCTAssertTrue(after.contains("recorded to \(shown); check its claims: spectop claims \(shown)"), after)
        XCTAssertFalse(after.contains("spectop │"), "said after the terminal was restored:\n\(after)")
        let record = try RunRecord.read(path: runs + "/" + name)
        XCTAssertEqual(record.endReason, "quit")
        XCTAssertEqual(record.preset, "tiny")
        XCTAssertGreaterThan(record.steps["w8-active"]?.last?.step ?? 0, 5)
    }

    func testNoRecordLeavesNoRecordAndSaysNothingOnQuit() throws {
        try start("run --preset tiny --steps 1000000 --no-record", environment: "TERM=xterm-256color LANG=C.UTF-8", width: 200)
        _ = try waitFor { $0.contains("w32-frozen") && self.steps(in: $0).allSatisfy { $0 > 5 } }
        try keys("q")
        let after = try waitFor { $0.contains("EXIT=") }
        XCTAssertTrue(after.contains("EXIT=0"), after)
        XCTAssertFalse(after.contains("recorded to"), after)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataHome.path), "nothing in the data directory, not even the folder")
    }

    func testPlainLocaleShowsOnlyASCII() throws {
        try start("run --preset tiny --steps 1000000", environment: "LANG=C LC_ALL=C TERM=xterm")
        let text = try waitFor { $0.contains("w32-frozen") && $0.contains("chi_pos") }
        XCTAssertTrue(text.contains("chi_net") && text.contains("chi_pos"), text)
        let nonASCII = text.unicodeScalars.filter { $0.value > 0x7E }
        XCTAssertTrue(nonASCII.isEmpty, "non-ASCII on a C-locale screen: \(String(String.UnicodeScalarView(nonASCII.prefix(20))))\n\(text)")
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    func testHangupAndTerminateLeaveNoProcessAndEndTheRecord() throws {
        for signal in ["HUP", "TERM"] {
            let out = scratch.appendingPathComponent("sig-\(signal).jsonl").path
            try start("run --preset tiny --steps 1000000 --out \(out)", environment: "TERM=xterm-256color")
            _ = try waitFor { $0.contains("w32-frozen") && self.steps(in: $0).allSatisfy { $0 > 5 } }
            let pids = spectopPIDs(marker: out)
            XCTAssertEqual(pids.count, 1, "one spectop process")
            for pid in pids { kill(pid, signal == "HUP" ? SIGHUP : SIGTERM) }
            let after = try waitFor(5) { $0.contains("EXIT=") }
            XCTAssertTrue(after.contains(signal == "HUP" ? "EXIT=129" : "EXIT=143"), after)
            XCTAssertTrue(spectopPIDs(marker: out).isEmpty, "no spectop process left after SIG\(signal)")
            XCTAssertEqual(try RunRecord.read(path: out).endReason, "signal")
            try tmux(["kill-session", "-t", session])
        }
    }

    func testTinyTerminalShowsTheSizeMessageAndRecovers() throws {
        try start("run --preset tiny --steps 1000000", environment: "TERM=xterm-256color", width: 30, height: 8)
        let small = try waitFor { $0.contains("too small") }
        XCTAssertTrue(small.contains("terminal too small"), small)
        for size in [(10, 5), (200, 60), (40, 10), (15, 7), (120, 40)] {
            try tmux(["resize-window", "-t", session, "-x", "\(size.0)", "-y", "\(size.1)"])
            Thread.sleep(forTimeInterval: 0.1)
        }
        let recovered = try waitFor { $0.contains("w32-frozen") && !$0.contains("too small") }
        XCTAssertTrue(recovered.contains("w8-active") && recovered.contains("w32-frozen"), recovered)
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    func testOldAndColourlessTerminalsStayReadable() throws {
        for environment in ["TERM=vt100 LANG=C.UTF-8", "TERM=xterm LANG=C.UTF-8", "TERM=xterm-256color NO_COLOR=1 LANG=C.UTF-8", "TERM=vt100 LANG=C"] {
            try start("run --preset tiny --steps 1000000", environment: environment)
            let text = try waitFor { $0.contains("w32-frozen") }
            XCTAssertTrue(text.contains("w8-active") && text.contains("w32-frozen") && text.contains("loss"), "\(environment):\n\(text)")
            XCTAssertFalse(text.contains("\u{FFFD}"), "mojibake under \(environment):\n\(text)")
            try keys("q")
            XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"), environment)
            try tmux(["kill-session", "-t", session])
        }
    }

    func testDumbOrMissingTERMIsRefusedWithAHint() throws {
        for environment in ["TERM=dumb", "env -u TERM"] {
            try start("run --preset tiny", environment: environment)
            let text = try waitFor { $0.contains("EXIT=") }
            XCTAssertTrue(text.contains("EXIT=2"), "\(environment):\n\(text)")
            XCTAssertTrue(text.contains("--headless") && text.contains("TERM is"), "\(environment):\n\(text)")
            try tmux(["kill-session", "-t", session])
        }
    }

    func testReplayPlaysARecordedRunAndJumpsToTheEnd() throws {
        let out = scratch.appendingPathComponent("replay.jsonl").path
        let recorded = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "60", "--out", out])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        // Inside tmux the right TERM is screen: its Home/End sequences are what tmux sends.
        try start("replay \(out)", environment: "TERM=screen LANG=C.UTF-8")
        let playing = try waitFor { $0.contains("w32-frozen") && $0.contains("replay") }
        XCTAssertTrue(playing.contains("w8-active") && playing.contains("χ_pos"), playing)
        try keys("space")
        try keys("End")
        let end = try waitFor { $0.contains("step 60/60") }
        XCTAssertTrue(end.contains("step 60/60"), "End jumps to the last step:\n\(end)")
        try keys("v")
        XCTAssertTrue(try waitFor { $0.contains("[log]") }.contains("loss [log]"), "compare view works on replayed data")
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// A run with a held-out batch B, replayed: every panel has its cross χ_pos
    /// row, the compare view a cross χ_pos chart with its zero line, and `n`
    /// switches χ_net to the normalised χ_net/n.
    func testTheCrossBatchLineAndItsZeroLineAsAUserSeesThem() throws {
        let printed = try SpectopProcess.run(["run", "--preset", "tiny", "--print-config"])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        let config = scratch.appendingPathComponent("cross.toml")
        try printed.stdout.replacingOccurrences(of: "cross = \"off\"", with: "cross = \"heldout\"").write(to: config, atomically: true, encoding: .utf8)
        let out = scratch.appendingPathComponent("cross.jsonl").path
        let recorded = try SpectopProcess.run(["run", "--config", config.path, "--headless", "--steps", "120", "--out", out])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        try start("replay \(out)", environment: "TERM=screen LANG=C.UTF-8")
        _ = try waitFor { $0.contains("w32-frozen") && $0.contains("replay") }
        try keys("space")
        try keys("End")
        // The panels' own step, not the status line's (which a key updates first).
        let grid = try waitFor { $0.contains("params  step 120/120") && $0.contains("cross χ_pos") }
        XCTAssertTrue(grid.contains("cross χ_pos"), "a cross row in the panels:\n\(grid)")
        try keys("v")
        // The zero line: a row of ─ inside the cross chart, right of its y axis, above the chart's last row.
        func zeroRows(_ screen: String) -> (rows: [String], chart: [String]) {
            let lines = screen.components(separatedBy: "\n")
            guard let title = lines.firstIndex(where: { $0.contains("cross χ_pos (probe vs batch B)") }) else { return ([], []) }
            let chart = Array(lines[(title + 1)...].prefix { $0.contains("│") })
            return (chart.filter { $0.filter { $0 == "─" }.count >= 20 }, chart)
        }
        let compare = try waitFor { !zeroRows($0).rows.isEmpty }
        XCTAssertTrue(compare.contains("cross χ_pos (probe vs batch B) [lin]"), compare)
        let (rows, chart) = zeroRows(compare)
        XCTAssertEqual(rows.count, 1, "one zero line:\n\(compare)")
        XCTAssertNotEqual(rows.first, chart.last, "the zero line is not the bottom edge: below it is the interference:\n\(compare)")
        try keys("n")
        let normalised = try waitFor { $0.contains("χ_net/n") }
        XCTAssertTrue(normalised.contains("χ_net/n"), normalised)
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// The default preset (shortened to 300 steps: this tier runs the debug
    /// binary), recorded and replayed to its end: the claims view's verdicts
    /// are `spectop claims --json`'s on the same record.
    func testTheClaimsViewOnTheDefaultPresetSaysWhatClaimsSays() throws {
        let out = scratch.appendingPathComponent("reach.jsonl").path
        let recorded = try SpectopProcess.run(["run", "--headless", "--steps", "300", "--out", out], timeout: 600)
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let claims = try SpectopProcess.run(["claims", out, "--json"])
        XCTAssertEqual(claims.status, 0, claims.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(claims.stdout.utf8)) as? [String: Any])
        let verdicts = try XCTUnwrap(json["claims"] as? [[String: Any]]).map { ($0["number"] as? Int ?? 0, $0["verdict"] as? String ?? "") }
        XCTAssertEqual(verdicts.count, 6)
        try start("replay \(out)", environment: "TERM=screen LANG=C.UTF-8", width: 140, height: 45)
        _ = try waitFor { $0.contains("replay") && $0.contains("w512") }
        try keys("space")
        try keys("End")
        _ = try waitFor { $0.contains("params  step 300/300") }
        try keys("v", "v", "v")
        let view = try waitFor { $0.contains("the paper's claims on what is on screen") && $0.contains("6  final loss") }
        for (number, verdict) in verdicts {
            let mark = ["holds": "✓ holds", "fails": "✗ fails", "n/a": "n/a"][verdict] ?? verdict
            XCTAssertTrue(view.components(separatedBy: "\n").contains { $0.contains(mark) && $0.contains("\(number)  ") },
                          "claim \(number) \(verdict) as spectop claims says:\n\(view)")
        }
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// A sweep directory replays as one experiment under one cursor, models
    /// named RUN/MODEL, as watch shows it.
    func testReplayOfASweepDirectory() throws {
        let sweep = scratch.appendingPathComponent("sweep")
        try FileManager.default.createDirectory(at: sweep, withIntermediateDirectories: true)
        for (name, seed) in [("lr-a", 1), ("lr-b", 2), ("lr-c", 3)] {
            let recorded = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "40", "--seed", "\(seed)",
                                                   "--out", sweep.appendingPathComponent(name + ".jsonl").path])
            XCTAssertEqual(recorded.status, 0, recorded.stderr)
        }
        try start("replay \(sweep.path)", environment: "TERM=screen LANG=C.UTF-8", width: 160, height: 50)
        let first = try waitFor { $0.contains("replay 3 records") }
        XCTAssertTrue(first.contains("replay 3 records"), first)
        try keys("space")
        try keys("End")
        let end = try waitFor { $0.contains("params  step 40/40") }
        for run in ["lr-a/", "lr-b/", "lr-c/"] { XCTAssertTrue(end.contains(run), "\(run) shown:\n\(end)") }
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    func testHomeAndEndWorkInEveryCommonEncodingRegardlessOfTERM() throws {
        let out = scratch.appendingPathComponent("keys.jsonl").path
        let recorded = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "60", "--out", out])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        // docs/USAGE.md's SSH advice sets TERM=xterm-256color, also inside tmux and PuTTY, whose keys differ from xterm's.
        try start("replay \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
        XCTAssertTrue(try waitFor { $0.contains("w32-frozen") }.contains("replay"))
        try keys("space")
        let encodings: [(String, [String])] = [
            ("end", ["1b", "5b", "34", "7e"]), ("home", ["1b", "5b", "31", "7e"]),  // tmux, screen, PuTTY
            ("end", ["1b", "5b", "46"]), ("home", ["1b", "5b", "48"]),              // xterm normal mode, PuTTY
            ("end", ["1b", "4f", "46"]), ("home", ["1b", "4f", "48"]),              // xterm application mode
            ("end", ["1b", "5b", "38", "7e"]), ("home", ["1b", "5b", "37", "7e"]),  // rxvt
            ("end", ["47"]), ("home", ["67"]),                                      // G / g
        ]
        for (what, bytes) in encodings {
            try tmux(["send-keys", "-t", session, "-H"] + bytes)
            let expected = what == "end" ? "step 60/60" : "step 0/60"
            XCTAssertTrue(try waitFor(5) { $0.contains(expected) }.contains(expected), "\(what) as \(bytes.joined(separator: " "))")
        }
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// Bytes as `tmux send-keys -H` takes them: what a terminal sends for a mouse event (SGR, as xterm reports it).
    private func hex(_ text: String) -> [String] { text.utf8.map { String(format: "%02x", $0) } }

    func testMouseSmoothingAndTheValueCursorAsAUserDrivesThem() throws {
        try start("--preset tiny --steps 1000000", environment: "TERM=xterm-256color LANG=C.UTF-8", width: 120, height: 40)
        XCTAssertTrue(try waitFor { $0.contains("w32-frozen") && $0.contains("χ_pos") }.contains("▶ w8-active"))
        // A click on the bottom-right panel (w32-frozen) selects it; a double click on the bottom-left opens its spectrum.
        try tmux(["send-keys", "-t", session, "-H"] + hex("\u{1B}[<0;90;30M") + hex("\u{1B}[<0;90;30m"))
        XCTAssertTrue(try waitFor(5) { $0.contains("▶ w32-frozen") }.contains("▶ w32-frozen"), "a click selects the panel")
        try tmux(["send-keys", "-t", session, "-H"] + hex("\u{1B}[<0;10;30M\u{1B}[<0;10;30m\u{1B}[<0;10;30M\u{1B}[<0;10;30m"))
        XCTAssertTrue(try waitFor(5) { $0.contains("spectrum w8-frozen") }.contains("spectrum w8-frozen"), "a double click opens the spectrum")
        try keys("Escape")
        // Smoothing: the header says so; values stay raw.
        try keys("s")
        XCTAssertTrue(try waitFor(5) { $0.contains("smooth EMA 0.6") }.contains("smooth EMA 0.6"))
        // The compare view's value cursor: arrows and the wheel move it, the legend reads every model there.
        try keys("v")
        XCTAssertTrue(try waitFor(5) { $0.contains("loss [log]") }.contains("loss [log]"))
        try keys("Left")
        XCTAssertTrue(try waitFor(5) { $0.contains("loss at step") }.contains("loss at step"), "the cursor's readout heads the legend")
        try tmux(["send-keys", "-t", session, "-H"] + hex("\u{1B}[<65;30;10M"))
        let cursor = try screen()
        XCTAssertTrue(cursor.contains("w8-active ") && cursor.contains("w32-frozen "), cursor)
        try keys("q")
        let exit = try waitFor { $0.contains("EXIT=") && $0.contains("icanon") }
        XCTAssertTrue(exit.contains("EXIT=0"), exit)
        assertTerminalRestored(exit)
    }

    // MARK: spectop watch (issue 13)

    func testWatchFollowsAHeadlessRunAndQuitLeavesTheWriterRunning() throws {
        let out = scratch.appendingPathComponent("watched.jsonl").path
        let later = scratch.appendingPathComponent("later.jsonl").path
        let writer = try BackgroundSpectop(["run", "--preset", "tiny", "--headless", "--steps", "1000000", "--out", out], in: scratch)
        defer { if writer.process.isRunning { _ = writer.signal(SIGKILL) } }
        XCTAssertTrue(BackgroundSpectop.wait(timeout: 20) { FileManager.default.fileExists(atPath: out) }, writer.stderr)
        // Wide enough for plain step counts (`step 1234/1000000`) in four columns of panels.
        try start("watch --poll 0.2 \(out) \(later)", environment: "LANG=C.UTF-8", width: 200, height: 50)
        let first = try waitFor { $0.contains("watched/w32-frozen") && $0.contains("1 live") }
        XCTAssertTrue(first.contains("2 runs: 1 waiting, 1 live"), first)
        // The writer's process line, from its record's usage lines (the first about 0.5 s after its start).
        let usage = try waitFor { $0.contains("% CPU") }
        let top = usage.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertNotNil(top.range(of: #"watched: \d+(\.\d)?[MG] \d+% CPU"#, options: .regularExpression), top)
        let before = steps(in: first).max() ?? 0
        let advanced = try waitFor { [self] in (steps(in: $0).max() ?? 0) > before + 50 }
        XCTAssertGreaterThan(steps(in: advanced).max() ?? 0, before, "the step counters advance as the writer writes:\n\(advanced)")
        // The second file appears while watch runs.
        let header = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        try (header + "\n").write(toFile: later, atomically: false, encoding: .utf8)
        XCTAssertTrue(try waitFor { $0.contains("later/w8-active") }.contains("2 live"))
        try keys("q")
        let exit = try waitFor { $0.contains("EXIT=") && $0.contains("icanon") }
        XCTAssertTrue(exit.contains("EXIT=0"), exit)
        assertTerminalRestored(exit)
        XCTAssertTrue(writer.process.isRunning, "q in watch leaves the writer running")
        XCTAssertNotNil(writer.signal(SIGTERM))
        let record = try RunRecord.read(path: out)
        XCTAssertEqual(record.endReason, "signal", "the writer's record is intact and ends with its own end line")
        XCTAssertTrue(record.warnings.isEmpty, "\(record.warnings)")
    }

    // MARK: Reliability (issue 11) and prompt exit (issue 17)

    /// The tiny preset with the issue's edits, written to the scratch folder.
    private func editedTiny(_ name: String, _ edits: [(String, String)]) throws -> String {
        var text = ConfigParser.render(try ConfigParser.parse(Presets.text("tiny")!, file: "tiny"))
        for (old, new) in edits { text = text.replacingOccurrences(of: old, with: new) }
        let path = scratch.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func assertTerminalRestored(_ after: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(after.contains("icanon") && !after.contains("-icanon") && !after.contains("-echo "), "terminal modes restored:\n\(after)", file: file, line: line)
        XCTAssertFalse(after.contains("spectop │"), "the alternate screen was left:\n\(after)", file: file, line: line)
    }

    func testAmplificationBlowUpKeepsTheMonitorAliveLiveAndInReplay() throws {
        // The issue's repro: amplification passes 9.2e16 while the model blows up.
        let config = try editedTiny("amp.toml", [("lr = 0.1 ", "lr = 1.0 "), ("momentum = 0.9 ", "momentum = 0.0 "),
                                                 ("probe = 64 ", "probe = 512 "), ("spectrum_every = 0 ", "spectrum_every = 1 ")])
        let out = scratch.appendingPathComponent("amp.jsonl").path
        try start("run --config \(config) --steps 40 --out \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
        let live = try waitFor(30) { $0.contains("finished") || $0.contains("EXIT=") }
        XCTAssertFalse(live.contains("EXIT="), "the monitor died:\n\(live)")
        XCTAssertTrue(live.contains("w32-active"), live)
        try keys("q")
        let after = try waitFor { $0.contains("EXIT=") && $0.contains("icanon") }
        XCTAssertTrue(after.contains("EXIT=0"), after)
        assertTerminalRestored(after)
        XCTAssertEqual(try RunRecord.read(path: out).endReason, "quit")
        try tmux(["kill-session", "-t", session])

        for lr in ["2.0", "10.0", "100.0"] {
            let config = try editedTiny("lr\(lr).toml", [("lr = 0.1 ", "lr = \(lr) "), ("momentum = 0.9 ", "momentum = 0.0 ")])
            let record = scratch.appendingPathComponent("lr\(lr).jsonl").path
            _ = try SpectopProcess.run(["run", "--config", config, "--steps", "40", "--headless", "--out", record])
            try start("replay \(record)", environment: "TERM=screen LANG=C.UTF-8")
            _ = try waitFor { $0.contains("w32-frozen") || $0.contains("EXIT=") }
            for key in ["End", "v", "v", "v", "Enter"] { try keys(key); Thread.sleep(forTimeInterval: 0.3) }
            let screen = try self.screen()
            XCTAssertFalse(screen.contains("EXIT="), "replay died for lr \(lr):\n\(screen)")
            try keys("q")
            XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"), "lr \(lr)")
            try tmux(["kill-session", "-t", session])
        }
    }

    func testACrashRestoresTheTerminalAndSaysSo() throws {
        let out = scratch.appendingPathComponent("crash.jsonl").path
        try start("run --preset tiny --steps 1000000 --out \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
        _ = try waitFor { $0.contains("w32-frozen") && self.steps(in: $0).allSatisfy { $0 > 5 } }
        // A segmentation fault from outside stands in for any crash: the handler is the same.
        for pid in spectopPIDs(marker: out) { kill(pid, SIGSEGV) }
        let after = try waitFor(5) { $0.contains("EXIT=") && $0.contains("icanon") }
        XCTAssertTrue(after.contains("EXIT=139"), after)
        XCTAssertTrue(after.contains("internal error (SIGSEGV)"), after)
        assertTerminalRestored(after)
        XCTAssertNoThrow(try RunRecord.read(path: out), "the record up to the crash stays readable")
    }

    func testUnknownTerminalTypeIsRefusedWithTheRightReason() throws {
        try start("run --preset tiny", environment: "TERM=unknown-term")
        let text = try waitFor { $0.contains("EXIT=") }
        XCTAssertTrue(text.contains("EXIT=2"), text)
        XCTAssertTrue(text.contains("does not know the terminal type 'unknown-term'"), text)
        try tmux(["kill-session", "-t", session])
        let out = scratch.appendingPathComponent("huge.jsonl").path
        try start("run --preset tiny --out \(out)", environment: "TERM=xterm-256color COLUMNS=100000 LINES=100000")
        let huge = try waitFor(20) { $0.contains("EXIT=") || $0.contains("w32-frozen") }
        if huge.contains("EXIT=") {
            XCTAssertFalse(huge.contains("EXIT=0"), "a monitor that could not start must not exit 0:\n\(huge)")
            XCTAssertFalse(huge.contains("TERM"), "the terminal type is not the problem:\n\(huge)")
            if let record = try? RunRecord.read(path: out) { XCTAssertNotEqual(record.endReason, "quit") }
        } else {
            try keys("q")
            XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"), huge)
        }
    }

    func testSignalsEndTheMonitorPromptlyEvenMidSpectrum() throws {
        // The reach experiment on digits: 2,560 outputs, seconds per exact spectrum.
        var text = ConfigParser.render(try ConfigParser.parse(Presets.text("reach")!, file: "reach"))
        text = text.replacingOccurrences(of: "kind = \"teacher\"", with: "kind = \"digits\"")
        let config = scratch.appendingPathComponent("digits-reach.toml").path
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        for (signal, state) in [(SIGINT, "spectrum"), (SIGTERM, "paused")] {
            let out = scratch.appendingPathComponent("prompt-\(signal).jsonl").path
            try start("run --config \(config) --out \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
            _ = try waitFor(30) { $0.contains("w") && $0.contains("running") }
            if state == "paused" { try keys("space"); _ = try waitFor { $0.contains("paused") } }
            Thread.sleep(forTimeInterval: 2)
            let pids = spectopPIDs(marker: out)
            XCTAssertEqual(pids.count, 1)
            let sent = Date()
            for pid in pids { kill(pid, signal) }
            while !spectopPIDs(marker: out).isEmpty && Date().timeIntervalSince(sent) < 10 { Thread.sleep(forTimeInterval: 0.05) }
            let seconds = Date().timeIntervalSince(sent)
            // Generous: it catches a wait for LAPACK (4-6 s), not scheduling noise.
            XCTAssertLessThan(seconds, 3, "\(state): the process took \(seconds) s to end")
            let after = try waitFor(5) { $0.contains("EXIT=") && $0.contains("icanon") }
            XCTAssertTrue(after.contains("EXIT=\(128 + signal)"), after)
            assertTerminalRestored(after)
            XCTAssertEqual(try RunRecord.read(path: out).endReason, "signal")
            try tmux(["kill-session", "-t", session])
        }
    }
    // MARK: Reliability round 3 (issue 28)

    func testReplayEndedByASignalExitsWith128PlusIt() throws {
        let out = scratch.appendingPathComponent("replay-signal.jsonl").path
        let recorded = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "60", "--out", out])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        for signal in [SIGTERM, SIGINT] {
            try start("replay \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
            _ = try waitFor { $0.contains("w32-frozen") && $0.contains("replay") }
            let pids = spectopPIDs(marker: out)
            XCTAssertEqual(pids.count, 1)
            for pid in pids { kill(pid, signal) }
            let after = try waitFor(5) { $0.contains("EXIT=") && $0.contains("icanon") }
            XCTAssertTrue(after.contains("EXIT=\(128 + signal)"), after)
            XCTAssertTrue(after.contains("replay stopped by SIG"), after)
            assertTerminalRestored(after)
            try tmux(["kill-session", "-t", session])
        }
    }

    /// A TensorBoard log directory (two runs, perspic's keys) growing while
    /// `spectop watch` follows it: both runs appear as models of one run, and
    /// steps appended later reach the screen (issue 32).
    func testWatchFollowsAGrowingTensorBoardLogDirectory() throws {
        let logs = scratch.appendingPathComponent("tblogs")
        var files: [String] = []
        for model in ["w16", "w64"] {
            let directory = logs.appendingPathComponent(model)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            files.append(directory.appendingPathComponent("events.out.tfevents.1.e2e").path)
        }
        func steps(_ range: Range<Int>) -> Data {
            Data(range.flatMap { step -> [UInt8] in
                let s = Float(step)
                return TensorBoardRecords.scalars(step: step, wall: 1000 + Double(step), [
                    ("loss", 1 / (1 + s)), ("chi_net", 2 + s / 100), ("chi_loss", 1 / (1 + s)), ("chi_coup", 0.5 / (1 + s).squareRoot()),
                    ("grad_norm_squared", 0.1 / (1 + s)), ("batch_size", 32)])
            })
        }
        for file in files {
            XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data(TensorBoardRecords.fileVersion(wall: 1000)) + steps(0..<10)))
        }
        try start("watch --poll 0.2 \(logs.path)", environment: "LANG=C.UTF-8", width: 160, height: 48)
        let first = try waitFor { $0.contains("tblogs/w16") && $0.contains("tblogs/w64") && self.steps(in: $0).contains(9) }
        XCTAssertTrue(first.contains("tblogs/w16") && first.contains("tblogs/w64"), first)
        XCTAssertTrue(self.steps(in: first).contains(9), first)
        // The writers go on: steps 10..<40, the last record cut in two writes as a buffered writer leaves it.
        for file in files {
            let more = steps(10..<40)
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
            handle.seekToEndOfFile()
            handle.write(more.prefix(more.count - 7))
            Thread.sleep(forTimeInterval: 0.5)
            handle.write(more.suffix(7))
            handle.closeFile()
        }
        let later = try waitFor { self.steps(in: $0).filter { $0 == 39 }.count >= 2 }
        XCTAssertEqual(self.steps(in: later).filter { $0 == 39 }.count, 2, later)
        XCTAssertFalse(later.contains("damaged"), "a record cut between two writes is no damage:\n\(later)")
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// Twenty records under `ulimit -n 12`: watch holds no descriptor per
    /// file, so the terminal still starts and every run is shown.
    func testWatchOfTwentyRecordsUnderATightDescriptorLimit() throws {
        let source = scratch.appendingPathComponent("one.jsonl").path
        let recorded = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "20", "--out", source])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let sweep = scratch.appendingPathComponent("sweep")
        try FileManager.default.createDirectory(at: sweep, withIntermediateDirectories: true)
        for index in 0..<20 {
            try FileManager.default.copyItem(atPath: source, toPath: sweep.appendingPathComponent(String(format: "run%02d.jsonl", index)).path)
        }
        try start("watch \(sweep.path)", environment: "ulimit -n 12; TERM=xterm-256color LANG=C.UTF-8", width: 160, height: 48)
        // The header counts the runs before every model is back-filled: wait for the paged grid too.
        let shown = try waitFor { $0.contains("20 runs") && $0.contains("page 1/") }
        XCTAssertTrue(shown.contains("20 runs"), shown)
        XCTAssertFalse(shown.contains("cannot start the terminal"), shown)
        XCTAssertTrue(shown.contains("page 1/"), "80 models page in 160x48:\n\(shown)")
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// `ulimit -f` under the monitor: the run goes on, the footer says why
    /// the record stopped, and q leaves with status 1 and the terminal restored.
    func testAFileSizeLimitUnderTheMonitorIsAWriteErrorNotADeath() throws {
        let out = scratch.appendingPathComponent("limited.jsonl").path
        try start("run --preset tiny --steps 1000000 --out \(out)", environment: "ulimit -f 24; TERM=xterm-256color LANG=C.UTF-8")
        let failing = try waitFor { $0.contains("File too large") }
        XCTAssertTrue(failing.contains("File too large"), failing)
        let later = try waitFor { [self] in (steps(in: $0).min() ?? 0) > 100 }
        XCTAssertGreaterThan(steps(in: later).min() ?? 0, 100, "training goes on:\n\(later)")
        try keys("q")
        let after = try waitFor { $0.contains("EXIT=") && $0.contains("icanon") }
        XCTAssertTrue(after.contains("EXIT=1"), after)
        assertTerminalRestored(after)
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertEqual(data.last, 10, "the record ends with a whole line")
    }
    /// A stop signal just after `e`: the export is whole or absent, never a
    /// folder with some of the models that looks like a dump.
    func testAnExportCutByASignalLeavesNoPartialDump() throws {
        for delay in [0.05, 0.15] {
            let dump = scratch.appendingPathComponent("dump-\(delay)")
            let out = scratch.appendingPathComponent("dump-\(delay).jsonl").path
            try start("run --preset reach --steps 1000000 --dump \(dump.path) --out \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
            _ = try waitFor { [self] in $0.contains("frozen") && (steps(in: $0).min() ?? 0) > 3 }
            let pids = spectopPIDs(marker: out)
            XCTAssertEqual(pids.count, 1)
            try keys("e")
            Thread.sleep(forTimeInterval: delay)
            for pid in pids { kill(pid, SIGTERM) }
            let after = try waitFor(10) { $0.contains("EXIT=") }
            XCTAssertTrue(after.contains("EXIT=143"), after)
            let record = try RunRecord.read(path: out)
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: dump.path)) ?? []
            for folder in entries where folder.hasPrefix("step-") {
                let inside = try FileManager.default.contentsOfDirectory(atPath: dump.appendingPathComponent(folder).path)
                for model in record.models {
                    XCTAssertTrue(inside.contains(model.id), "\(folder) lacks \(model.id): \(inside.sorted())")
                }
            }
            try tmux(["kill-session", "-t", session])
        }
    }
    // MARK: Sweeps, messages, end reasons, probe records (issue 33)

    /// A one-model experiment, so twelve records fit one 80x24 grid.
    private func oneModelConfig() throws -> String {
        let path = scratch.appendingPathComponent("one.toml").path
        try """
        name = "one"
        seed = 1
        [data]
        kind = "teacher"
        samples = 512
        input_dim = 8
        [models]
        widths = [8]
        depth = 2
        activation = "tanh"
        modes = ["active"]
        [training]
        optimizer = "sgd"
        lr = 0.1
        batch = 32
        steps = 30
        [metrics]
        every = 1
        probe = 64
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func panelCount(_ screen: String) -> Int { screen.filter { $0 == "┌" }.count }

    /// Twelve records of a sweep with long names, as a researcher opens them:
    /// at 80x24 every title keeps what tells the runs apart (setting and seed);
    /// `/` shows the matching ones, `H` hides them instead, `a` brings every
    /// model back; the directory replays as one experiment.
    func testATwelveRecordSweepIsFilteredHiddenShownAndReplayed() throws {
        let sweep = scratch.appendingPathComponent("sweep")
        try FileManager.default.createDirectory(at: sweep, withIntermediateDirectories: true)
        func name(_ seed: Int) -> String { String(format: "sweep-2026-12-07-learning-rate-%d-seed-%02d", seed % 3, seed) }
        let first = sweep.appendingPathComponent(name(1) + ".jsonl").path
        let recorded = try SpectopProcess.run(["run", "--config", try oneModelConfig(), "--headless", "--out", first])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        for seed in 2...12 { try FileManager.default.copyItem(atPath: first, toPath: sweep.appendingPathComponent(name(seed) + ".jsonl").path) }

        try start("watch \(sweep.path)", environment: "TERM=xterm-256color LANG=C.UTF-8", width: 80, height: 24)
        let grid = try waitFor { $0.contains("12 runs: 12 finished") && self.panelCount($0) == 12 }
        XCTAssertEqual(panelCount(grid), 12, grid)
        for seed in 1...12 {
            let tail = String(format: "%d-seed-%02d", seed % 3, seed)
            XCTAssertTrue(grid.contains(tail), "\(tail) tells run \(seed) apart at 80x24:\n\(grid)")
        }
        XCTAssertTrue(grid.contains("12 finished (steps)"), grid)

        try keys("/")
        try keys("-l", "rate-2")
        try keys("Enter")
        let only = try waitFor { $0.contains("only /rate-2") && self.panelCount($0) == 4 }
        XCTAssertEqual(panelCount(only), 4, "seeds 2, 5, 8, 11:\n\(only)")
        XCTAssertTrue(only.contains("showing 4 models matching rate-2"), only)

        try keys("H")
        let hidden = try waitFor { $0.contains("hiding rate-2") && self.panelCount($0) == 8 }
        XCTAssertEqual(panelCount(hidden), 8, hidden)
        XCTAssertFalse(hidden.contains("only /"), hidden)
        XCTAssertTrue(try waitFor { $0.contains("hid 4 models matching rate-2, 8 shown") }.contains("hid 4 models"), "the message is seen")

        try keys("a")
        let all = try waitFor { self.panelCount($0) == 12 && !$0.contains("hiding") }
        XCTAssertEqual(panelCount(all), 12, all)
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
        try tmux(["kill-session", "-t", session])

        try start("replay \(sweep.path)", environment: "TERM=screen LANG=C.UTF-8", width: 160, height: 50)
        _ = try waitFor { $0.contains("replay 12 records") }
        try keys("space")
        try keys("End")
        let end = try waitFor { $0.contains("step 30 of 30 recorded") && self.panelCount($0) == 12 }
        XCTAssertTrue(end.contains("replay 12 records: step 30 of 30 recorded"), end)
        XCTAssertEqual(panelCount(end), 12, end)
        for seed in 1...12 { XCTAssertTrue(end.contains(String(format: "seed-%02d", seed)), "seed \(seed) in the replay:\n\(end)") }
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// `e`, `t`, `w` pressed together: every confirmation is seen in turn
    /// (each at least two seconds), and the dump's own message too.
    func testTheFooterShowsEveryMessageOfExportThemeAndSaveInTurn() throws {
        let dump = scratch.appendingPathComponent("dumps").path
        let out = scratch.appendingPathComponent("queue.jsonl").path
        try start("run --preset tiny --steps 1000000 --dump \(dump) --out \(out)",
                  environment: "; cd '\(scratch.path)'; TERM=xterm-256color LANG=C.UTF-8")
        _ = try waitFor { [self] in $0.contains("w32-frozen") && (steps(in: $0).min() ?? 0) > 5 }
        try keys("e")
        try keys("t")
        try keys("w")
        let wanted = ["export requested", "theme ", "screen saved to", "state dump written to"]
        var firstSeen: [String: Date] = [:]
        let deadline = Date().addingTimeInterval(20)
        while firstSeen.count < wanted.count && Date() < deadline {
            let text = try screen()
            for message in wanted where firstSeen[message] == nil && text.contains(message) { firstSeen[message] = Date() }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(Set(firstSeen.keys), Set(wanted), "every message is seen; seen: \(firstSeen.keys.sorted())")
        if let export = firstSeen["export requested"], let theme = firstSeen["theme "], let saved = firstSeen["screen saved to"] {
            XCTAssertLessThan(export, theme, "in the order of the keys")
            XCTAssertLessThan(theme, saved)
            XCTAssertGreaterThan(saved.timeIntervalSince(export), 3, "each stood its two seconds before the next")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        XCTAssertTrue(files.contains { $0.hasPrefix("spectop-screen-") && $0.hasSuffix(".txt") }, "\(files)")
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// A run quit at about 5 %: watch and replay say `quit at N%` with the
    /// record's own numbers, never `done`, and replay's budget is the header's.
    func testAQuitRunSaysSoInWatchAndReplay() throws {
        let out = scratch.appendingPathComponent("quit.jsonl").path
        try start("run --preset tiny --steps 2000 --out \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
        _ = try waitFor(30) { [self] in $0.contains("w32-frozen") && (steps(in: $0).min() ?? 0) > 100 }
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
        try tmux(["kill-session", "-t", session])
        let record = try RunRecord.read(path: out)
        XCTAssertEqual(record.endReason, "quit")
        let percents = Dictionary(uniqueKeysWithValues: record.models.map { ($0.id, min(99, (record.steps[$0.id]?.last?.step ?? 0) * 100 / 2000)) })

        try start("watch \(out)", environment: "TERM=xterm-256color LANG=C.UTF-8")
        let watched = try waitFor { $0.contains("quit at") && $0.contains("w32-frozen") }
        for (id, percent) in percents { XCTAssertTrue(watched.contains("\(id) quit at \(percent)%"), "\(id) at \(percent)%:\n\(watched)") }
        XCTAssertFalse(watched.contains(" done"), watched)
        XCTAssertTrue(watched.contains("1 finished (quit)"), watched)
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
        try tmux(["kill-session", "-t", session])

        try start("replay \(out)", environment: "TERM=screen LANG=C.UTF-8")
        _ = try waitFor { $0.contains("replay quit.jsonl") }
        try keys("space")
        try keys("End")
        let last = record.models.compactMap { record.steps[$0.id]?.last?.step }.max() ?? 0
        // The footer names the end from the first frame: wait for the cursor at the end and the panels that say so.
        let end = try waitFor { $0.contains("step \(last) of \(last) recorded") && $0.contains("replay finished") }
        XCTAssertTrue(end.contains("step \(last) of \(last) recorded (quit at \(min(99, last * 100 / 2000))% of 2000)"), end)
        for (id, percent) in percents { XCTAssertTrue(end.contains("\(id) quit at \(percent)%"), "\(id) at \(percent)%:\n\(end)") }
        XCTAssertFalse(end.contains("/\(last) ") || end.contains(" done"), "the last step is no budget:\n\(end)")
        XCTAssertTrue(end.contains("/2000"), "the panels count against the header's budget:\n\(end)")
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }

    /// A record as the PyTorch probe writes it (docs/RECORD.md: its header's
    /// tool, torch and device; matrix-free spectra): replay's header names the
    /// probe, its PyTorch and device, never `OpenBLAS ?`, and the spectrum view
    /// marks the estimated numbers `~` as the panel does. The header shows the
    /// probe's process as its usage line at the cursor said.
    func testAProbeRecordNamesItsWriterAndMarksItsEstimates() throws {
        var header = RecordHeader(version: 1, models: [RunRecord.ModelInfo(id: "gpt", width: 64, depth: 2, parameterCount: 8_000,
                                                                           trainable: "all", mode: .active)])
        header.toolVersion = "spectop-probe 0.1.0"
        header.torch = "2.4.1+cpu"
        header.device = "cpu"
        header.data = RecordHeader.DataInfo(name: "chars", probe: 16, outputs: 64, loss: "cross_entropy")
        var lines = [header.encode()]
        for step in 0...3 {
            lines.append(RecordLines.encode(.metrics(model: "gpt", MetricSample(step: step * 10, loss: 2 - 0.1 * Double(step), chiLoss: 0.5, chiNet: 40,
                                                                               chiPos: 0.1 / Double(step + 1), gradSq: 2, wall: Double(step)))))
            let histogram = SpectrumHistogram(log10Edges: [-2, -1, 0, 1, 2], counts: [600, 300, 100, 20], residualWeights: [0.1, 0.2, 0.3, 0.1],
                                              nearZeroCount: 4, nearZeroWeight: 0.05, markerBin: 2, countUncertainty: [40, 25, 9, 2])
            lines.append(RecordLines.encode(.spectrum(model: "gpt", SpectrumSample(
                step: step * 10, eigenvalues: [80, 40, 20, 10], weights: [0.1, 0.05, 0.05, 0.1], chiPosExact: 0.1 / Double(step + 1), lambdaEff: 4,
                rEff: 0.25, effectiveRank: 312.5, histogram: histogram, method: .lanczos, modeCount: 1024, rEffUncertainty: 0.02, restWeight: 0.7))))
            if step == 2 {
                lines.append(RecordLines.usage(ProcessUsage(residentBytes: 412 << 20, cpuPercent: 98, stepSeconds: 0.085,
                                                            gpuMemoryBytes: 3 << 30, gpuUtilization: 87), wall: 2.5))
            }
        }
        lines.append(RecordLines.end(reason: "closed", wall: 4))
        let path = scratch.appendingPathComponent("probe.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try SpectopProcess.run(["check", path]).status, 0, "the fixture is a valid record")

        try start("replay \(path)", environment: "TERM=screen LANG=C.UTF-8", width: 160, height: 40)
        let first = try waitFor { $0.contains("recorded by") }
        let top = first.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(top.contains("recorded by spectop-probe 0.1.0 on torch 2.4.1+cpu, cpu"), top)
        XCTAssertFalse(first.contains("OpenBLAS"), first)
        try keys("space")
        try keys("End")
        // The header's state as well as the footer's step: both drawn from the cursor at the end.
        let end = try waitFor { $0.contains("step 30 of 30 recorded") && $0.contains("replay finished") }
        let endTop = end.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(endTop.contains("412M 98% CPU 85.0 ms/step GPU 3.0G 87%"), "the process at the cursor (step 30):\n\(end)")
        try keys("Enter")
        let spectrum = try waitFor { $0.contains("effective rank") }
        let rows = spectrum.split(separator: "\n").map(String.init)
        let rank = rows.first { $0.contains("effective rank") } ?? ""
        let rEff = rows.first { $0.contains("r_eff") && !$0.contains("max r_eff") } ?? ""
        XCTAssertTrue(rank.contains("~312"), "an estimated effective rank is marked:\n\(spectrum)")
        XCTAssertTrue(rEff.contains("~0.25") && rEff.contains("±"), "an estimated r_eff is marked with its uncertainty:\n\(spectrum)")
        try keys("q")
        XCTAssertTrue(try waitFor { $0.contains("EXIT=") }.contains("EXIT=0"))
    }
}
