import ArgumentParser
import Foundation
import SpecTopRecord

/// `spectop runs`: the runs recorded by default (`RunsDirectory`), newest
/// first, and `--prune`.
package struct RunsCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List the recorded runs, newest first (date, preset, steps done of the budget, how each ended, path); --prune removes old ones.",
        discussion: """
            A run without --out is recorded in $XDG_DATA_HOME/spectop/runs (by default ~/.local/share/spectop/runs). \
            Each new run prunes that directory to the newest \(PruneLimits.defaults.keep ?? 0) records and at most \
            \(ByteCount.text(PruneLimits.defaults.maxBytes ?? 0)); set \(PruneLimits.keepVariable) (a count) and \
            \(PruneLimits.sizeVariable) (e.g. 500M, 5G) to change that ('unlimited' lifts a limit). A record being \
            written is never removed, nor is the newest, nor a file not named as spectop names its records.
            """)

    @Option(help: "The directory to list or prune (default: $XDG_DATA_HOME/spectop/runs, else ~/.local/share/spectop/runs).")
    package var dir: String?

    @Flag(help: "Print only the records' paths, newest first, one per line (for scripts: spectop replay \"$(spectop runs --paths | head -1)\").")
    package var paths = false

    @Flag(help: "Remove the oldest records beyond the limits (--keep, --max-size; else the environment's or the defaults).")
    package var prune = false

    @Option(help: "With --prune: keep at most N records, or 'unlimited' (default: $\(PruneLimits.keepVariable), else \(PruneLimits.defaults.keep ?? 0)).")
    package var keep: String?

    @Option(help: "With --prune: keep at most this size of records, e.g. 500M, 2G, or 'unlimited' (default: $\(PruneLimits.sizeVariable), else \(ByteCount.text(PruneLimits.defaults.maxBytes ?? 0).replacingOccurrences(of: " ", with: ""))).")
    package var maxSize: String?

    @Flag(help: "With --prune: list what would be removed and remove nothing.")
    package var dryRun = false

    package func validate() throws {
        if !prune {
            for (given, flag) in [(keep != nil, "--keep"), (maxSize != nil, "--max-size"), (dryRun, "--dry-run")] where given {
                throw ValidationError("\(flag) applies only with --prune")
            }
        }
        if prune && paths { throw ValidationError("give --prune or --paths, not both") }
        if dir == "" { throw ValidationError("--dir needs a directory") }
    }

    package func run() throws {
        let directory: String
        do { directory = try dir ?? RunsDirectory.locate().path } catch { throw CommandFailure.usage("\(error)") }
        let shown = RunsDirectory.display(directory)
        var info = stat()
        if stat(directory, &info) != 0 {
            let reason = String(cString: strerror(errno))
            // The default directory appears with the first recorded run.
            if errno == ENOENT && dir == nil {
                if !paths { StandardStreams.writeOutput("no runs recorded yet (\(shown) does not exist)\n") }
                return
            }
            throw CommandFailure.usage("cannot read \(TerminalSafeText.line(directory)): \(reason)")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw CommandFailure.usage("\(TerminalSafeText.line(directory)) is not a directory")
        }
        if prune {
            try pruneRecords(in: directory, shown: shown)
        } else {
            try list(directory, shown: shown)
        }
    }

    private func list(_ directory: String, shown: String) throws {
        let records: [RecordSummary]
        do { records = try RunsPruning.list(directory) } catch { throw CommandFailure.usage(TerminalSafeText.line("\(error)")) }
        if paths {
            for record in records { StandardStreams.writeOutput(TerminalSafeText.line(record.path) + "\n") }
            return
        }
        guard !records.isEmpty else {
            StandardStreams.writeOutput("no runs recorded in \(shown) yet\n")
            return
        }
        StandardStreams.writeOutput(Self.table(records))
        let total = records.reduce(Int64(0)) { $0 + $1.size }
        var footer = "\(records.count) record\(records.count == 1 ? "" : "s"), \(ByteCount.text(total)) in \(shown)"
        if dir == nil {
            do {
                let limits = try PruneLimits.from()
                footer += "; each new run prunes it to \(limits.description) (\(PruneLimits.keepVariable), \(PruneLimits.sizeVariable))"
            } catch {
                // The list stands without the limits; a prune would refuse.
                StandardStreams.printError("warning: \(error)")
            }
        }
        StandardStreams.writeOutput(footer + "\n")
    }

    /// The list as a table: one row per record, the path last (it is the
    /// longest and the one to copy).
    static func table(_ records: [RecordSummary], home: String? = ProcessInfo.processInfo.environment["HOME"]) -> String {
        var rows = [["DATE", "PRESET", "STEPS", "END", "PATH"]]
        for record in records {
            let preset = record.header.map { $0.preset ?? $0.name ?? $0.toolVersion ?? "-" } ?? "-"
            let steps: String
            switch (record.latestStep, record.stepBudget) {
            case (let step?, let budget?): steps = "\(step)/\(budget)"
            case (let step?, nil): steps = "\(step)"
            case (nil, let budget?): steps = "0/\(budget)"
            default: steps = "-"
            }
            var path = RunsDirectory.display(record.path, home: home)
            if let problem = record.problem, record.header == nil { path += " (\(problem))" }
            rows.append([localTime(record.date), TerminalSafeText.line(String(preset.prefix(24))), steps, record.endDescription,
                         TerminalSafeText.line(path)])
        }
        var widths = [Int](repeating: 0, count: 4)
        for row in rows { for column in 0..<4 { widths[column] = max(widths[column], row[column].count) } }
        return rows.map { row in
            (0..<4).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") + "  " + row[4]
        }.joined(separator: "\n") + "\n"
    }

    /// `2026-12-07 05:12` in the local time zone (file names are UTC).
    static func localTime(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min))
    }

    private func pruneRecords(in directory: String, shown: String) throws {
        var limits: PruneLimits
        do {
            // The flags win; the environment is read only for what they leave open.
            limits = (keep != nil && maxSize != nil) ? PruneLimits.defaults : try PruneLimits.from()
            if let keep { limits.keep = try PruneLimits.count(keep, name: "--keep") }
            if let maxSize { limits.maxBytes = try PruneLimits.size(maxSize, name: "--max-size") }
        } catch { throw CommandFailure.usage(TerminalSafeText.line("\(error)")) }
        let result: RunsPruning.Result
        do { result = try RunsPruning.prune(directory, limits: limits, dryRun: dryRun) } catch {
            throw CommandFailure.usage(TerminalSafeText.line("\(error)"))
        }
        let verb = dryRun ? "would remove" : "removed"
        for record in result.removed {
            StandardStreams.writeOutput("\(verb) \(RunsDirectory.display(record.path)) (\(ByteCount.text(record.size)))\n")
        }
        for record in result.keptLive {
            StandardStreams.writeOutput("kept \(RunsDirectory.display(record.path)): being written\n")
        }
        let freed = result.removed.reduce(Int64(0)) { $0 + $1.size }
        StandardStreams.writeOutput("\(verb) \(result.removed.count) record\(result.removed.count == 1 ? "" : "s") (\(ByteCount.text(freed))); "
                                    + "\(result.keptCount) kept (\(ByteCount.text(result.keptBytes))) in \(shown): \(limits.description)\n")
        if !result.failures.isEmpty {
            throw CommandFailure.runtime(TerminalSafeText.line(result.failures.joined(separator: "; ")))
        }
    }
}
