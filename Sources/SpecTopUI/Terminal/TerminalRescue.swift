import CNcurses
import CTerminalRescue
import Foundation

/// Gives the terminal back even when spectop crashes: the btop habit of a
/// fatal-signal handler that leaves the alternate screen and shows the cursor
/// before the process dies. The handler itself is C (`CTerminalRescue`).
public enum TerminalRescue {
    /// Installs the crash handlers for the whole process. Call once at start.
    /// Skipped when `SWIFT_BACKTRACE` is set, so a developer who asks for the
    /// runtime's backtraces still gets them.
    public static func installCrashHandlers(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["SWIFT_BACKTRACE"] == nil else { return }
        spectop_rescue_install_crash_handlers()
    }

    /// Before curses starts: remember the terminal's modes.
    static func saveModes() {
        spectop_rescue_save_modes(STDOUT_FILENO)
    }

    /// After curses started: from now on a crash restores the terminal.
    static func arm() {
        var sequence = ""
        for capability in ["sgr0", "cnorm", "rmcup"] {
            if let value = spectop_terminfo_string(capability) { sequence += String(cString: value) }
        }
        spectop_rescue_arm(sequence, STDOUT_FILENO)
    }

    /// The terminal was restored normally.
    static func disarm() {
        spectop_rescue_disarm()
    }
}
