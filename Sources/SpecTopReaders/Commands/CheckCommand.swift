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
            the header does not list) are printed too but fail nothing. Directories are checked as their *.jsonl files.
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
        for file in try RunRecord.recordFiles(paths) {
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
}
