/// Why the terminal could not be taken over.
public enum TerminalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Standard input or output is not a terminal (piped or redirected).
    case notATerminal
    /// ncurses could not start on this terminal. `sizeOverrides` holds the
    /// COLUMNS/LINES settings, which ncurses obeys over the real size: an
    /// absurd one (100000) is the usual cause once TERM has been checked.
    case cursesFailed(term: String?, sizeOverrides: String? = nil)
    /// No file descriptor was left for ncurses to read the terminfo entry
    /// (`ulimit -n`); `limit` is the soft limit.
    case tooManyOpenFiles(limit: Int)

    public var description: String {
        switch self {
        case .notATerminal:
            return "the monitor needs a terminal on standard input and output (use the headless mode when piping)"
        case .cursesFailed(_, let overrides?):
            return "cannot start the terminal UI: ncurses refused the screen size \(overrides) (unset them to use the real size) or use the headless mode"
        case .tooManyOpenFiles(let limit):
            return "cannot start the terminal UI: no file descriptor left (too many open files; ulimit -n is \(limit)); raise the limit with ulimit -n"
        case .cursesFailed(let term, nil):
            return "cannot start the terminal UI for TERM=\(term ?? "(unset)"); check TERM or use the headless mode"
        }
    }
}
