import Foundation
import Synchronization

/// The last stop signal received; 0 for none. A signal handler may only touch
/// lock-free atomics, so it records the signal here and the loop acts on it.
private let pendingStopSignal = Atomic<Int32>(0)
/// Set by SIGCONT: the process was resumed after Ctrl-Z and the screen must be repainted.
private let pendingResume = Atomic<Bool>(false)

/// Installs handlers for the stop signals (`stopSignals`) that only record
/// the signal, and for SIGCONT that only notes the resume; the monitor loop
/// polls them each tick. SIGTSTP stays with ncurses, which suspends and restores the
/// terminal itself. Install before curses starts, so ncurses keeps its hands
/// off these signals.
public final class SignalWatcher {
    /// Every signal whose default action would end the process without
    /// restoring the terminal: each ends spectop the orderly way instead
    /// (terminal restored, record closed, exit status 128 + signal).
    public static let stopSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM]
    private var previousHandlers: [(Int32, sighandler_t?)] = []

    init() {
        pendingStopSignal.store(0, ordering: .relaxed)
        pendingResume.store(false, ordering: .relaxed)
        for number in SignalWatcher.stopSignals {
            previousHandlers.append((number, signal(number) { received in
                pendingStopSignal.store(received, ordering: .relaxed)
            }))
        }
        previousHandlers.append((SIGCONT, signal(SIGCONT) { _ in
            pendingResume.store(true, ordering: .relaxed)
        }))
    }

    /// The stop signal received, if any (stays set).
    var stopSignal: Int32? {
        let value = pendingStopSignal.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    /// True once after each resume from a suspension.
    func takeResume() -> Bool {
        pendingResume.exchange(false, ordering: .relaxed)
    }

    /// Puts the previous handlers back.
    func restore() {
        for (number, handler) in previousHandlers.reversed() { signal(number, handler) }
        previousHandlers.removeAll()
    }

    deinit { restore() }
}
