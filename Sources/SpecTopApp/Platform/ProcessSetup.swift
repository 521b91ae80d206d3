import SpecTopReaders
import Glibc
import SpecTopUI

/// What every spectop process does before anything else.
public enum ProcessSetup {
    public static func begin() {
        // Closed stdin/stdout/stderr get /dev/null, so no file lands on 0–2.
        StandardStreams.reserveStandardDescriptors()
        // A crash restores the terminal and prints one line instead of a
        // runtime backtrace that can wait for input on the terminal.
        TerminalRescue.installCrashHandlers()
        // A file-size limit (`ulimit -f`) is a write error like a full disk
        // (EFBIG), reported and survived, not a death by SIGXFSZ that leaves
        // a record cut mid-line and the terminal in the monitor's modes.
        signal(SIGXFSZ, SIG_IGN)
    }
}
