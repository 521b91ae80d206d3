import SpectralCore

/// A whole experiment as a user writes it in TOML (README, "Experiment
/// files"). Every field has a default; presets are built-in files of this
/// same format.
public struct ExperimentConfig: Sendable, Equatable {
    public var name = "custom"
    public var description = ""
    public var seed: UInt64 = 1
    public var data = DataSection()
    public var models = ModelsSection()
    public var training = TrainingSection()
    public var metrics = MetricsSection()

    public init() {}

    public struct DataSection: Sendable, Equatable {
        public var kind = DataKind.teacher
        /// idx: images file; csv: data file.
        public var path = ""
        /// idx: labels file.
        public var labelsPath = ""
        /// csv: target column name.
        public var target = ""
        /// csv: how the target column is read.
        public var task = CSVDataset.Task.regression
        /// idx / csv / digits: use at most this many samples (0 = all).
        public var limit = 0
        /// teacher: training samples.
        public var samples = 4096
        public var inputDim = 16
        public var outputs = 1
        public var exponent = 1.5
        public var inputExponent = 1.0
        public var features = 256
        public var noise = 0.0
        /// teacher: fresh samples every batch instead of a fixed training set.
        public var online = false
    }

    public struct ModelsSection: Sendable, Equatable {
        public var widths = [16, 64, 256, 1024]
        public var depth = 2
        public var activation = Activation.relu
        /// One or several; several give one model per parameterization.
        public var parameterizations: [Parameterization] = [.standard]
        /// Readout multiplier α (lazy ≫ 1, rich ≪ 1); several give one model each.
        public var outputScales = [1.0]
        public var modes: [TrainingMode] = [.active, .frozen]
    }

    public struct TrainingSection: Sendable, Equatable {
        public var optimizer = OptimizerConfig.Kind.sgd
        public var lr = 0.05
        /// lr(width) = lr · (width / lr_base_width)^(−lr_width_exponent).
        public var lrWidthExponent = 0.0
        /// 0 = the smallest width.
        public var lrBaseWidth = 0
        /// Divide lr by α² for output scale α (keeps lazy models stable).
        public var lrOutputScaling = true
        public var momentum = 0.0
        public var batch = 64
        public var steps = 2000
        public var warmup = 0
    }

    public struct MetricsSection: Sendable, Equatable {
        public var every = 1
        /// 0 = time-based (`spectrum_interval`).
        public var spectrumEvery = 0
        public var spectrumInterval = 0.5
        public var probe = 256
        public var probeSource = ProbeSource.train
        public var trace = TraceKind.exact
        public var hutchinsonSamples = 8
    }
}

/// Where an experiment's data comes from (`[data] kind`).
public enum DataKind: String, Sendable, CaseIterable {
    case teacher, digits, idx, csv
}

/// How Tr Θ is computed (`[metrics] trace`).
public enum TraceKind: String, Sendable, CaseIterable {
    case exact, hutchinson
}

