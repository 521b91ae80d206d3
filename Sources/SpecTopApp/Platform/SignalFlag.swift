import Foundation
import Synchronization

/// The last termination signal received (0 = none). The handlers only store
/// into this atomic; the loops that poll it do the work (restore the
/// terminal, write the `end` line, stop the engine).
let receivedSignal = Atomic<Int32>(0)

public enum SignalFlag {
    /// Installs flag-only handlers for SIGINT, SIGTERM and SIGHUP and ignores
    /// SIGPIPE (a closed pipe becomes a write error instead of a silent death).
    public static func install() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { number in receivedSignal.store(number, ordering: .relaxed) }
        }
        signal(SIGPIPE, SIG_IGN)
    }

    /// The signal received so far, if any.
    public static var received: Int32? {
        let value = receivedSignal.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }
}
