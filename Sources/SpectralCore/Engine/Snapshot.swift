/// What the engine publishes. The UI, the recorder and the headless printer
/// read only these value types; they never touch a model.

/// Whether a model's hidden layers learn.
public enum TrainingMode: String, Sendable, CaseIterable, Codable {
    /// Every layer trains: feature learning is possible.
    case active
    /// Hidden layers keep their initial weights; only the readout trains.
    case frozen
}

/// One kernel-free LNP measurement on the probe set (METHOD.md).
public struct MetricSample: Sendable, Equatable {
    public var step: Int
    /// Probe-set loss L.
    public var loss: Double
    /// χ_loss = ‖g‖².
    public var chiLoss: Double
    /// χ_net = Tr Θ.
    public var chiNet: Double
    /// χ_pos = gᵀΘg / (‖g‖² Tr Θ); nil where undefined (‖g‖ = 0 or Tr Θ = 0).
    public var chiPos: Double?
    /// gᵀΘg = ‖∇_θ L‖² on the probe set.
    public var gradSq: Double
    /// Seconds since the engine started.
    public var wall: Double
    /// True when χ_net is a Hutchinson estimate rather than exact.
    public var traceIsEstimate: Bool
    /// Tr Θ_l per layer (readout last; 0 for frozen layers). Sums to `chiNet`.
    public var layerChiNet: [Double]
    /// gᵀΘ_l g per layer. Sums to `gradSq`.
    public var layerGradSq: [Double]

    public init(step: Int, loss: Double, chiLoss: Double, chiNet: Double, chiPos: Double?, gradSq: Double, wall: Double,
                traceIsEstimate: Bool = false, layerChiNet: [Double] = [], layerGradSq: [Double] = []) {
        self.step = step; self.loss = loss; self.chiLoss = chiLoss; self.chiNet = chiNet
        self.chiPos = chiPos; self.gradSq = gradSq; self.wall = wall; self.traceIsEstimate = traceIsEstimate
        self.layerChiNet = layerChiNet; self.layerGradSq = layerGradSq
    }

    /// Each layer's share of χ_net and of the gradient, from the per-layer parts.
    public var layerShares: [LayerShare] {
        LayerShare.shares(chiNet: layerChiNet, gradSq: layerGradSq, totalChiNet: chiNet, totalGradSq: gradSq)
    }
}

/// One layer's part of the eNTK: Θ = Σ_l Θ_l over parameter groups.
public struct LayerShare: Sendable, Equatable {
    /// 0-based layer index; the last one is the readout.
    public var layer: Int
    /// Tr Θ_l / Tr Θ.
    public var chiNetShare: Double
    /// gᵀΘ_l g / gᵀΘg = ‖∇_{θ_l} L‖² / ‖∇_θ L‖².
    public var gradientShare: Double
    /// Tr Θ_l (absolute).
    public var chiNet: Double
    /// gᵀΘ_l g (absolute).
    public var gradSq: Double

    public init(layer: Int, chiNetShare: Double, gradientShare: Double, chiNet: Double, gradSq: Double) {
        self.layer = layer; self.chiNetShare = chiNetShare; self.gradientShare = gradientShare
        self.chiNet = chiNet; self.gradSq = gradSq
    }

    /// Shares from per-layer Tr Θ_l and gᵀΘ_l g (empty if the lists differ in length).
    public static func shares(chiNet: [Double], gradSq: [Double], totalChiNet: Double, totalGradSq: Double) -> [LayerShare] {
        guard chiNet.count == gradSq.count else { return [] }
        return chiNet.indices.map { l in
            LayerShare(layer: l, chiNetShare: totalChiNet > 0 ? chiNet[l] / totalChiNet : 0,
                       gradientShare: totalGradSq > 0 ? gradSq[l] / totalGradSq : 0,
                       chiNet: chiNet[l], gradSq: gradSq[l])
        }
    }
}

/// Log10-spaced eigenvalue histogram with the residual weight per bin.
public struct SpectrumHistogram: Sendable, Equatable {
    /// log10 of the bin edges, ascending; `counts.count + 1` values.
    public var log10Edges: [Double]
    /// Eigenvalues per bin (ascending eigenvalue order).
    public var counts: [Int]
    /// Σ w_k of the eigenvalues in each bin.
    public var residualWeights: [Double]
    /// Eigenvalues below 1e-12·λ_1 (including round-off negatives).
    public var nearZeroCount: Int
    public var nearZeroWeight: Double
    /// Bin holding λ_eff, nil if λ_eff is undefined or in the ≈0 bin.
    public var markerBin: Int?

    public init(log10Edges: [Double], counts: [Int], residualWeights: [Double], nearZeroCount: Int, nearZeroWeight: Double, markerBin: Int?) {
        self.log10Edges = log10Edges; self.counts = counts; self.residualWeights = residualWeights
        self.nearZeroCount = nearZeroCount; self.nearZeroWeight = nearZeroWeight; self.markerBin = markerBin
    }
}

