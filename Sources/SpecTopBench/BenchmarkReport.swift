import SpecTopApp
import SpecTopReaders
import Foundation

/// Everything `spectop bench` measured, and its JSON form.
///
/// The JSON is one object with stable snake_case keys (see `encode(to:)`).
/// Every figure is a finite number or null; a null always comes with an
/// entry in `notes` under the same key saying why. Times are medians in
/// milliseconds.
struct BenchmarkReport: Sendable, Encodable {
    /// One training step (forward, loss, backward, SGD update) on one batch.
    struct TrainStep: Sendable, Codable, Equatable {
        var width: Int
        var depth: Int
        var inputDim: Int
        var batch: Int
        var outputs: Int
        var activation: String
        var params: Int
        var blasThreads: Int
        var ms: Double
        /// 6 · params · batch per step, over the step time.
        var gflops: Double
        /// `gflops` over the SGEMM limit at the same thread count.
        var fractionOfSGEMM: Double
        enum CodingKeys: String, CodingKey {
            case width, depth, batch, outputs, activation, params, ms, gflops
            case inputDim = "input_dim", blasThreads = "blas_threads", fractionOfSGEMM = "fraction_of_sgemm"
        }
    }

    /// One kernel-free LNP measurement (χ_loss, χ_net exactly, χ_pos).
    struct LNP: Sendable, Codable, Equatable {
        var width: Int
        var depth: Int
        var inputDim: Int
        var probe: Int
        var outputs: Int
        var ms: Double
        /// The training step of the same model on a batch of `probe` rows.
        var trainStepMs: Double
        /// `ms / train_step_ms`: the cost of measuring in training steps.
        var stepsEquivalent: Double
        enum CodingKeys: String, CodingKey {
            case width, depth, probe, outputs, ms
            case inputDim = "input_dim", trainStepMs = "train_step_ms", stepsEquivalent = "steps_equivalent"
        }
    }

    /// One exact eNTK: factor collection (LNP pass with KernelFactors), the
    /// Gram–Hadamard kernel build, and the spectrum analysis (dsyevd with
    /// vectors, mode weights, histogram).
    struct Kernel: Sendable, Codable, Equatable {
        var n: Int
        var outputs: Int
        var width: Int
        var depth: Int
        var inputDim: Int
        /// nC: the kernel is kernel_size × kernel_size.
        var kernelSize: Int
        var factorsMs: Double
        var kernelMs: Double
        var eighMs: Double
        var totalMs: Double
        enum CodingKeys: String, CodingKey {
            case n, outputs, width, depth
            case inputDim = "input_dim", kernelSize = "kernel_size", factorsMs = "factors_ms", kernelMs = "kernel_ms"
            case eighMs = "eigh_ms", totalMs = "total_ms"
        }
    }

    var spectopVersion: String
    var blasCore: String
    /// OpenBLAS threads before the bench changed them (restored afterwards).
    var blasThreadsDefault: Int
    var cpuCores: Int
    /// OpenBLAS threads for the train step, LNP and eNTK figures.
    var benchThreads: Int
    var quick: Bool
    var repeats: Int
    var sgemmSize: Int
    var sgemmGFLOPS1Thread: Double
    var sgemmGFLOPS2Threads: Double
    var trainSteps: [TrainStep]
    var lnp: [LNP]
    var kernels: [Kernel]
    /// Figures contributed by `BenchmarkPlugin`s, by JSON key; nil = not
    /// available (see `notes`). Always holds the UI keys.
    var pluginFigures: [String: Double?]
    var peakRSSMiB: Double?
    /// "child_process", "in_process" or "skipped".
    var peakRSSMethod: String
    var peakRSSSteps: Int?
    /// Why a figure is null or how to read it, by the figure's JSON key.
    var notes: [String: String]
    /// The cost curves for the human output (their numbers are plugin
    /// figures; not encoded again).
    var curves: [BenchmarkCurve] = []
    /// Key prefixes of the plugin figures the curves show: the human output
    /// lists those in the curves, not again under "Other figures".
    var curveKeyPrefixes: [String] = []

    /// The top-level JSON keys in the order they are documented. Plugin keys
    /// come on top of these.
    static let fixedKeys = [
        "spectop_version", "blas_core", "blas_threads_default", "cpu_cores", "bench_blas_threads", "quick", "repeats",
        "sgemm_size", "sgemm_gflops_1_thread", "sgemm_gflops_2_threads", "train_step", "lnp", "entk",
        "peak_rss_mib_default_preset", "peak_rss_method", "peak_rss_steps", "notes",
    ]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        // Hand-written so that a missing figure is an explicit null: the
        // synthesized encoder would drop nil optionals, and consumers rely on
        // every key being present.
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(spectopVersion, forKey: Key("spectop_version"))
        try c.encode(blasCore, forKey: Key("blas_core"))
        try c.encode(blasThreadsDefault, forKey: Key("blas_threads_default"))
        try c.encode(cpuCores, forKey: Key("cpu_cores"))
        try c.encode(benchThreads, forKey: Key("bench_blas_threads"))
        try c.encode(quick, forKey: Key("quick"))
        try c.encode(repeats, forKey: Key("repeats"))
        try c.encode(sgemmSize, forKey: Key("sgemm_size"))
        try c.encode(sgemmGFLOPS1Thread, forKey: Key("sgemm_gflops_1_thread"))
        try c.encode(sgemmGFLOPS2Threads, forKey: Key("sgemm_gflops_2_threads"))
        try c.encode(trainSteps, forKey: Key("train_step"))
        try c.encode(lnp, forKey: Key("lnp"))
        try c.encode(kernels, forKey: Key("entk"))
        for (key, value) in pluginFigures { try c.encode(value, forKey: Key(key)) }
        try c.encode(peakRSSMiB, forKey: Key("peak_rss_mib_default_preset"))
        try c.encode(peakRSSMethod, forKey: Key("peak_rss_method"))
        try c.encode(peakRSSSteps, forKey: Key("peak_rss_steps"))
        try c.encode(notes, forKey: Key("notes"))
    }

    /// Why the report cannot be written as JSON.
    struct EncodingFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// The report as one JSON object (pretty-printed, keys sorted). Fails
    /// rather than writing NaN or Inf, which are not JSON.
    func json() throws(EncodingFailure) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(self) } catch {
            throw EncodingFailure(description: "cannot encode the benchmark report as JSON: \(error)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EncodingFailure(description: "the JSON encoder produced invalid UTF-8")
        }
        return text
    }
}
