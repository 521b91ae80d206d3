import ArgumentParser
import Foundation
import SpecTopRecord

/// `spectop claims PATH...`
package struct ClaimsCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "claims",
        abstract: "Check the paper's claims on a recorded run and print a table (a report: exits 0 either way, unless --strict).",
        discussion: """
            Several files, or a directory of *.jsonl records (a sweep, one record per model), are evaluated \
            as one experiment: their models side by side, named RUN/MODEL. Each claim lists the conditions \
            it checked, with their numbers and pass/FAIL.
            """)

    @Argument(help: "Records written by `spectop run --out FILE.jsonl` or the PyTorch probe (may still be running), or directories of them.")
    package var paths: [String]

    @Flag(help: "Print one JSON object (per claim: number, title, verdict, and each condition's description, values and pass).")
    package var json = false

    @Flag(help: "Exit with status 1 when any claim fails (for CI); n/a is no failure.")
    package var strict = false

    package func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record file or directory") }
    }

    package func run() throws {
        let record = try RunRecord.readAll(paths)
        let report = ClaimsEvaluator.evaluate(record)
        if json {
            // JSON escapes every control character itself (JSONLine.quote).
            StandardStreams.writeOutput(ClaimsEvaluator.json(report, record: record))
        } else {
            // Model ids and notes come from the file: never let them drive the terminal.
            StandardStreams.writeOutput(TerminalSafeText.lines(ClaimsEvaluator.render(report, record: record)))
        }
        let failing = report.failingClaims
        if strict && !failing.isEmpty {
            let list = failing.map(String.init).joined(separator: ", ")
            throw CommandFailure.runtime("claim\(failing.count > 1 ? "s" : "") \(list) fail\(failing.count > 1 ? "" : "s") (--strict)")
        }
    }
}

extension RunRecord {
    /// Record files and directories of `*.jsonl` records as one experiment
    /// (`claims`, `export`): a directory's records in name order, hidden files skipped.
    package static func readAll(_ paths: [String]) throws -> RunRecord {
        RunRecord.combined(try recordFiles(paths).map { try RunRecord.read(path: $0) })
    }

    /// The record files `paths` name: files as given, directories as their `*.jsonl`.
    package static func recordFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let records = RunNames.recordFiles(inDirectory: path)
                if records.isEmpty { throw CommandFailure.usage("\(path): no *.jsonl records in this directory") }
                files += records
            } else {
                files.append(path)
            }
        }
        return files
    }
}
