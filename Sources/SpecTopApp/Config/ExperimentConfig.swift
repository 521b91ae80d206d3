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
        /// teacher | digits | idx | csv
        public var kind = "teacher"
        /// idx: images file; csv: data file.
        public var path = ""
        /// idx: labels file.
        public var labelsPath = ""
        /// csv: target column name.
        public var target = ""
        /// csv: regression | classification.
        public var task = "regression"
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
        public var activation = "relu"
        /// One or several; several give one model per parameterization.
        public var parameterizations = ["standard"]
        /// Readout multiplier α (lazy ≫ 1, rich ≪ 1); several give one model each.
        public var outputScales = [1.0]
        public var modes = ["active", "frozen"]
    }

    public struct TrainingSection: Sendable, Equatable {
        public var optimizer = "sgd"
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
        /// train | held_out | fresh
        public var probeSource = "train"
        /// exact | hutchinson
        public var trace = "exact"
        public var hutchinsonSamples = 8
    }
}

/// Every key of the experiment file: its section, type, default and meaning.
/// The parser, `--print-config` and the README's key table all come from here.
public struct ConfigKey: Sendable {
    public enum Kind: String, Sendable {
        case integer, float, string, bool
        case integerList = "list of integers"
        case stringList = "string or list of strings"
        case floatList = "number or list of numbers"
    }
    public let section: String
    public let name: String
    public let kind: Kind
    public let help: String

    public static let all: [ConfigKey] = [
        .init(section: "", name: "name", kind: .string, help: "experiment name shown in the header"),
        .init(section: "", name: "description", kind: .string, help: "one line shown by `spectop presets`"),
        .init(section: "", name: "seed", kind: .integer, help: "one seed for data, initialisation and batches"),
        .init(section: "data", name: "kind", kind: .string, help: "teacher | digits | idx | csv"),
        .init(section: "data", name: "path", kind: .string, help: "idx: images file; csv: data file"),
        .init(section: "data", name: "labels_path", kind: .string, help: "idx: labels file"),
        .init(section: "data", name: "target", kind: .string, help: "csv: name of the target column"),
        .init(section: "data", name: "task", kind: .string, help: "csv: regression | classification"),
        .init(section: "data", name: "limit", kind: .integer, help: "digits/idx/csv: use at most this many samples (0 = all)"),
        .init(section: "data", name: "samples", kind: .integer, help: "teacher: training samples"),
        .init(section: "data", name: "input_dim", kind: .integer, help: "teacher: input dimension"),
        .init(section: "data", name: "outputs", kind: .integer, help: "teacher: output dimension C"),
        .init(section: "data", name: "exponent", kind: .float, help: "teacher: power-law decay of the target's spectrum"),
        .init(section: "data", name: "input_exponent", kind: .float, help: "teacher: input covariance eigenvalues k^-a"),
        .init(section: "data", name: "features", kind: .integer, help: "teacher: random features in the teacher"),
        .init(section: "data", name: "noise", kind: .float, help: "teacher: label noise standard deviation"),
        .init(section: "data", name: "online", kind: .bool, help: "teacher: fresh samples every batch (online training)"),
        .init(section: "models", name: "widths", kind: .integerList, help: "hidden widths, one model size each"),
        .init(section: "models", name: "depth", kind: .integer, help: "hidden layers (0 = linear model)"),
        .init(section: "models", name: "activation", kind: .string, help: "relu | gelu | gelu_tanh | tanh | identity"),
        .init(section: "models", name: "parameterization", kind: .stringList, help: "standard | ntk | mup (several: one model each)"),
        .init(section: "models", name: "output_scale", kind: .floatList, help: "readout multiplier α: ≫1 lazy, ≪1 rich (several: one model each)"),
        .init(section: "models", name: "modes", kind: .stringList, help: "active and/or frozen"),
        .init(section: "training", name: "optimizer", kind: .string, help: "sgd | adam"),
        .init(section: "training", name: "lr", kind: .float, help: "learning rate at lr_base_width"),
        .init(section: "training", name: "lr_width_exponent", kind: .float, help: "lr(w) = lr·(w/lr_base_width)^-p"),
        .init(section: "training", name: "lr_base_width", kind: .integer, help: "width where lr applies as given (0 = smallest)"),
        .init(section: "training", name: "lr_output_scaling", kind: .bool, help: "divide lr by α² for output scale α"),
        .init(section: "training", name: "momentum", kind: .float, help: "SGD momentum in [0, 1)"),
        .init(section: "training", name: "batch", kind: .integer, help: "minibatch size"),
        .init(section: "training", name: "steps", kind: .integer, help: "training steps per model"),
        .init(section: "training", name: "warmup", kind: .integer, help: "linear warm-up steps"),
        .init(section: "metrics", name: "every", kind: .integer, help: "kernel-free LNP every this many steps"),
        .init(section: "metrics", name: "spectrum_every", kind: .integer, help: "exact eNTK spectrum every this many steps (0 = time-based)"),
        .init(section: "metrics", name: "spectrum_interval", kind: .float, help: "time-based: at most one spectrum per model per this many seconds"),
        .init(section: "metrics", name: "probe", kind: .integer, help: "probe set size n"),
        .init(section: "metrics", name: "probe_source", kind: .string, help: "train | held_out | fresh (teacher only)"),
        .init(section: "metrics", name: "trace", kind: .string, help: "exact | hutchinson (estimate of Tr Θ for large C)"),
        .init(section: "metrics", name: "hutchinson_samples", kind: .integer, help: "Rademacher vectors per Hutchinson estimate"),
    ]

    public static let sections = ["data", "models", "training", "metrics"]
}
