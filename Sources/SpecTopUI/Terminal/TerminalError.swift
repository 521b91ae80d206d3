/// Why the terminal could not be taken over.
public enum TerminalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Standard input or output is not a terminal (piped or redirected).
    case notATerminal
    /// ncurses could not start on this terminal (unknown TERM?).
    case cursesFailed(term: String?)

    public var description: String {
        switch self {
        case .notATerminal:
            return "the monitor needs a terminal on standard input and output (use the headless mode when piping)"
        case .cursesFailed(let term):
            return "cannot start the terminal UI for TERM=\(term ?? "(unset)"); check TERM or use the headless mode"
        }
    }
}
