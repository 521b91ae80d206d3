import ArgumentParser
import Foundation
import SpecTopRecord
import SpecTopUI

/// `spectop replay PATH...`
package struct ReplayCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Open the monitor on a recorded run: space plays/pauses, left/right scrub, Home/End jump.",
        discussion: """
            Several records, or a directory of *.jsonl records (a sweep), play as one experiment under one \
            cursor over the steps, models named RUN/MODEL as in watch and claims.
            """)

    @Argument(help: "Records written by `spectop run --out FILE.jsonl` or the PyTorch probe (a cut-off last line is tolerated), or directories of them.")
    package var paths: [String]
    @OptionGroup package var display: DisplayOptions

    /// What wrote the record, for the header: spectop's engine on its BLAS
    /// core, or another writer (the PyTorch probe) as its `tool` field names it.
    package static func writer(of record: RunRecord) -> String {
        if let blas = record.blas { return "recorded on OpenBLAS \(blas)" }
        if record.file.contains(", ") { return "\(record.runCount) records" }
        if let tool = record.toolVersion, !tool.isEmpty { return "recorded by \(tool)" }
        return "recorder unknown"
    }

    package func validate() throws {
        if paths.isEmpty { throw ValidationError("give a record file or a directory of them") }
    }

    package func run() throws {
        let files = try RunRecord.recordFiles(paths)
        let record = RunRecord.combined(try files.map { try RunRecord.read(path: $0) })
        try requireTerminal("replay", alternative: "use `spectop claims \(paths.joined(separator: " "))` for a report without one")
        let (chosen, themeError) = ThemeChoice.theme(display.theme)
        let status = ([themeError] + record.warnings.map { Optional($0) }).compactMap { $0 }.first
        let info = MonitorInfo(preset: record.preset ?? "replay", dataset: record.dataName ?? "?",
                               blasCore: ReplayCommand.writer(of: record), status: status)
        let monitor = Monitor(source: ReplaySource(record: record), info: info,
                              options: display.monitorOptions(mode: .replay, theme: chosen))
        let reason: MonitorExitReason
        do { reason = try monitor.run() } catch { throw CommandFailure.runtime("\(error)") }
        if case .signal(let number) = reason {
            throw CommandFailure.interrupted(signal: number, "replay stopped by \(SignalFlag.name(number))")
        }
    }
}
