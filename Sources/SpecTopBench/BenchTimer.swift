import SpecTopApp
import SpecTopReaders
import Foundation

/// Wall-clock timing for the benchmarks: warm-up, then the median of several
/// samples. The median, not the mean, because on a shared machine the
/// outliers are other processes, not the code under test.
enum BenchTimer {
    /// Seconds `body` takes, once.
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Median seconds per call of `body`.
    ///
    /// Runs `warmupCalls` calls first (caches, lazily sized BLAS buffers,
    /// thread pools), then takes `repeats` samples. A sample calls `body`
    /// as many times as it takes to last about `minimumSampleSeconds`
    /// (estimated from the warm-up), so that short operations are not
    /// dominated by clock and scheduling noise.
    static func secondsPerCall(repeats: Int, warmupCalls: Int = 2, minimumSampleSeconds: Double = 0.05,
                                      _ body: () throws -> Void) rethrows -> Double {
        var warmup = 0.0
        for _ in 0..<max(1, warmupCalls) { warmup = try seconds(body) }
        let callsPerSample = warmup > 0 ? max(1, Int((minimumSampleSeconds / warmup).rounded(.up))) : 1
        var samples: [Double] = []
        for _ in 0..<max(1, repeats) {
            let elapsed = try seconds { for _ in 0..<callsPerSample { try body() } }
            samples.append(elapsed / Double(callsPerSample))
        }
        return median(samples)
    }

    /// The median (the mean of the middle two for an even count); 0 when empty.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
