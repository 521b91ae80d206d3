import SpecTopReaders
import Foundation
import SpectralCore

/// A whole experiment as a user writes it in TOML (README, "Experiment
/// files"). Every field has a default; presets are built-in files of this
/// same format.
package struct ExperimentConfig: Sendable, Equatable {
    package var name = "custom"
    package var description = ""
    package var seed: UInt64 = 1
    package var data = DataSection()
    package var models = ModelsSection()
    package var training = TrainingSection()
    package var metrics = MetricsSection()

    package init() {}

    package struct DataSection: Sendable, Equatable {
        package var kind = DataKind.teacher
        /// idx: images file; csv: data file.
        package var path = ""
        /// idx: labels file.
        package var labelsPath = ""

        /// Data paths in an experiment file are relative to that file, as in
        /// every config format users know (a file moved with its data keeps
        /// working from any directory). A FIFO or `<(…)` has no directory of
        /// its own: its paths stay relative to the working directory.
        package mutating func resolvePaths(relativeTo configFile: String) {
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
        package var target = ""
        /// csv: how the target column is read.
        package var task = CSVDataset.Task.regression
        /// idx / csv / digits: use at most this many samples (0 = all).
        package var limit = 0
        /// teacher: training samples.
        package var samples = 4096
        package var inputDim = 16
        package var outputs = 1
        package var exponent = 1.5
        package var inputExponent = 1.0
        package var features = 256
        package var noise = 0.0
        /// teacher: fresh samples every batch instead of a fixed training set.
        package var online = false
    }

    package struct ModelsSection: Sendable, Equatable {
        package var widths = [16, 64, 256, 1024]
        package var depth = 2
        package var activation = Activation.relu
        /// One or several; several give one model per parameterization.
        package var parameterizations: [Parameterization] = [.standard]
        /// Readout multiplier α (lazy ≫ 1, rich ≪ 1); several give one model each.
        package var outputScales = [1.0]
        package var modes: [TrainingMode] = [.active, .frozen]
    }

    package struct TrainingSection: Sendable, Equatable {
        package var optimizer = OptimizerConfig.Kind.sgd
        package var lr = 0.05
        /// lr(width) = lr · (width / lr_base_width)^(−lr_width_exponent).
        package var lrWidthExponent = 0.0
        /// 0 = the smallest width.
        package var lrBaseWidth = 0
        /// Divide lr by α² for output scale α (keeps lazy models stable).
        package var lrOutputScaling = true
        package var momentum = 0.0
        package var batch = 64
        package var steps = 2000
        package var warmup = 0
    }

    package struct MetricsSection: Sendable, Equatable {
        package var every = 1
        /// 0 = time-based (`spectrum_interval`).
        package var spectrumEvery = 0
        package var spectrumInterval = 0.5
        package var probe = 256
        package var probeSource = ProbeSource.train
        package var trace = TraceKind.exact
        /// `every`: every `every` steps; `log`: log-spaced windows.
        package var schedule = ScheduleKind.every
        package var pointsPerDecade = 10
        package var window = 5
        /// The cross-batch measurement's batch B (`off`: none).
        package var cross = CrossKind.off
        package var hutchinsonSamples = 8
        /// Exact spectrum up to this nC; above it the matrix-free estimate.
        package var exactLimit = EngineConfiguration.defaultExactLimit
        /// Eigenpairs the matrix-free spectrum computes exactly (ARPACK).
        package var topK = 32
        /// A model whose matrix-free spectrum is predicted to take longer gets none.
        package var spectrumMaxSeconds = 60.0
    }
}

/// Where an experiment's data comes from (`[data] kind`).
package enum DataKind: String, Sendable, CaseIterable {
    case teacher, digits, idx, csv
}

/// When models are measured (`[metrics] schedule`).
package enum ScheduleKind: String, Sendable, CaseIterable {
    case every, log
}

/// Where the cross-batch measurement's batch B comes from (`[metrics] cross`).
package enum CrossKind: String, Sendable, CaseIterable {
    case off, heldout, train
}

/// How Tr Θ is computed (`[metrics] trace`).
package enum TraceKind: String, Sendable, CaseIterable {
    case exact, hutchinson
}

