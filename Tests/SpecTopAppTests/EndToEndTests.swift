import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp

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

    /// Starts spectop in a detached tmux session; after it exits the shell
    /// prints its status and the terminal modes, then waits.
    private func start(_ arguments: String, environment: String = "", width: Int = 120, height: Int = 40) throws {
        let command = "\(environment) '\(SpectopProcess.binary.path)' \(arguments); echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -E '^-?(echo|icanon)$' | tr '\\n' ' '; echo; sleep 60"
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
        let after = try waitFor { $0.contains("EXIT=") }
        XCTAssertTrue(after.contains("EXIT=0"), after)
        XCTAssertTrue(after.contains(" echo") || after.hasPrefix("echo") || after.contains("\necho"), "echo restored:\n\(after)")
        XCTAssertTrue(after.contains("icanon") && !after.contains("-icanon") && !after.contains("-echo "), "terminal modes restored:\n\(after)")
        XCTAssertFalse(after.contains("spectop │"), "the alternate screen was left:\n\(after)")
        XCTAssertEqual(try RunRecord.read(path: out).endReason, "quit")
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
            XCTAssertTrue(after.contains("EXIT=0"), after)
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
}
