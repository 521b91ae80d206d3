import SpecTopReaders
import Foundation
import SpectralCore

/// A whole experiment as a user writes it in TOML (README, "Experiment
/// files"). Every field has a default; presets are built-in files of this
/// same format.
struct ExperimentConfig: Sendable, Equatable {
    var name = "custom"
    var description = ""
    var seed: UInt64 = 1
    var data = DataSection()
    var models = ModelsSection()
    var training = TrainingSection()
    var metrics = MetricsSection()

    init() {}

    struct DataSection: Sendable, Equatable {
        var kind = DataKind.teacher
        /// idx: images file; csv: data file.
        var path = ""
        /// idx: labels file.
        var labelsPath = ""

        /// Data paths in an experiment file are relative to that file, as in
        /// every config format users know (a file moved with its data keeps
        /// working from any directory). A FIFO or `<(…)` has no directory of
        /// its own: its paths stay relative to the working directory.
        mutating func resolvePaths(relativeTo configFile: String) {
            var info = stat()
            guard stat(configFile, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
            let directory = PathName.directory(of: configFile)
            func resolved(_ path: String) -> String {
                guard !path.isEmpty, !path.hasPrefix("/"), !directory.isEmpty else { return path }
                return (directory as NSString).appendingPathComponent(path)
            }
            path = resolved(path)
            labelsPath = resolved(labelsPath)
        }
        /// csv: target column name.
        var target = ""
        /// csv: how the target column is read.
        var task = CSVDataset.Task.regression
        /// idx / csv / digits: use at most this many samples (0 = all).
        var limit = 0
        /// teacher: training samples.
        var samples = 4096
        var inputDim = 16
        var outputs = 1
        var exponent = 1.5
        var inputExponent = 1.0
        var features = 256
        var noise = 0.0
        /// teacher: fresh samples every batch instead of a fixed training set.
        var online = false
    }

    struct ModelsSection: Sendable, Equatable {
        var widths = [16, 64, 256, 1024]
        var depth = 2
        var activation = Activation.relu
        /// One or several; several give one model per parameterization.
        var parameterizations: [Parameterization] = [.standard]
        /// Readout multiplier α (lazy ≫ 1, rich ≪ 1); several give one model each.
        var outputScales = [1.0]
        var modes: [TrainingMode] = [.active, .frozen]
    }

    struct TrainingSection: Sendable, Equatable {
        var optimizer = OptimizerConfig.Kind.sgd
        var lr = 0.05
        /// lr(width) = lr · (width / lr_base_width)^(−lr_width_exponent).
        var lrWidthExponent = 0.0
        /// 0 = the smallest width.
        var lrBaseWidth = 0
        /// Divide lr by α² for output scale α (keeps lazy models stable).
        var lrOutputScaling = true
        var momentum = 0.0
        var batch = 64
        var steps = 2000
        var warmup = 0
    }

    struct MetricsSection: Sendable, Equatable {
        var every = 1
        /// 0 = time-based (`spectrum_interval`).
        var spectrumEvery = 0
        var spectrumInterval = 0.5
        var probe = 256
        var probeSource = ProbeSource.train
        var trace = TraceKind.exact
        var hutchinsonSamples = 8
        /// Exact spectrum up to this nC; above it the matrix-free estimate.
        var exactLimit = EngineConfiguration.defaultExactLimit
        /// Eigenpairs the matrix-free spectrum computes exactly (ARPACK).
        var topK = 32
        /// A model whose matrix-free spectrum is predicted to take longer gets none.
        var spectrumMaxSeconds = 60.0
    }
}

/// Where an experiment's data comes from (`[data] kind`).
enum DataKind: String, Sendable, CaseIterable {
    case teacher, digits, idx, csv
}

/// How Tr Θ is computed (`[metrics] trace`).
enum TraceKind: String, Sendable, CaseIterable {
    case exact, hutchinson
}

