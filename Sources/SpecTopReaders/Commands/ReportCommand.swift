import ArgumentParser
import Foundation
import SpecTopRecord

/// `spectop report PATH... -o report.html`
package struct ReportCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a recorded run as one self-contained HTML page: the paper's Fig. 1, curves, spectra and claims.",
        discussion: """
            One file with inline SVG and CSS, no script and nothing fetched, to mail or attach: what wrote the record and \
            its models; final loss against parameters with the power-law fit and chi_pos against compute 6*N*D; loss, \
            chi_net, chi_pos and cross-batch chi_pos per model (frozen dashed); eNTK histograms with residual weights and \
            lambda_eff at the first, middle and last spectrum; the claims table as `spectop claims` evaluates it. Several \
            records, or a directory of them, are one experiment, models named RUN/MODEL.
            """)

    @Argument(help: "Records written by `spectop run --out FILE.jsonl` or the PyTorch probe (may still be running), or directories of them.")
    package var paths: [String]

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Where to write the page; - for stdout. An existing file needs --force.", valueName: "REPORT.html"))
    package var output: String

    @Flag(help: "Overwrite an existing REPORT.html.")
    package var force = false

    package static let naming = RecordDestination.Naming(option: "-o", noun: "the report", writer: "another spectop process", reader: "this report")

    package func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record file or directory") }
        if paths.contains("") { throw ValidationError("an empty path names no record file or directory") }
    }

    package func run() throws {
        // Read exactly as `export` reads (the one loading path of replay, claims
        // and export), so whatever record sources they take, report takes. The
        // destination is checked before the records are read (a long one takes
        // a while), and --force may never replace one of them.
        let sources = try RecordSource.resolve(paths)
        let inputs = sources.flatMap(\.files)
        var destination: RecordDestination?
        if output != "-" {
            do {
                destination = try RecordDestination.check(output, overwrite: force, protected: inputs, naming: Self.naming)
            } catch let error as ConfigError {
                throw CommandFailure.usage(error.description)
            }
        }
        let record = RunRecord.combined(try sources.map { try $0.read() })
        for warning in record.warnings { StandardStreams.printError("warning: \(warning)") }
        let measured = record.models.filter { !(record.steps[$0.id] ?? []).isEmpty }.count
        guard measured > 0 else {
            let what = record.models.isEmpty ? "names no model" : "has no measurement (no step line)"
            throw CommandFailure.usage("\(record.file): the record \(what) yet; nothing to report")
        }
        SignalFlag.install()
        let page = HTMLReport(record: record).html()
        if let signal = SignalFlag.received {
            throw CommandFailure.interrupted(signal: signal, "report stopped by \(SignalFlag.name(signal)); \(output) was not written")
        }
        guard let destination else {
            StandardStreams.writeOutput(page)
            return
        }
        let file = try OutputFile(destination, naming: Self.naming)
        do {
            try file.write(page)
            if let signal = SignalFlag.received {
                throw CommandFailure.interrupted(signal: signal, "report stopped by \(SignalFlag.name(signal)); \(output) was not written")
            }
            try file.commit()
        } catch {
            file.discard()
            throw error
        }
        let kib = (page.utf8.count + 1023) / 1024
        StandardStreams.writeError("spectop: wrote the report of \(measured) model\(measured == 1 ? "" : "s") to \(TerminalSafeText.line(output)) (\(kib) KiB)\n")
    }
}
