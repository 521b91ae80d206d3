import Foundation

/// Runs work that cannot check for signals itself (loading a data set,
/// allocating models) on its own thread, while the caller's thread polls the
/// stop-signal flag, so a signal is answered within a tenth of a second.
package enum Interruptible {
    package enum Result<T> {
        case finished(T)
        case failed(any Error)
        case interrupted(Int32)
    }

    package static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> Result<T> {
        if let signal = SignalFlag.received { return .interrupted(signal) }
        let work = Work(body)
        // pthread directly, because a thread that cannot be created (a tight
        // `ulimit -v`) must be noticed: then the work runs here, unwatched.
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 1 << 22)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(work as any Runnable as AnyObject).toOpaque()
        let created = pthread_create(&thread, &attributes, { context in
            let object = Unmanaged<AnyObject>.fromOpaque(context!).takeRetainedValue()
            (object as! any Runnable).runOnce()
            return nil
        }, context)
        pthread_attr_destroy(&attributes)
        if created == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<AnyObject>.fromOpaque(context).release()
            work.runOnce()
        }
        while true {
            if work.done.wait(timeout: .now() + .milliseconds(50)) == .success { break }
            if let signal = SignalFlag.received { return .interrupted(signal) }
        }
        switch work.result! {
        case .success(let value): return .finished(value)
        case .failure(let error): return .failed(error)
        }
    }
}

private protocol Runnable: AnyObject {
    func runOnce()
}

private final class Work<T>: Runnable, @unchecked Sendable {
    // @unchecked: `result` is written by the worker before `done.signal()` and read after `done.wait`.
    var result: Swift.Result<T, any Error>?
    let done = DispatchSemaphore(value: 0)
    private let body: @Sendable () throws -> T

    init(_ body: @escaping @Sendable () throws -> T) { self.body = body }

    func runOnce() {
        result = Swift.Result { try body() }
        done.signal()
    }
}

/// Leaves the process without running exit-time destructors or flushing
/// stdio: worker threads may still be inside OpenBLAS/LAPACK, whose teardown
/// would race them, and a thread stuck in OpenBLAS can hold a stdio lock (seen
/// under `ulimit -v`: `fflush` then waited for ever). Nothing is lost: the
/// record is closed before, and spectop's own output goes out unbuffered
/// through `StandardStreams`.
package enum ProcessExit {
    package static func now(_ status: Int32) -> Never {
        _exit(status)
    }
}
