import SpecTopBench
import SpecTopApp
import SpecTopReaders
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
        subcommands: [RunCommand.self, ReplayCommand.self, WatchCommand.self, ClaimsCommand.self, ExportCommand.self, ReportCommand.self, CheckCommand.self, RunsCommand.self, PresetsCommand.self, BenchCommand.self],
        defaultSubcommand: RunCommand.self
    )

    public init() {}
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
