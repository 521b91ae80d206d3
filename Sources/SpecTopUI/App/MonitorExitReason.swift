import Foundation

/// Why `Monitor.run()` returned, so the caller can record it.
public enum MonitorExitReason: Sendable, Equatable, CustomStringConvertible {
    /// The user pressed a quit key (q, or Ctrl-C when it arrives as a key).
    case quitKey
    /// A signal (SIGINT, SIGTERM or SIGHUP) asked the monitor to stop.
    case signal(Int32)

    public var description: String {
        switch self {
        case .quitKey: return "quit key"
        case .signal(let number):
            switch number {
            case SIGINT: return "SIGINT"
            case SIGTERM: return "SIGTERM"
            case SIGHUP: return "SIGHUP"
            default: return "signal \(number)"
            }
        }
    }
}
