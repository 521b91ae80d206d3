import SpecTopReaders
import Foundation
import SpectralCore

/// Compares what a run will allocate with what the machine can give it, so a
/// configuration that cannot fit is refused up front ("needs X GiB, Y
/// available", exit 2) instead of allocating for seconds and then dying.
enum MemoryBudget {
    /// What the process needs beyond the estimate: the Swift runtime, OpenBLAS
    /// and its per-thread buffers, thread stacks. Measured on this program:
    /// a tiny run peaks at about 40 MiB resident.
    static let baseline = 96 << 20

    /// Bytes available to this process now: the smaller of the kernel's
    /// MemAvailable and what the address-space limit (`ulimit -v`) leaves.
    static func available() -> Int? {
        var limits: [Int] = []
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let kilobytes = field("MemAvailable:", in: text) {
            limits.append(kilobytes * 1024)
        }
        if let headroom = addressSpaceHeadroom() { limits.append(headroom) }
        return limits.min()
    }

    /// Address space each thread that calls OpenBLAS maps for its buffer:
    /// Debian's build mallocs 128 MiB per thread on first use and, when that
    /// fails under `ulimit -v`, retries for ever (the process spins at 100 %).
    static let blasBufferBytes = (128 << 20) + 4096

    /// What `ulimit -v` leaves this process, nil when there is no limit.
    static func addressSpaceHeadroom() -> Int? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        let used = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)).flatMap { field("VmSize:", in: $0) } ?? 0
        return max(0, Int(clamping: limit.rlim_cur) - used * 1024)
    }

    /// Before anything calls BLAS: under an address-space limit too small for
    /// the BLAS buffers of `threads` threads (plus thread stacks), refuse with
    /// the numbers instead of spinning; when it fits only with one OpenBLAS
    /// thread, use one.
    static func checkAddressSpace(threads: Int) throws {
        guard let headroom = addressSpaceHeadroom() else { return }
        let stacks = threads * (8 << 20)
        let needed = threads * blasBufferBytes + stacks + baseline
        if headroom < needed {
            throw ConfigError("the address-space limit (ulimit -v) leaves spectop \(describe(headroom)); a run with \(threads) threads needs at least \(describe(needed)) (OpenBLAS maps 128 MiB per thread); raise the limit or use --threads 1")
        }
        // OpenBLAS's own helper threads would each need a buffer as well.
        BLASRuntime.setThreadCount(1)
    }

    /// Throws when `estimate` plus the baseline exceeds what is available.
    static func check(_ estimate: MemoryEstimate, available: Int? = MemoryBudget.available()) throws {
        guard let available else { return }
        let needed = estimate.total > Int.max - baseline ? Int.max : estimate.total + baseline
        guard needed > available else { return }
        let described = describe(needed)
        let amount = described.hasPrefix("more than") ? described : "about " + described
        throw ConfigError("this run needs \(amount) of memory (\(breakdown(estimate))), "
                          + "only \(describe(available)) is available; use fewer or smaller models, a smaller probe or batch, or more memory")
    }

    /// The estimate as a line for `--print-config`.
    static func summary(_ estimate: MemoryEstimate) -> String {
        "estimated memory: \(describe(estimate.total > Int.max - baseline ? Int.max : estimate.total + baseline)) (\(breakdown(estimate)))"
    }

    static func breakdown(_ estimate: MemoryEstimate) -> String {
        "models \(describe(estimate.models)), spectra \(describe(estimate.spectra)), data \(describe(estimate.data)), "
            + "runtime and OpenBLAS \(describe(baseline))"
    }

    /// `512 MiB`, `17.2 GiB`; "more than 1000 TiB" for saturated estimates.
    static func describe(_ bytes: Int) -> String {
        let value = Double(bytes)
        let mebibytes = (value / Double(1 << 20)).rounded(.up)
        if value >= 1e3 * 1_099_511_627_776 { return "more than 1000 TiB" }
        if value >= 1_099_511_627_776 { return String(format: "%.1f TiB", value / 1_099_511_627_776) }
        if value >= Double(1 << 30) { return String(format: "%.1f GiB", value / Double(1 << 30)) }
        return "\(max(1, Int(mebibytes))) MiB"
    }

    private static func field(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.dropFirst(name.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }
}
