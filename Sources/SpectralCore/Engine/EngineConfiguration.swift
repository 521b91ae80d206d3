/// One model the engine trains.
public struct ModelPlan: Sendable, Equatable {
    /// Stable identifier, e.g. "w256-active".
    public var id: String
    public var architecture: MLPArchitecture
    public var mode: TrainingMode
    public var optimizer: OptimizerConfig
    public var batchSize: Int
    /// Steps to train.
    public var steps: Int
    /// Stream of the run seed that initialises the weights; an active and a
    /// frozen model of the same size share it, so they start identical.
    public var initStream: UInt64

    public init(id: String, architecture: MLPArchitecture, mode: TrainingMode, optimizer: OptimizerConfig,
                batchSize: Int, steps: Int, initStream: UInt64) {
        self.id = id; self.architecture = architecture; self.mode = mode; self.optimizer = optimizer
        self.batchSize = batchSize; self.steps = steps; self.initStream = initStream
    }

    /// "w256-active" style identifier.
    public static func defaultID(width: Int, depth: Int, mode: TrainingMode) -> String {
        "w\(width)-\(mode.rawValue)"
    }
}

/// Everything an `Engine` needs to run.
public struct EngineConfiguration: Sendable {
    /// The default exact limit: the kernel size (nC) below which the exact
    /// spectrum (form Θ, `dsyevd`) was faster than the matrix-free one on the
    /// development machine — `spectop bench --only spectrum_crossover_m` put the
    /// crossover at m ≈ 1,834 and 1,859 in two runs (digits-shaped model, width
    /// 256, depth 2, C = 10; medians of 3: exact 0.28–0.32 s vs matrix-free
    /// 0.54–0.61 s at m = 1,280, 2.1–2.3 s vs 1.1–1.3 s at 2,560). Before the
    /// operator's C contraction kernels it was 2,140, and 2,750–2,860 with the
    /// single-vector quadrature before that.
    /// It moves with the model (matrix-free costs ∝ n·P per product), hence the key.
    public static let defaultExactLimit = 1850
    public var models: [ModelPlan]
    public var train: Dataset
    /// The fixed probe set shared by every model (METHOD.md).
    public var probe: Dataset
    public var seed: UInt64
    /// Kernel-free LNP every this many steps.
    public var metricsEvery: Int
    /// Exact spectrum every this many steps (nil: time-based only).
    public var spectrumEvery: Int?
    /// At most one exact spectrum per model per this many seconds of wall time
    /// (0: no limit). Also adaptively capped so spectra take at most
    /// `spectrumTimeFraction` of a model's time: the eNTK never stalls training.
    public var spectrumInterval: Double
    public var spectrumTimeFraction: Double
    /// The exact spectrum up to this kernel size (nC); above it the
    /// matrix-free one (`matrixFree`), or none when that is nil.
    public var maxKernelSize: Int
    /// The matrix-free spectrum's work (top-k, quadrature); nil: off.
    public var matrixFree: MatrixFreeSettings?
    /// A model whose matrix-free spectrum would take longer than this
    /// (predicted from its size, `SpectrumPlan`) gets none, with a message.
    public var maxSpectrumSeconds: Double
    /// The double-precision GEMM rate measured on this machine
    /// (`CostEstimate.measureGFLOPS`), which that prediction divides by; nil:
    /// a conservative fixed rate (`SpectrumPlan.assumedFlopsPerSecond`).
    public var measuredGFLOPS: Double?
    public var traceEstimator: TraceEstimator
    /// Worker threads (at most the core count); 0 = automatic.
    public var workers: Int
    /// Keep every metric and spectrum as an event for a recorder to drain.
    public var recordEvents: Bool
    /// Online training: every batch is drawn fresh from this sampler
    /// (teacher data); `train` then only fixes the standardisation.
    public var onlineSampler: OnlineBatchSampler?
    /// The second batch B of the cross-batch measurement (METHOD.md,
    /// *Cross-batch spectral position*); `.off` measures the probe alone.
    public var crossBatch: CrossBatchSource = .off
    /// Log-spaced measurement windows instead of every `metricsEvery` steps (nil).
    public var logSchedule: MeasurementSchedule?