/// The exact eNTK spectrum at one step (METHOD.md, "Computing the exact eNTK").
public struct SpectrumSample: Sendable, Equatable {
    public var step: Int
    /// λ_1 ≥ … ≥ λ_m ≥ 0 (round-off negatives clamped to 0).
    public var eigenvalues: [Double]
    /// Mode weights w_k = (v_k·ĝ)², summing to 1; empty when ĝ is undefined.
    public var weights: [Double]
    /// Σ w_k λ_k / Σ λ_k; nil where undefined.
    public var chiPosExact: Double?
    /// ĝᵀΘĝ; nil where undefined.
    public var lambdaEff: Double?
    /// #{k : λ_k ≥ λ_eff} / m; nil where undefined.
    public var rEff: Double?
    /// exp(entropy of λ/TrΘ).
    public var effectiveRank: Double
    public var histogram: SpectrumHistogram

    public init(step: Int, eigenvalues: [Double], weights: [Double], chiPosExact: Double?, lambdaEff: Double?, rEff: Double?, effectiveRank: Double, histogram: SpectrumHistogram) {
        self.step = step; self.eigenvalues = eigenvalues; self.weights = weights; self.chiPosExact = chiPosExact
        self.lambdaEff = lambdaEff; self.rEff = rEff; self.effectiveRank = effectiveRank; self.histogram = histogram
    }
}

/// Downsampled metric history for plotting: at most `capacity` points; when
/// full, every other point is dropped and the stride doubles, so the whole run
/// stays visible at bounded memory and copy cost.
public struct MetricHistory: Sendable, Equatable {
    public private(set) var steps: [Int] = []
    public private(set) var loss: [Double] = []
    public private(set) var chiNet: [Double] = []
    /// NaN where χ_pos was undefined (drawn as a gap, never as zero).
    public private(set) var chiPos: [Double] = []
    public private(set) var stride: Int = 1
    public let capacity: Int
    private var pending = 0

    public init(capacity: Int = 1024) {
        precondition(capacity >= 2)
        self.capacity = capacity
    }

    public var count: Int { steps.count }

    public mutating func append(_ sample: MetricSample) {
        pending += 1
        guard pending >= stride else { return }
        pending = 0
        steps.append(sample.step)
        loss.append(sample.loss)
        chiNet.append(sample.chiNet)
        chiPos.append(sample.chiPos ?? .nan)
        if steps.count >= capacity { decimate() }
    }

    private mutating func decimate() {
        func keepEven<T>(_ a: [T]) -> [T] { Swift.stride(from: 0, to: a.count, by: 2).map { a[$0] } }
        steps = keepEven(steps); loss = keepEven(loss); chiNet = keepEven(chiNet); chiPos = keepEven(chiPos)
        stride *= 2
    }
}

/// A model's state as the UI sees it.
public enum ModelStatus: String, Sendable, Equatable {
    case training
    case finished
    /// Loss became NaN or Inf; this model stopped, the others go on.
    case diverged
}

/// Everything the UI needs to draw one model.
public struct ModelSnapshot: Sendable, Equatable {
    public var id: String
    public var width: Int
    public var depth: Int
    /// Mode it started in.
    public var mode: TrainingMode
    /// True once the hidden layers are frozen (from the start, or live via `F`).
    public var featuresFrozen: Bool
    public var parameterCount: Int
    /// Trainable parameter count right now.
    public var trainableParameterCount: Int
    public var step: Int
    public var stepBudget: Int
    public var status: ModelStatus
    /// Latest training-batch loss.
    public var trainLoss: Double?
    public var latest: MetricSample?
    public var history: MetricHistory
    public var spectrum: SpectrumSample?
    public var layers: [LayerShare]
    /// Spectral reach: smallest χ_pos so far.
    public var minChiPos: Double?
    /// Spectral reach: largest r_eff so far.
    public var maxREff: Double?
    /// χ_net(t) / χ_net(0).
    public var amplification: Double?
    public var stepsPerSecond: Double
    /// Why the model diverged (which quantity stopped being finite), when it did.
    public var divergence: String?

    public init(id: String, width: Int, depth: Int, mode: TrainingMode, featuresFrozen: Bool, parameterCount: Int,
                trainableParameterCount: Int, step: Int, stepBudget: Int, status: ModelStatus, trainLoss: Double? = nil,
                latest: MetricSample? = nil, history: MetricHistory = MetricHistory(), spectrum: SpectrumSample? = nil,
                layers: [LayerShare] = [], minChiPos: Double? = nil, maxREff: Double? = nil, amplification: Double? = nil,
                stepsPerSecond: Double = 0) {
        self.id = id; self.width = width; self.depth = depth; self.mode = mode; self.featuresFrozen = featuresFrozen
        self.parameterCount = parameterCount; self.trainableParameterCount = trainableParameterCount
        self.step = step; self.stepBudget = stepBudget; self.status = status; self.trainLoss = trainLoss
        self.latest = latest; self.history = history; self.spectrum = spectrum; self.layers = layers
        self.minChiPos = minChiPos; self.maxREff = maxREff; self.amplification = amplification
        self.stepsPerSecond = stepsPerSecond
    }
}

/// The engine's run state.
public enum EngineState: String, Sendable, Equatable {
    case running, paused, finished, stopped
}

/// A consistent picture of the whole engine at one moment.
public struct EngineSnapshot: Sendable, Equatable {
    public var state: EngineState
    public var models: [ModelSnapshot]
    /// Seconds since start.
    public var elapsed: Double
    /// Sum of the models' steps per second.
    public var stepsPerSecond: Double

    public init(state: EngineState, models: [ModelSnapshot], elapsed: Double, stepsPerSecond: Double) {
        self.state = state; self.models = models; self.elapsed = elapsed; self.stepsPerSecond = stepsPerSecond
    }
}
