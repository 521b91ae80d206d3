import Foundation
import SpecTopUI
import Synchronization

/// The last stop signal received (0 = none). The handlers only store into
/// this atomic; the loops that poll it do the work (restore the terminal,
/// write the `end` line, stop the engine).
package let receivedSignal = Atomic<Int32>(0)

package enum SignalFlag {
    /// Installs flag-only handlers for every stop signal (INT, TERM, HUP,
    /// QUIT, USR1, USR2, ALRM: the monitor's list) and ignores SIGPIPE, so a
    /// closed pipe becomes a write error instead of a silent death. Called
    /// first thing, before any preparation, so a signal while data loads is
    /// seen too.
    package static func install() {
        for sig in SignalWatcher.stopSignals {
            signal(sig) { number in receivedSignal.store(number, ordering: .relaxed) }
        }
        signal(SIGPIPE, SIG_IGN)
    }

    /// The signal received so far, if any.
    package static var received: Int32? {
        let value = receivedSignal.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    package static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        case SIGQUIT: return "SIGQUIT"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        case SIGALRM: return "SIGALRM"
        default: return "signal \(signal)"
        }
    }

    /// The shell's convention for a process ended by `signal`: 128 + its number
    /// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 131 for SIGQUIT).
    package static func exitStatus(_ signal: Int32) -> Int32 { 128 + signal }
}
