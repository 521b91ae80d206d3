import ArgumentParser
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
        subcommands: [RunCommand.self, ReplayCommand.self, ClaimsCommand.self, PresetsCommand.self, BenchCommand.self],
        defaultSubcommand: RunCommand.self
    )

    public init() {}
}

/// Exit statuses: 0 success, 1 runtime failure, 2 usage or input error.
public enum ExitStatus {
    public static let runtimeFailure: Int32 = 1
    public static let usage: Int32 = 2
}

/// Prints `spectop: message` on stderr and exits with `status`.
public func fail(_ message: String, status: Int32 = ExitStatus.usage) -> Never {
    FileHandle.standardError.write(Data("spectop: \(message)\n".utf8))
    exit(status)
}

/// Exits with a usage error unless stdin/stdout are a terminal ncurses can
/// drive; `what` names the command, `alternative` what to use instead.
func requireTerminal(_ what: String, alternative: String) {
    if isatty(STDOUT_FILENO) == 0 || isatty(STDIN_FILENO) == 0 {
        fail("\(what) needs a terminal (stdout is not one); \(alternative)")
    }
    let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
    if term.isEmpty || term == "dumb" {
        fail("\(what) needs a capable terminal (TERM is \(term.isEmpty ? "unset" : "'dumb'")); set TERM (e.g. xterm-256color) or \(alternative)")
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
            print("\(name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(config.description)\(marker)")
        }
    }
}

/// `spectop claims FILE.jsonl`
struct ClaimsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claims",
        abstract: "Check the paper's claims on a recorded run and print a table (a report: exits 0 either way).")

    @Argument(help: "A record written by `spectop run --out FILE.jsonl` (may still be running).")
    var file: String

    func run() throws {
        let record: RunRecord
        do { record = try RunRecord.read(path: file) } catch { fail("\(error)") }
        print(ClaimsEvaluator.render(ClaimsEvaluator.evaluate(record), record: record), terminator: "")
    }
}

extension SpectopCommand {
    /// Parses and runs, mapping every usage error to one `spectop: …` line on
    /// stderr and exit status 2 (ArgumentParser's own default is 64).
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { self.exit(withError: error) }
            if code.rawValue == 64 {
                let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid usage"
                fail("\(message) (see spectop --help)")
            }
            self.exit(withError: error)
        }
    }
}
