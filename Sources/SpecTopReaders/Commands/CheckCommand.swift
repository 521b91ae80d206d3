import ArgumentParser
import Foundation
import SpecTopRecord

/// `spectop check FILE...`
package struct CheckCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check records against the record specification (docs/RECORD.md): one line per problem, exit 0 when clean, 2 otherwise.",
        discussion: """
            For records written by your own tools, and by spectop and the PyTorch probe. Each problem is printed as \
            FILE:LINE: what is wrong. Notes (an event kind or line type the specification does not define, a model \
            the header does not list) are printed too but fail nothing. Directories are checked as their *.jsonl files. \
            TensorBoard event files and Lightning metrics.csv (a file or a log directory) are checked as spectop reads \
            them: each damaged record as FILE: byte N: what is wrong (a bad checksum, a truncated record, an impossible \
            length), each CSV row that does not fit as FILE: line N, and, as notes, every name that maps to no \
            spectop field (kept as a user scalar) and every value that is no scalar.
            """)

    @Argument(help: "Record files, or directories of *.jsonl records.")
    package var paths: [String]

    @Flag(help: "Print nothing for a clean file (by default each file gets an OK line).")
    package var quiet = false

    package func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record file or directory") }
        if paths.contains("") { throw ValidationError("an empty path names no record file or directory") }
    }

    package func run() throws {
        var failed = 0
        for source in try RecordSource.resolve(paths) {
            guard case .record(let file) = source else {
                if case .foreign(let log) = source, !check(log) { failed += 1 }
                continue
            }
            let data: Data
            do { data = try RunRecord.readBytes(path: file) } catch {
                StandardStreams.writeOutput(TerminalSafeText.line("\(error)") + "\n")
                failed += 1
                continue
            }
            let findings = RecordValidator.validate(data)
            let problems = findings.filter { !$0.isNote }.count
            for finding in findings.prefix(200) {
                StandardStreams.writeOutput(TerminalSafeText.line("\(file):\(finding.line): \(finding.isNote ? "note: " : "")\(finding.message)") + "\n")
            }
            if findings.count > 200 { StandardStreams.writeOutput(TerminalSafeText.line("\(file): \(findings.count - 200) more not shown") + "\n") }
            if problems > 0 {
                failed += 1
            } else if !quiet {
                StandardStreams.writeOutput(TerminalSafeText.line("\(file): OK (\(data.split(separator: 10).count) lines)") + "\n")
            }
        }
        if failed > 0 { throw CommandFailure.usage("\(failed) record\(failed == 1 ? "" : "s") do\(failed == 1 ? "es" : "") not follow the specification") }
    }

    /// Prints what spectop makes of a foreign log; false when it is damaged or unreadable.
    private func check(_ log: ForeignLog) -> Bool {
        let reading: ForeignLog.Reading
        do { reading = try log.read() } catch {
            StandardStreams.writeOutput(TerminalSafeText.line("\(error)") + "\n")
            return false
        }
        func say(_ text: String) { StandardStreams.writeOutput(TerminalSafeText.line(text) + "\n") }
        for issue in reading.issues.prefix(200) { say(issue.description) }
        if reading.issues.count > 200 { say("\(log.root): \(reading.issues.count - 200) more problems not shown") }
        let unknown = reading.keptNames.filter { $0.reason == nil }.map(\.name)
        if !unknown.isEmpty {
            say("\(log.root): note: not spectop fields, kept as user scalars: \(unknown.prefix(40).joined(separator: ", "))\(unknown.count > 40 ? ", … (\(unknown.count) in all)" : "") (the names spectop maps: docs/USAGE.md, \"Foreign logs\")")
        }
        for (name, reason) in reading.keptNames { if let reason { say("\(log.root): note: \(name) is kept as a user scalar: \(reason)") } }
        if !reading.otherTags.isEmpty {
            say("\(log.root): note: not scalars, left out: \(reading.otherTags.prefix(20).joined(separator: ", "))\(reading.otherTags.count > 20 ? ", …" : "")")
        }
        for note in reading.notes.prefix(50) { say("\(log.root): note: \(note)") }
        if reading.mappedFields.isEmpty {
            say("\(log.root): note: no name in it maps to a spectop step field (loss, chi_net, chi_coup, grad_norm_squared, …), so its models have user scalars only")
        }
        guard reading.issues.isEmpty else { return false }
        if !quiet {
            let models = log.models.count, files = log.files.count
            let unit = log.files.contains { $0.kind == .tensorboard } ? "records" : "rows"
            say("\(log.root): OK (\(log.writer) log: \(models) model\(models == 1 ? "" : "s"), \(files) file\(files == 1 ? "" : "s"), \(reading.recordCount) \(unit), \(reading.scalarCount) scalars; read as \(reading.mappedFields.isEmpty ? "user scalars only" : reading.mappedFields.joined(separator: ", ")))")
        }
        return true
    }
}
