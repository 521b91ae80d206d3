import SpecTopReaders
import Foundation
import SpectralCore

/// Gets OpenBLAS's fast kernels on CPUs its build does not recognise, and
/// workers that stop spinning once a BLAS call is over.
///
/// Debian's OpenBLAS 0.3.21 falls back to generic `Prescott` kernels on newer
/// Xeons (about 5x slower). `OPENBLAS_CORETYPE` fixes that, but the library
/// reads it when it loads, before `main` runs; so spectop re-executes itself
/// once with the variable set. The same start sets `OPENBLAS_THREAD_TIMEOUT`
/// (see `threadTimeout`). An explicit user setting always wins, and
/// `SPECTOP_BLAS_REEXEC` guards against loops.
public enum BLASCoreSelection {
    static let guardVariable = "SPECTOP_BLAS_REEXEC"

    /// Kernel families OpenBLAS uses when it does not know the CPU (or the
    /// CPU predates AVX).
    static let genericCores: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
        "northwood", "banias", "opteron", "barcelona", "bobcat", "unknown", "generic",
    ]

    /// The `OPENBLAS_CORETYPE` to re-execute with, or nil to keep going.
    static func coreToRequest(currentCore: String, cpuFlags: Set<String>, vendorIsAMD: Bool,
                                     environment: [String: String]) -> String? {
        if leftAsIs("OPENBLAS_CORETYPE", environment: environment) { return nil }
        guard genericCores.contains(currentCore.lowercased()) else { return nil }
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(cpuFlags.contains)
        if avx512 && !vendorIsAMD {
            if cpuFlags.contains("amx_tile") || cpuFlags.contains("avx512_fp16") { return "SapphireRapids" }
            if cpuFlags.contains("avx512_bf16") { return "Cooperlake" }
            return "SkylakeX"
        }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return vendorIsAMD ? "Zen" : "Haswell" }
        if cpuFlags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// log2 of the cycles an idle OpenBLAS worker spins (calling sched_yield)
    /// before it sleeps; OpenBLAS's default is 28, about 0.1 s. The
    /// matrix-free spectrum alternates GEMMs with per-sample loops that spread
    /// over the same cores, and a worker still spinning from the last GEMM
    /// takes half a core from them: 2^20 cycles (about 0.3 ms) keeps it awake
    /// between back-to-back GEMMs and asleep during the loops (the m = 10,240
    /// matrix-free bench figure: median 4.29 s against 4.83 s, ratio 0.87
    /// over 7 alternating pairs, 0.79–1.02; the training steps unchanged).
    /// Waking a sleeping worker costs a few microseconds per GEMM that follows a pause.
    static let threadTimeout = "20"

    /// The `OPENBLAS_THREAD_TIMEOUT` to re-execute with, or nil to keep going.
    static func threadTimeoutToRequest(environment: [String: String]) -> String? {
        leftAsIs("OPENBLAS_THREAD_TIMEOUT", environment: environment) ? nil : threadTimeout
    }

    /// True when `variable` is the user's to keep (set, and not empty) or this
    /// process is already the re-executed one.
    private static func leftAsIs(_ variable: String, environment: [String: String]) -> Bool {
        if let explicit = environment[variable], !explicit.isEmpty { return true }
        return environment[guardVariable] != nil
    }

    /// CPU feature flags and vendor from /proc/cpuinfo (the kernel's cpuid view).
    static func cpuFeatures(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> (flags: Set<String>, amd: Bool) {
        guard let text = cpuinfo else { return ([], false) }
        var flags: Set<String> = []
        var amd = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("vendor_id") { amd = line.contains("AuthenticAMD") }
            if line.hasPrefix("flags") {
                flags = Set(line.split(separator: ":", maxSplits: 1).last?.split(separator: " ").map(String.init) ?? [])
                break
            }
        }
        return (flags, amd)
    }

    /// Re-executes the current binary with a better `OPENBLAS_CORETYPE` and
    /// `OPENBLAS_THREAD_TIMEOUT` when either helps; returns only if neither
    /// does (or if exec fails).
    public static func reexecIfNeeded(arguments: [String] = CommandLine.arguments) {
        let env = ProcessInfo.processInfo.environment
        let (flags, amd) = cpuFeatures()
        let core = coreToRequest(currentCore: BLASRuntime.coreName, cpuFlags: flags, vendorIsAMD: amd, environment: env)
        let timeout = threadTimeoutToRequest(environment: env)
        guard core != nil || timeout != nil else { return }
        if let core { setenv("OPENBLAS_CORETYPE", core, 1) }
        if let timeout { setenv("OPENBLAS_THREAD_TIMEOUT", timeout, 1) }
        setenv(guardVariable, BLASRuntime.coreName, 1)
        let cArgs = arguments.map { strdup($0) } + [nil]
        // The resolved path, not /proc/self/exe itself: the kernel names the
        // process after the file exec'd, and `ps`, `top` and `pkill spectop`
        // would otherwise see "exe".
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
        execv(executable, cArgs)
        // exec failed: carry on as loaded rather than not at all.
        if core != nil { unsetenv("OPENBLAS_CORETYPE") }
        if timeout != nil { unsetenv("OPENBLAS_THREAD_TIMEOUT") }
        unsetenv(guardVariable)
    }
}