    /// The steps measured (besides the last, which always is).
    public var measurementSchedule: MeasurementSchedule { logSchedule ?? .every(metricsEvery) }

    public init(models: [ModelPlan], train: Dataset, probe: Dataset, seed: UInt64, metricsEvery: Int = 1,
                spectrumEvery: Int? = nil, spectrumInterval: Double = 0.5, spectrumTimeFraction: Double = 0.25,
                maxKernelSize: Int = EngineConfiguration.defaultExactLimit, matrixFree: MatrixFreeSettings? = MatrixFreeSettings(),
                maxSpectrumSeconds: Double = 60, traceEstimator: TraceEstimator = .exact, workers: Int = 0,
                recordEvents: Bool = false, onlineSampler: OnlineBatchSampler? = nil) {
        self.models = models; self.train = train; self.probe = probe; self.seed = seed
        self.metricsEvery = metricsEvery; self.spectrumEvery = spectrumEvery; self.spectrumInterval = spectrumInterval
        self.spectrumTimeFraction = spectrumTimeFraction; self.maxKernelSize = maxKernelSize
        self.matrixFree = matrixFree; self.maxSpectrumSeconds = maxSpectrumSeconds
        self.traceEstimator = traceEstimator; self.workers = workers; self.recordEvents = recordEvents
        self.onlineSampler = onlineSampler
    }

    public func validate() throws(ConfigurationError) {
        guard !models.isEmpty else { throw .invalid("no models to train") }
        guard metricsEvery >= 1 else { throw .invalid("metrics every must be at least 1, got \(metricsEvery)") }
        if let every = spectrumEvery, every < 1 { throw .invalid("spectrum every must be at least 1, got \(every)") }
        guard spectrumInterval >= 0, spectrumInterval.isFinite else { throw .invalid("spectrum interval must be 0 or more seconds") }
        var seen = Set<String>()
        for plan in models {
            guard seen.insert(plan.id).inserted else { throw .invalid("two models share the id '\(plan.id)'") }
            guard plan.steps >= 0 else { throw .invalid("\(plan.id): steps must be 0 or more, got \(plan.steps)") }
            try plan.architecture.validate()
            try plan.optimizer.validate()
            guard plan.batchSize >= 1 else { throw .invalid("\(plan.id): batch size must be at least 1, got \(plan.batchSize)") }
            guard plan.batchSize <= train.count else {
                throw .invalid("\(plan.id): batch size \(plan.batchSize) is larger than the training set (\(train.count) samples)")
            }
        }
        guard probe.count >= 1 else { throw .invalid("the probe set is empty") }
        guard maxKernelSize >= 0 else { throw .invalid("the exact limit must be 0 or more, got \(maxKernelSize)") }
        if let matrixFree {
            guard matrixFree.topK >= 1 else { throw .invalid("top_k must be at least 1, got \(matrixFree.topK)") }
            guard matrixFree.starts >= 2, matrixFree.steps >= 1 else { throw .invalid("the quadrature needs at least 2 starts and 1 step") }
        }
        if case .heldOut(let batch) = crossBatch {
            guard batch.count >= 1, batch.inputDim == probe.inputDim, batch.outputDim == probe.outputDim else {
                throw .invalid("the held-out cross batch must have rows shaped like the probe's")
            }
        }
        if case .hutchinson(let samples) = traceEstimator, samples < 1 {
            throw .invalid("Hutchinson samples must be at least 1, got \(samples)")
        }
    }
}

/// Where the cross-batch measurement's batch B comes from.
public enum CrossBatchSource: Sendable {
    case off
    /// A fixed batch no model trains on, drawn once like the probe.
    case heldOut(Dataset)
    /// A training batch of the model's batch size, drawn afresh at every
    /// measurement by the measurement's own generator: distributed as the next
    /// step's batch, and the training sequence stays what it is without it.
    case train
}
