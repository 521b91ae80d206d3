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
    /// The run (record) the model belongs to when several are shown together
    /// (`spectop watch`); nil for the monitor's own engine. The grid groups by it.
    public var run: String?
    /// Why the run ended, for a model it stopped before its budget (`ended`):
    /// the record's end reason, `quit`, `signal`, the probe's `closed`.
    public var endReason: String?
    /// Training samples per step (the compare view's compute axis, FLOPs ≈ 6·N·D); 0 when unknown.
    public var batchSize: Int = 0
    /// Seconds the latest exact spectrum took (the live engine only).
    public var spectrumSeconds: Double?
    /// Why this model gets no spectrum at all (the engine decided so from the
    /// sizes before training: over the time a spectrum may take, top_k not
    /// below m, spectra off): shown where its histogram would be, instead of
    /// "no spectrum yet". The record carries it as the model's "spectrum" event.
    /// The data set and loss it was measured on (`teacher/mse`), where the record says: models of
    /// different data sets share no power law.
    public var dataSet: String?
    /// The user's own scalars (`probe.log`), in order of first appearance.
    public var userScalars: [UserScalarSeries] = []
    /// The step of a live freeze (`F`): the first trained and measured with frozen features.
    public var freezeStep: Int?
    public var spectrumUnavailable: String?

    /// Seconds until the step budget at the current rate; nil when unknown or not training.
    public var secondsToGo: Double? {
        guard status == .training, stepBudget > 0, stepsPerSecond > 0, stepsPerSecond.isFinite else { return nil }
        return Double(max(0, stepBudget - step)) / stepsPerSecond
    }

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
