import SpecTopReaders
import Foundation
import SpectralCore

/// Samples this process's resident memory (`/proc/self/statm`) and CPU use
/// (`getrusage`) for the monitor's header, at most twice a second: the CPU
/// figure is the CPU time used over the wall time between two samples.
final class ProcessUsageSampler: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var last: (wall: Double, cpu: Double)?
    private var current: ProcessUsage?

    func sample() -> ProcessUsage? {
        lock.lock()
        defer { lock.unlock() }
        let wall = ProcessInfo.processInfo.systemUptime
        if let last, wall - last.wall < 0.5 { return current }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        defer { last = (wall, cpu) }
        guard let previous = last, let resident = ProcessUsageSampler.residentBytes() else { return current }
        current = ProcessUsage(residentBytes: resident, cpuPercent: max(0, (cpu - previous.cpu) / (wall - previous.wall) * 100))
        return current
    }

    /// Resident set size: the second field of /proc/self/statm, in pages.
    static func residentBytes(statm: String? = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) -> Int? {
        guard let fields = statm?.split(separator: " "), fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
