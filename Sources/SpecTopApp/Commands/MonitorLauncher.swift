import SpecTopReaders
import Foundation
import SpectralCore
import SpecTopUI

/// Opens the monitor on a live session or a replay, with the theme and glyph
/// options of the command line.
enum MonitorLauncher {
    /// The theme named by `--theme`, else `SPECTOP_THEME`, else the default;
    /// a broken theme file falls back to the default with a message.
    static func run(session: TrainingSession, display: DisplayOptions, cost: CostEstimate? = nil) -> SessionOutcome {
        let (theme, themeError) = ThemeChoice.theme(display.theme)
        var info = MonitorInfo(preset: session.prepared.config.name, dataset: session.prepared.dataName,
                               blasCore: "OpenBLAS \(BLASRuntime.coreName)", status: themeError ?? cost?.warning.map { "warning: \($0)" })
        info.warning = cost?.shortWarning
        let source = EngineMonitorSource(session: session)
        let monitor = Monitor(source: source, info: info,
                              options: display.monitorOptions(mode: .live, theme: theme))
        session.engine.start()
        do {
            switch try monitor.run() {
            case .quitKey: return SessionOutcome(reason: "quit")
            case .signal(let number): return .interrupted(by: number)
            }
        } catch {
            StandardStreams.printError("\(error)")
            return SessionOutcome(reason: "error", detail: "the monitor could not start: \(error)")
        }
    }
}

/// The live engine as the monitor sees it.
final class EngineMonitorSource: MonitorSource, @unchecked Sendable {
    // @unchecked: `message` is guarded by `lock`; the session is thread-safe.
    private let session: TrainingSession
    private let lock = NSLock()
    private var message: String?
    private var exporting = false
    private let usage = ProcessUsageSampler()

    init(session: TrainingSession) { self.session = session }

    func snapshot() -> EngineSnapshot {
        var snapshot = session.engine.snapshot()
        snapshot.process = usage.sample()
        return snapshot
    }

    func perform(_ command: MonitorCommand) {
        let engine = session.engine
        switch command {
        case .togglePause: engine.togglePause()
        case .singleStep: engine.stepOnce()
        case .faster, .slower:
            if case .faster = command { engine.faster() } else { engine.slower() }
            let limit = engine.speedLimit.map { "speed limit \(JSONLine.number($0)) steps/s per model" } ?? "full speed"
            setMessage(limit)
        case .freezeFeatures(let id):
            setMessage(engine.freezeFeatures(modelID: id) ? "\(id): features frozen from the next step" : "\(id) is already frozen")
        case .export:
            lock.lock()
            if exporting { lock.unlock(); return }
            exporting = true
            message = "exporting the state dump…"
            lock.unlock()
            // The dump waits for idle models: never on the UI thread.
            DispatchQueue.global().async { [self] in
                let result = session.exportDump()
                lock.lock()
                exporting = false
                message = result.message
                lock.unlock()
            }
        case .scrub, .jumpToStart, .jumpToEnd, .quit:
            break
        }
    }

    private func setMessage(_ text: String) {
        lock.lock()
        message = text
        lock.unlock()
    }

    func statusMessage() -> String? {
        if let failure = session.recorder?.failure { return failure }
        lock.lock()
        defer { lock.unlock() }
        return message
    }
}
