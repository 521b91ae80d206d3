import Foundation

/// How a model's eNTK spectrum is computed, decided once from the sizes
/// (METHOD.md, "Past the exact limit"): exactly while the kernel is small
/// enough that forming it and `dsyevd` are faster than the matrix-free
/// path, matrix-free above (for a frozen model that path is exact too, through
/// the readout's Gram), and not at all, with the reason, when neither fits.
public enum SpectrumPlan: Sendable, Equatable {
    case exact
    case matrixFree(MatrixFreeSettings)
    /// No spectrum; `reason` is the message for the record and the model's
    /// panel (nil: no reason to give).
    case none(reason: String?)

    /// Multiply-adds ×2 of one product Θv on n probe rows: the two GEMMs per
    /// trainable layer (2·n·fan_in·fan_out each) and the two contractions
    /// over the outputs (2·nC·fan_out each).
    public static func productFlops(_ architecture: MLPArchitecture, rows n: Int, frozen: Bool) -> Double {
        let first = frozen ? architecture.depth : 0
        var flops = 0.0
        for l in first..<architecture.layerCount {
            let (fanIn, fanOut) = architecture.layerShape(l)
            flops += 4 * Double(n) * Double(fanIn) * Double(fanOut) + 4 * Double(n * architecture.outputDim) * Double(fanOut)
        }
        return flops
    }

    /// Products one matrix-free spectrum of m modes takes: the quadrature's
    /// (fixed for each m) and ARPACK's, which vary; 6k is what ARPACK took for k = 32 on the presets'
    /// kernels at tolerance 1e-10 (90–200 products; 174 on the benchmark's
    /// m = 10,240 operator), rounded up.
    public static func expectedProducts(_ settings: MatrixFreeSettings, size m: Int) -> Int {
        settings.quadratureProducts(size: m) + 6 * settings.topK
    }

    /// Double-precision rate the time check assumes for one worker when no
    /// rate was measured: well under what OpenBLAS's DGEMM reaches on one
    /// core of the development machine.
    public static let assumedFlopsPerSecond = 4e9

    /// The share of the measured DGEMM rate (a 256³ product on one thread)
    /// that the products reach: ARPACK's are single vectors, whose GEMMs are
    /// narrow and whose per-sample contractions stream the nC × fan_out deltas
    /// once per vector. `spectop bench` (spectrum_matrix_free_*) measured
    /// about half on the benchmark's m = 10,240 operator.
    public static let productEfficiency = 0.5

    /// Predicted seconds of one matrix-free spectrum of an active model on n
    /// probe rows: its products' flops at `gflops` (measured) × `productEfficiency`,
    /// or at `assumedFlopsPerSecond` when nothing was measured.
    public static func matrixFreeSeconds(_ architecture: MLPArchitecture, rows n: Int, settings: MatrixFreeSettings,
                                         gflops: Double?) -> Double {
        let rate = gflops.map { max(1e-3, $0) * 1e9 * productEfficiency } ?? assumedFlopsPerSecond
        return productFlops(architecture, rows: n, frozen: false) * Double(expectedProducts(settings, size: n * architecture.outputDim)) / rate
    }

    /// The plan for one model of `configuration`.
    public static func choose(for plan: ModelPlan, in configuration: EngineConfiguration) -> SpectrumPlan {
        guard configuration.traceEstimator == .exact else {
            return .none(reason: "trace = \"hutchinson\" skips the per-output backward passes the eNTK is built from: no spectrum for this model (trace = \"exact\" gives one)")
        }
        let m = configuration.probe.count * plan.architecture.outputDim
        if m <= configuration.maxKernelSize { return .exact }
        guard let settings = configuration.matrixFree else {
            return .none(reason: "the eNTK has m = \(m) rows, above the exact limit of \(configuration.maxKernelSize), and the matrix-free spectrum is off: no spectrum for this model")
        }
        // A frozen model's spectrum is exact at any size and cheap (the
        // readout's (fan_in+1)² Gram, `SpectrumAnalysis.analyzeReadout`): no
        // top-k or time limit applies.
        if plan.mode == .frozen { return .matrixFree(settings) }
        guard settings.topK < m else {
            return .none(reason: "top_k = \(settings.topK) must be below the eNTK's m = \(m) rows: no spectrum for this model")
        }
        let seconds = matrixFreeSeconds(plan.architecture, rows: configuration.probe.count, settings: settings,
                                        gflops: configuration.measuredGFLOPS)
        if seconds > configuration.maxSpectrumSeconds {
            return .none(reason: "a matrix-free spectrum of m = \(m) rows would take about \(secondsText(seconds)) s, over the \(secondsText(configuration.maxSpectrumSeconds)) s a spectrum may take (spectrum_max_seconds): no spectrum for this model (a smaller probe or top_k fits)")
        }
        return .matrixFree(settings)
    }

    /// Seconds as the refusal states them: whole above 10, else one decimal
    /// (2.4 against a limit of 2.0, not "2 s, over the 2 s"), two significant
    /// digits below 0.1.
    static func secondsText(_ seconds: Double) -> String {
        if seconds >= 10 { return String(Int(seconds.rounded())) }
        if seconds >= 0.1 { return String(format: "%.1f", seconds) }
        return String(format: "%.2g", seconds)
    }

    /// Doubles the matrix-free path keeps beyond the kernel factors: the
    /// operator's scratch, ARPACK's Lanczos basis and vectors (m·(3k+5)) and
    /// the quadrature's starts, block Krylov basis and products (m·(steps+2)·b,
    /// b = `blockSize`) with ĝ and Θĝ (2m): `MatrixFreeWorkspace`.
    public static func matrixFreeDoubles(_ architecture: MLPArchitecture, rows n: Int, settings: MatrixFreeSettings) -> Int {
        let m = n * architecture.outputDim
        let block = settings.blockSize(size: m)
        var widest = 1, largest = 1
        for l in 0..<architecture.layerCount {
            let (fanIn, fanOut) = architecture.layerShape(l)
            widest = max(widest, fanOut)
            largest = max(largest, (fanIn + 1) * fanOut)
        }
        let operatorScratch = n * block * widest + block * largest
        return operatorScratch + m * (3 * settings.topK + 5) + m * (settings.steps + 2) * block + 2 * m
    }
}
