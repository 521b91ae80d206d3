import ArgumentParser
import CNcurses
import Foundation
import SpectralCore

/// `spectop`: the monitor on the default preset, and its subcommands.
public struct SpectopCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "spectop",
        abstract: "Watch neural networks learn from the inside: live LNP metrics and eNTK spectra.",
        discussion: """
            Trains several MLPs of different sizes side by side, each active (all layers learn) and \
            frozen (only the readout learns), and shows live their loss, network scale chi_net, \
            spectral position chi_pos and eNTK eigenvalue histograms. See README.md.
            """,
        version: SpecTopVersion.string,
        subcommands: [RunCommand.self, ReplayCommand.self, WatchCommand.self, ClaimsCommand.self, ExportCommand.self, CheckCommand.self, PresetsCommand.self, BenchCommand.self],
        defaultSubcommand: RunCommand.self
    )

    public init() {}
}

/// Exit statuses: 0 success, 1 runtime failure, 2 usage or input error,
/// 128 + N after stop signal N.
enum ExitStatus {
    static let runtimeFailure: Int32 = 1
    static let usage: Int32 = 2
}

/// Why a command failed, and so with which status it exits. Commands throw
/// these (or any error, which counts as a usage or input error); `runMain` is
/// the one place that prints them and picks the status.
enum CommandFailure: Error, CustomStringConvertible {
    /// A bad flag, file, value or environment: status 2.
    case usage(String)
    /// Something failed while running (a write, the terminal): status 1.
    case runtime(String)
    /// A stop signal ended the command before it could finish: 128 + signal.
    case interrupted(signal: Int32, String)

    var description: String {
        switch self {
        case .usage(let message), .runtime(let message), .interrupted(_, let message): return message
        }
    }

    var status: Int32 {
        switch self {
        case .usage: return ExitStatus.usage
        case .runtime: return ExitStatus.runtimeFailure
        case .interrupted(let signal, _): return SignalFlag.exitStatus(signal)
        }
    }

    /// `error` as a command failure: a stop signal keeps its status, anything
    /// else not already classified is an input error.
    static func from(_ error: any Error) -> CommandFailure {
        if let failure = error as? CommandFailure { return failure }
        if let stop = error as? StopSignalReceived { return .interrupted(signal: stop.signal, "\(stop)") }
        return .usage("\(error)")
    }
}

/// Exits with a usage error unless stdin/stdout are a terminal ncurses can
/// drive; `what` names the command, `alternative` what to use instead.
func requireTerminal(_ what: String, alternative: String) throws {
    let notTerminals = [("stdin", STDIN_FILENO), ("stdout", STDOUT_FILENO)].filter { isatty($0.1) == 0 }.map(\.0)
    if !notTerminals.isEmpty {
        let which = notTerminals.joined(separator: " and ")
        throw CommandFailure.usage("\(what) needs a terminal (\(which) \(notTerminals.count > 1 ? "are not terminals" : "is not one")); \(alternative)")
    }
    let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
    if term.isEmpty || term == "dumb" {
        throw CommandFailure.usage("\(what) needs a capable terminal (TERM is \(term.isEmpty ? "unset" : "'dumb'")); set TERM (e.g. xterm-256color) or \(alternative)")
    }
    switch spectop_terminfo_knows(term) {
    case 1: break
    case -1: throw CommandFailure.usage("\(what) cannot find the terminfo database (for TERM '\(term)'); install ncurses-base or \(alternative)")
    default: throw CommandFailure.usage("\(what) does not know the terminal type '\(term)' (not in terminfo); set TERM (e.g. xterm-256color) or \(alternative)")
    }
}

/// `spectop presets`
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets", abstract: "List the built-in presets with a one-line description each.")

    func run() throws {
        for name in Presets.names {
            let config = try ConfigParser.parse(Presets.text(name)!, file: "preset \(name)")
            let marker = name == Presets.defaultName ? " (default)" : ""
            StandardStreams.writeOutput("\(name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(config.description)\(marker)\n")
        }
    }
}

/// `spectop claims PATH...`
struct ClaimsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claims",
        abstract: "Check the paper's claims on a recorded run and print a table (a report: exits 0 either way, unless --strict).",
        discussion: """
            Several files, or a directory of *.jsonl records (a sweep, one record per model), are evaluated \
            as one experiment: their models side by side, named RUN/MODEL. Each claim lists the conditions \
            it checked, with their numbers and pass/FAIL.
            """)

    @Argument(help: "Records written by `spectop run --out FILE.jsonl` or the PyTorch probe (may still be running), or directories of them.")
    var paths: [String]

    @Flag(help: "Print one JSON object (per claim: number, title, verdict, and each condition's description, values and pass).")
    var json = false

    @Flag(help: "Exit with status 1 when any claim fails (for CI); n/a is no failure.")
    var strict = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record file or directory") }
    }

    func run() throws {
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
    static func readAll(_ paths: [String]) throws -> RunRecord {
        RunRecord.combined(try recordFiles(paths).map { try RunRecord.read(path: $0) })
    }

    /// The record files `paths` name: files as given, directories as their `*.jsonl`.
    static func recordFiles(_ paths: [String]) throws -> [String] {
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

extension SpectopCommand {
    /// `--steps -1` as `--steps=-1`: the parser would take `-1` for a flag and
    /// say "Missing value"; joined, the option's own range check answers.
    static func joiningNegativeValues(_ arguments: [String]) -> [String] {
        var joined: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--"), argument.count > 2, !argument.contains("="), index + 1 < arguments.count,
               let next = arguments[index + 1].first, next == "-", arguments[index + 1].dropFirst().first.map({ $0.isNumber || $0 == "." }) == true {
                joined.append(argument + "=" + arguments[index + 1])
                index += 2
                continue
            }
            joined.append(argument)
            index += 1
        }
        return joined
    }

    /// Parses and runs, mapping every usage error to one `spectop: …` line on
    /// stderr and exit status 2 (ArgumentParser's own default is 64).
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        var command: ParsableCommand
        do {
            command = try parseAsRoot(joiningNegativeValues(arguments ?? Array(CommandLine.arguments.dropFirst())))
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { leave(withError: error) }
            if code.rawValue == 64 {
                let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid usage"
                report(.usage("\(message) (see spectop --help)"))
            }
            leave(withError: error)
        }
        do {
            try command.run()
        } catch {
            // `--help` and `help` arrive as a clean exit thrown by the parser's own command.
            if exitCode(for: error) == .success { leave(withError: error) }
            report(CommandFailure.from(error))
        }
        if let failure = StandardStreams.outputFailure { report(.runtime(failure)) }
        ProcessExit.now(0)
    }

    /// The one place a failure becomes a message and an exit status.
    static func report(_ failure: CommandFailure) -> Never {
        StandardStreams.printError(failure.description)
        ProcessExit.now(failure.status)
    }

    /// ArgumentParser's own exits (`--help`, `--version`, its usage errors),
    /// printed as it would print them but left through `ProcessExit`: its
    /// `exit(withError:)` runs `exit()`, whose OpenBLAS teardown never returns
    /// under a tight `ulimit -v`.
    static func leave(withError error: any Error) -> Never {
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if !message.isEmpty {
            if code == .success { StandardStreams.writeOutput(message + "\n") } else { StandardStreams.writeError(message + "\n") }
        }
        ProcessExit.now(code.rawValue)
    }
}
