import ArgumentParser
import CNcurses
import Foundation

/// Exit statuses: 0 success, 1 runtime failure, 2 usage or input error,
/// 128 + N after stop signal N.
package enum ExitStatus {
    package static let runtimeFailure: Int32 = 1
    package static let usage: Int32 = 2
}

/// Why a command failed, and so with which status it exits. Commands throw
/// these (or any error, which counts as a usage or input error); `runMain` is
/// the one place that prints them and picks the status.
package enum CommandFailure: Error, CustomStringConvertible {
    /// A bad flag, file, value or environment: status 2.
    case usage(String)
    /// Something failed while running (a write, the terminal): status 1.
    case runtime(String)
    /// A stop signal ended the command before it could finish: 128 + signal.
    case interrupted(signal: Int32, String)

    package var description: String {
        switch self {
        case .usage(let message), .runtime(let message), .interrupted(_, let message): return message
        }
    }

    package var status: Int32 {
        switch self {
        case .usage: return ExitStatus.usage
        case .runtime: return ExitStatus.runtimeFailure
        case .interrupted(let signal, _): return SignalFlag.exitStatus(signal)
        }
    }

    /// `error` as a command failure: a stop signal keeps its status, anything
    /// else not already classified is an input error.
    package static func from(_ error: any Error) -> CommandFailure {
        if let failure = error as? CommandFailure { return failure }
        if let stop = error as? StopSignalReceived { return .interrupted(signal: stop.signal, "\(stop)") }
        return .usage("\(error)")
    }
}

/// Exits with a usage error unless stdin/stdout are a terminal ncurses can
/// drive; `what` names the command, `alternative` what to use instead.
package func requireTerminal(_ what: String, alternative: String) throws {
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
