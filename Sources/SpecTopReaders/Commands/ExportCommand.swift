import ArgumentParser
import Foundation
import SpecTopRecord

/// `spectop export PATH... --csv OUT.csv`
package struct ExportCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a recorded run's metrics as CSV: one row per model and step (--wide: one row per step).",
        discussion: """
            Columns: model, step, wall, loss, chi_loss, chi_net, chi_pos, grad_sq, chi_net_estimate, chi_net_stderr, \
            and on steps with a spectrum lambda_eff, r_eff, chi_pos_exact, effective_rank (empty cells elsewhere). \
            Several files, or a directory of *.jsonl records, are exported as one experiment, models named RUN/MODEL.
            """)

    @Argument(help: "Records written by `spectop run --out FILE.jsonl` or the PyTorch probe (may still be running), or directories of them.")
    package var paths: [String]

    @Option(name: .customLong("csv"), help: ArgumentHelp("Where to write the CSV; - for stdout. An existing file needs --force.", valueName: "OUT.csv"))
    package var output: String

    @Flag(help: "One row per step and one column per model and metric (MODEL:metric).")
    package var wide = false

    @Flag(help: "Overwrite an existing OUT.csv.")
    package var force = false

    package func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record file or directory") }
    }

    package func run() throws {
        let toStdout = output == "-"
        // Check the destination before reading (a long record takes a while),
        // and never let --force replace one of the records being exported.
        let inputs = try RunRecord.recordFiles(paths)
        let destination: RecordDestination?
        do {
            destination = toStdout ? nil : try RecordDestination.check(output, overwrite: force, protected: inputs, naming: Self.naming)
        } catch let error as ConfigError {
            throw CommandFailure.usage(error.description)
        }
        let record = RunRecord.combined(try inputs.map { try RunRecord.read(path: $0) })
        for warning in record.warnings { StandardStreams.printError("warning: \(warning)") }
        // From here a stop signal removes what was written instead of leaving a cut-off CSV.
        SignalFlag.install()
        guard let destination else {
            // A terminal is shown the ids escaped; a pipe gets the data as it is.
            let escape = isatty(STDOUT_FILENO) != 0
            try CSVExport.write(record, wide: wide) { chunk in
                if let signal = SignalFlag.received { throw CommandFailure.interrupted(signal: signal, "export stopped by \(SignalFlag.name(signal))") }
                StandardStreams.writeOutput(escape ? TerminalSafeText.lines(chunk) : chunk)
            }
            return
        }
        let output = try OutputFile(destination, naming: Self.naming)
        do {
            try CSVExport.write(record, wide: wide) { chunk in
                if let signal = SignalFlag.received { throw CommandFailure.interrupted(signal: signal, "export stopped by \(SignalFlag.name(signal)); \(self.output) was not written") }
                try output.write(chunk)
            }
            try output.commit()
        } catch {
            output.discard()
            throw error
        }
        let models = CSVExport.modelIDs(record).count
        StandardStreams.writeError("spectop: wrote \(models) model\(models == 1 ? "" : "s") to \(TerminalSafeText.line(self.output))\(wide ? " (wide)" : "")\n")
    }

    package static let naming = RecordDestination.Naming(option: "--csv", noun: "the CSV", writer: "another spectop process", reader: "this export")
}
