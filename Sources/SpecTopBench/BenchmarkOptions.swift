import SpecTopApp
import SpecTopReaders
import SpectralCore

/// What `spectop bench` measures, at which sizes, and how often.
///
/// `standard` is the suite issue 6 asks for (d = 64, depth 3, batch and
/// probe 256, widths 256 and 1024, C = 1 and 10); `quick` shrinks every size
/// so the test suite can run the whole pipeline in seconds, in a debug build.
struct BenchmarkOptions: Sendable, Equatable {
    /// One exact-eNTK case: n probe samples, C outputs (kernel size nC).
    struct KernelCase: Sendable, Equatable {
        var samples: Int
        var outputs: Int
        init(samples: Int, outputs: Int) { self.samples = samples; self.outputs = outputs }
    }

    /// How the peak resident memory of the default preset is measured.
    enum MemoryRun: Sendable, Equatable {
        /// `executable run --headless --steps N` as a child process; its peak
        /// RSS from wait4's rusage. The faithful figure: a fresh process.
        case childProcess(executable: String, steps: Int)
        /// The preset in this process, with the high-water mark reset first
        /// (/proc/self/clear_refs); includes what this process already holds.
        case inProcess(steps: Int)
        case skip(reason: String)
    }

    /// Timed samples per figure (the median is reported).
    var repeats: Int
    /// Samples for the expensive eNTK cases (each is one full build + eigh).
    var kernelRepeats: Int
    /// Each timed sample lasts at least this long (short operations are
    /// repeated within a sample).
    var minimumSampleSeconds: Double
    /// SGEMM size n for the n×n×n machine limit.
    var sgemmSize: Int
    /// OpenBLAS threads for everything after the SGEMM limit: 2, the
    /// single-model case (with several models the engine runs BLAS on 1
    /// thread per worker instead).
    var threads: Int
    var inputDim: Int
    var depth: Int
    var batch: Int
    var trainWidths: [Int]
    var outputs: [Int]
    /// Width and probe size of the kernel-free LNP figures.
    var lnpWidth: Int
    var lnpProbe: Int
    var kernelWidth: Int
    var kernelCases: [KernelCase]
    var activation: Activation
    var memoryRun: MemoryRun
    /// Marks reduced sizes in the report.
    var quick: Bool

    /// The full suite.
    static func standard(repeats: Int = 5, memoryRun: MemoryRun) -> BenchmarkOptions {
        BenchmarkOptions(
            repeats: repeats, kernelRepeats: min(repeats, 3), minimumSampleSeconds: 0.1, sgemmSize: 1024, threads: 2,
            inputDim: 64, depth: 3, batch: 256, trainWidths: [256, 1024], outputs: [1, 10],
            lnpWidth: 1024, lnpProbe: 256, kernelWidth: 1024,
            kernelCases: [.init(samples: 256, outputs: 1), .init(samples: 1024, outputs: 1), .init(samples: 256, outputs: 10)],
            activation: .relu, memoryRun: memoryRun, quick: false)
    }

    /// Reduced sizes and repeats, for tests and a first look.
    static func quick(repeats: Int = 2, memoryRun: MemoryRun = .inProcess(steps: 10)) -> BenchmarkOptions {
        BenchmarkOptions(
            repeats: repeats, kernelRepeats: min(repeats, 2), minimumSampleSeconds: 0.01, sgemmSize: 256, threads: 2,
            inputDim: 64, depth: 3, batch: 64, trainWidths: [64, 128], outputs: [1, 10],
            lnpWidth: 128, lnpProbe: 64, kernelWidth: 128,
            kernelCases: [.init(samples: 64, outputs: 1), .init(samples: 64, outputs: 10)],
            activation: .relu, memoryRun: memoryRun, quick: true)
    }
}
