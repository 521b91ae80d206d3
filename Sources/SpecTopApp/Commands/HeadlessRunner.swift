import SpecTopReaders
import Foundation
import SpectralCore

/// Trains without a UI. Progress goes to stderr: when stderr is a terminal,
/// one line per model redrawn in place at most once a second; otherwise plain
/// lines every 10 seconds (never carriage-return spam in a log).
struct HeadlessRunner {
    let session: TrainingSession

    func run() -> SessionOutcome {
        let engine = session.engine
        engine.start()
        let interactive = isatty(STDERR_FILENO) != 0
        let interval = interactive ? 1.0 : 10.0
        var lastReport = Date()
        var drawnLines = 0
        while true {
            if let signal = SignalFlag.received {
                return .interrupted(by: signal)
            }
            let finished = engine.waitUntilFinished(timeout: 0.1)
            if finished || engine.snapshot().state == .finished {
                // The closing lines; a recording failure is reported once, on exit.
                let last = engine.snapshot()
                report(last, interactive: interactive, erase: drawnLines, showFailure: false)
                StandardStreams.writeError("done in \(Self.duration(last.elapsed))\n")
                return SessionOutcome(reason: "steps")
            }
            if Date().timeIntervalSince(lastReport) >= interval {
                drawnLines = report(engine.snapshot(), interactive: interactive, erase: drawnLines)
                lastReport = Date()
            }
        }
    }

    /// `21.8 s`, `3m 05s`, `2h 01m`: a log's wording for elapsed and remaining time.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%dm %02ds", whole / 60, whole % 60) }
        return String(format: "%dh %02dm", whole / 3600, (whole % 3600) / 60)
    }

    /// `%.4g`, with NaN as `nan` (printf writes `-nan` for the NaN a diverged model gives).
    static func number(_ value: Double) -> String {
        value.isNaN ? "nan" : String(format: "%.4g", value)
    }

    @discardableResult
    private func report(_ snapshot: EngineSnapshot, interactive: Bool, erase: Int, showFailure: Bool = true) -> Int {
        var text = ""
        if interactive && erase > 0 { text += "\u{1B}[\(erase)A" }  // back to the top of the block
        for model in snapshot.models {
            var line = "\(TerminalSafeText.line(model.id).padding(toLength: 14, withPad: " ", startingAt: 0)) step \(model.step)/\(model.stepBudget)"
            if let latest = model.latest {
                line += "  loss \(Self.number(latest.loss))  chi_net \(Self.number(latest.chiNet))  chi_pos "
                    + (latest.chiPos.map(Self.number) ?? "undefined")
            }
            if model.status == .training && model.stepsPerSecond > 0 {
                line += "  \(Self.number(model.stepsPerSecond)) steps/s"
                if let eta = model.secondsToGo { line += "  ETA \(Self.duration(eta))" }
            }
            if model.status.stoppedEarly { line += "  \(model.status.rawValue.uppercased())" }
            text += (interactive ? "\u{1B}[2K" : "") + line + "\n"
        }
        let failure = showFailure ? session.recorder?.failure : nil
        if let failure { text += "spectop: \(TerminalSafeText.line(failure))\n" }
        // A closed or full stderr loses the progress line, never the run.
        StandardStreams.writeError(text)
        return snapshot.models.count + (failure != nil ? 1 : 0)
    }
}
