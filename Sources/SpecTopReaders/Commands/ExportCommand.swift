import ArgumentParser
import Foundation
import SpecTopRecord

/// `spectop export PATH... --csv OUT.csv [--spectra SPECTRA.csv]`
package struct ExportCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a recorded run's metrics as CSV (one row per model and step; --wide: one row per step), and its spectra.",
        discussion: """
            --csv columns: model, step, wall, loss, chi_loss, chi_net, chi_pos, grad_sq, chi_net_estimate, chi_net_stderr, \
            on steps with a spectrum lambda_eff, r_eff, chi_pos_exact, effective_rank, then rows and the normalised factors \
            and the cross-batch fields where recorded (empty cells elsewhere). \
            --spectra: one row per model, step and histogram bin (kind bin: log10 edges, count, its uncertainty, residual \
            weight, marker on lambda_eff's bin), the near-zero bin (kind near_zero) and listed eigenvalue (kind mode: \
            lambda_k and its mode weight), each with the spectrum's method, m, lambda_eff, r_eff and rest weight \
            (docs/USAGE.md). Several files, or a directory of *.jsonl records, are exported as one experiment, models named RUN/MODEL.
            """)

    @Argument(help: "Records written by `spectop run --out FILE.jsonl` or the PyTorch probe (may still be running), or directories of them.")
    package var paths: [String]

    @Option(name: .customLong("csv"), help: ArgumentHelp("Where to write the metrics CSV; - for stdout. An existing file needs --force.", valueName: "OUT.csv"))
    package var output: String?

    @Option(name: .customLong("spectra"), help: ArgumentHelp("Where to write the spectra CSV (histogram bins and top eigenvalues); - for stdout. An existing file needs --force.", valueName: "SPECTRA.csv"))
    package var spectraOutput: String?

    @Flag(help: "One row per step and one column per model and metric (MODEL:metric).")
    package var wide = false

    @Flag(help: "Overwrite an existing OUT.csv.")
    package var force = false

    package func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record file or directory") }
        if output == nil && spectraOutput == nil { throw ValidationError("say what to write: --csv OUT.csv (the metrics), --spectra SPECTRA.csv (the spectra), or both") }
        if output == "-" && spectraOutput == "-" { throw ValidationError("only one of --csv and --spectra can go to stdout (-)") }
        if let output, let spectraOutput, output != "-", output == spectraOutput { throw ValidationError("--csv and --spectra name the same file, \(output)") }
    }

    package func run() throws {
        // Check the destinations before reading (a long record takes a while),
        // and never let --force replace one of the records being exported.
        let inputs = try RunRecord.recordFiles(paths)
        var destinations: [(path: String, destination: RecordDestination?, naming: RecordDestination.Naming)] = []
        for (path, naming) in [(output, Self.naming), (spectraOutput, Self.spectraNaming)] {
            guard let path else { continue }
            do {
                destinations.append((path, path == "-" ? nil : try RecordDestination.check(path, overwrite: force, protected: inputs, naming: naming), naming))
            } catch let error as ConfigError {
                throw CommandFailure.usage(error.description)
            }
        }
        let record = RunRecord.combined(try inputs.map { try RunRecord.read(path: $0) })
        for warning in record.warnings { StandardStreams.printError("warning: \(warning)") }
        // From here a stop signal removes what was written instead of leaving a cut-off CSV.
        SignalFlag.install()
        for (path, destination, naming) in destinations {
            let spectra = naming.option == "--spectra"
            let write = { (emit: (String) throws -> Void) throws in
                if spectra { try SpectraExport.write(record, emit: emit) } else { try CSVExport.write(record, wide: self.wide, emit: emit) }
            }
            guard let destination else {
                // A terminal is shown the ids escaped; a pipe gets the data as it is.
                let escape = isatty(STDOUT_FILENO) != 0
                try write { chunk in
                    if let signal = SignalFlag.received { throw CommandFailure.interrupted(signal: signal, "export stopped by \(SignalFlag.name(signal))") }
                    StandardStreams.writeOutput(escape ? TerminalSafeText.lines(chunk) : chunk)
                }
                continue
            }
            let file = try OutputFile(destination, naming: naming)
            do {
                try write { chunk in
                    if let signal = SignalFlag.received { throw CommandFailure.interrupted(signal: signal, "export stopped by \(SignalFlag.name(signal)); \(path) was not written") }
                    try file.write(chunk)
                }
                try file.commit()
            } catch {
                file.discard()
                throw error
            }
            if spectra {
                let count = SpectraExport.count(record)
                StandardStreams.writeError("spectop: wrote \(count) spectr\(count == 1 ? "um" : "a") to \(TerminalSafeText.line(path))\n")
            } else {
                let models = CSVExport.modelIDs(record).count
                StandardStreams.writeError("spectop: wrote \(models) model\(models == 1 ? "" : "s") to \(TerminalSafeText.line(path))\(wide ? " (wide)" : "")\n")
            }
        }
    }

    package static let naming = RecordDestination.Naming(option: "--csv", noun: "the CSV", writer: "another spectop process", reader: "this export")
    package static let spectraNaming = RecordDestination.Naming(option: "--spectra", noun: "the spectra CSV", writer: "another spectop process", reader: "this export")
}
