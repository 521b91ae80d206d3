import SpecTopUI

/// What every spectop process does before anything else.
public enum ProcessSetup {
    public static func begin() {
        // Closed stdin/stdout/stderr get /dev/null, so no file lands on 0–2.
        StandardStreams.reserveStandardDescriptors()
        // A crash restores the terminal and prints one line instead of a
        // runtime backtrace that can wait for input on the terminal.
        TerminalRescue.installCrashHandlers()
    }
}
