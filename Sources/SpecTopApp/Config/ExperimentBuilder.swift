import SpectralCore

/// spectop's version, shown by `--version` and written into records.
public enum SpecTopVersion {
    public static let string = "0.1.0"
}

/// A configuration turned into data and models, ready for an `Engine`.
public struct PreparedExperiment: Sendable {
    public var config: ExperimentConfig
    public var engine: EngineConfiguration
    /// Raw data set name ("teacher", "digits", a file name).
    public var dataName: String
}

/// Builds the data sets and model plans an experiment file describes, with a
/// clear message for every value that cannot be used.
public enum ExperimentBuilder {
    public static func prepare(_ config: ExperimentConfig, workers: Int = 0, recordEvents: Bool = false) throws -> PreparedExperiment {
        try validate(config)
        let root = SeededGenerator(seed: config.seed)
        var dataGenerator = root.fork(1)
        var splitGenerator = root.fork(2)
        let limit = config.data.limit > 0 ? config.data.limit : nil
        let dataset: Dataset
        var fresh: DataSplit.FreshSampler?
        var teacher: Teacher?
        do {
            switch config.data.kind {
            case "teacher":
                let teacherConfig = TeacherConfig(
                    inputDim: config.data.inputDim, samples: config.data.samples, outputs: config.data.outputs,
                    exponent: config.data.exponent, inputExponent: config.data.inputExponent,
                    features: config.data.features, noise: config.data.noise)
                let made = try TeacherDataset.makeWithTeacher(teacherConfig, generator: &dataGenerator)
                dataset = made.dataset
                fresh = made.teacher.freshSampler
                teacher = made.teacher
            case "digits":
                dataset = try DigitsDataset.load(limit: limit)
            case "idx":
                guard !config.data.path.isEmpty, !config.data.labelsPath.isEmpty else {
                    throw ConfigError("[data] kind = \"idx\" needs path (images file) and labels_path (labels file)")
                }
                dataset = try IDXDataset.load(images: config.data.path, labels: config.data.labelsPath, limit: limit)
            case "csv":
                guard !config.data.path.isEmpty, !config.data.target.isEmpty else {
                    throw ConfigError("[data] kind = \"csv\" needs path (the CSV file) and target (the target column)")
                }
                guard let task = CSVDataset.Task(rawValue: config.data.task) else {
                    throw ConfigError("[data] task must be one of \(CSVDataset.Task.allCases.map(\.rawValue).joined(separator: ", ")), got '\(config.data.task)'")
                }
                dataset = try CSVDataset.load(path: config.data.path, target: config.data.target, task: task, limit: limit)
            default:
                throw ConfigError("[data] kind must be one of teacher, digits, idx, csv; got '\(config.data.kind)'")
            }
        } catch let error as DataError {
            throw ConfigError(describe(error))
        }
        guard let probeSource = ProbeSource(rawValue: config.metrics.probeSource) else {
            throw ConfigError("[metrics] probe_source must be one of \(ProbeSource.allCases.map(\.rawValue).joined(separator: ", ")), got '\(config.metrics.probeSource)'")
        }
        let split: DataSplit
        do {
            split = try DataSplit.make(from: dataset, probeSize: config.metrics.probe, probeSource: probeSource,
                                       generator: &splitGenerator, freshProbe: fresh)
        } catch {
            throw ConfigError(error.description)
        }
        var online: OnlineBatchSampler?
        if config.data.online {
            guard let teacher else { throw ConfigError("[data] online = true needs kind = \"teacher\" (fresh samples come from the teacher)") }
            let standardise = split
            online = { count, generator in
                var batch = try teacher.sample(count: count, generator: &generator)
                batch.inputs = standardise.standardised(batch.inputs)
                return batch
            }
        }
        let plans = try modelPlans(config, inputDim: split.train.inputDim, outputs: split.train.outputDim)
        let trace: TraceEstimator
        switch config.metrics.trace {
        case "exact": trace = .exact
        case "hutchinson": trace = .hutchinson(samples: config.metrics.hutchinsonSamples)
        default: throw ConfigError("[metrics] trace must be exact or hutchinson, got '\(config.metrics.trace)'")
        }
        let engine = EngineConfiguration(
            models: plans, train: split.train, probe: split.probe, seed: config.seed, metricsEvery: config.metrics.every,
            spectrumEvery: config.metrics.spectrumEvery > 0 ? config.metrics.spectrumEvery : nil,
            spectrumInterval: config.metrics.spectrumInterval, traceEstimator: trace, workers: workers,
            recordEvents: recordEvents, onlineSampler: online)
        do { try engine.validate() } catch { throw ConfigError(error.description) }
        return PreparedExperiment(config: config, engine: engine, dataName: dataset.name)
    }

    /// A data error in the experiment file's words: the teacher's knobs are
    /// `[data]` keys (`input_dim`), not the engine's field names (`inputDim`).
    static func describe(_ error: DataError) -> String {
        guard case let .invalidParameter(owner, parameter, requirement, value) = error, owner == TeacherDataset.name else {
            return error.description
        }
        let key = parameter.replacingOccurrences(of: "inputDim", with: "input_dim")
            .replacingOccurrences(of: "inputExponent", with: "input_exponent")
        return "[data] \(key) must be \(requirement), got \(value)"
    }

    /// Checks ranges and names before any data is built.
    public static func validate(_ config: ExperimentConfig) throws {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
            if !condition { throw ConfigError(message()) }
        }
        try require(!config.models.widths.isEmpty, "[models] widths must list at least one width")
        for w in config.models.widths { try require(w >= 1, "[models] widths: every width must be at least 1, got \(w)") }
        try require(Set(config.models.widths).count == config.models.widths.count, "[models] widths lists a width twice")
        try require(config.models.depth >= 0, "[models] depth must be 0 or more, got \(config.models.depth)")
        try require(Activation(rawValue: config.models.activation) != nil,
                    "[models] activation must be one of \(Activation.allCases.map(\.rawValue).joined(separator: ", ")), got '\(config.models.activation)'")
        try require(!config.models.parameterizations.isEmpty, "[models] parameterization must name at least one")
        for p in config.models.parameterizations {
            try require(Parameterization(rawValue: p) != nil,
                        "[models] parameterization must be one of \(Parameterization.allCases.map(\.rawValue).joined(separator: ", ")), got '\(p)'")
        }
        try require(!config.models.outputScales.isEmpty, "[models] output_scale must give at least one value")
        for a in config.models.outputScales {
            // Past 1e±6 the readout (and, with lr_output_scaling, lr/α²) leaves Float32's useful range.
            try require(a >= 1e-6 && a <= 1e6, "[models] output_scale must be between 1e-6 and 1e6, got \(a)")
        }
        try require(!config.models.modes.isEmpty, "[models] modes must name active, frozen or both")
        for m in config.models.modes {
            try require(TrainingMode(rawValue: m) != nil, "[models] modes must be active and/or frozen, got '\(m)'")
        }
        try require(OptimizerConfig.Kind(rawValue: config.training.optimizer) != nil,
                    "[training] optimizer must be sgd or adam, got '\(config.training.optimizer)'")
        try require(config.training.lr > 0 && config.training.lr.isFinite, "[training] lr must be a positive number, got \(config.training.lr)")
        try require(config.training.lrWidthExponent.isFinite, "[training] lr_width_exponent must be a number")
        try require(config.training.lrBaseWidth >= 0, "[training] lr_base_width must be 0 or more, got \(config.training.lrBaseWidth)")
        try require(config.training.momentum >= 0 && config.training.momentum < 1, "[training] momentum must be in [0, 1), got \(config.training.momentum)")
        try require(config.training.batch >= 1, "[training] batch must be at least 1, got \(config.training.batch)")
        try require(config.training.steps >= 1, "[training] steps must be at least 1, got \(config.training.steps)")
        try require(config.training.warmup >= 0, "[training] warmup must be 0 or more, got \(config.training.warmup)")
        try require(config.metrics.every >= 1, "[metrics] every must be at least 1, got \(config.metrics.every)")
        try require(config.metrics.spectrumEvery >= 0, "[metrics] spectrum_every must be 0 or more, got \(config.metrics.spectrumEvery)")
        try require(config.metrics.spectrumInterval >= 0 && config.metrics.spectrumInterval.isFinite,
                    "[metrics] spectrum_interval must be 0 or more seconds, got \(config.metrics.spectrumInterval)")
        try require(config.metrics.probe >= 1, "[metrics] probe must be at least 1, got \(config.metrics.probe)")
        try require(config.metrics.hutchinsonSamples >= 1, "[metrics] hutchinson_samples must be at least 1, got \(config.metrics.hutchinsonSamples)")
        try require(config.data.limit >= 0, "[data] limit must be 0 or more, got \(config.data.limit)")
    }

    /// One plan per width × parameterization × output scale × mode; an
    /// active and a frozen model of the same kind share their initial weights.
    static func modelPlans(_ config: ExperimentConfig, inputDim: Int, outputs: Int) throws -> [ModelPlan] {
        let m = config.models
        let baseWidth = Double(config.training.lrBaseWidth > 0 ? config.training.lrBaseWidth : m.widths.min()!)
        var plans: [ModelPlan] = []
        var stream: UInt64 = 0
        for width in m.widths {
            for p in m.parameterizations {
                for scale in m.outputScales {
                    var lr = config.training.lr * pow(Double(width) / baseWidth, -config.training.lrWidthExponent)
                    if config.training.lrOutputScaling { lr /= scale * scale }
                    guard lr > 0 && lr.isFinite else {
                        let cause = config.training.lrOutputScaling ? "lr / output_scale² with output_scale \(scale)" : "lr"
                        throw ConfigError("[training] the learning rate for width \(width) (\(cause), lr_width_exponent \(config.training.lrWidthExponent)) is \(lr), which cannot train; change lr, output_scale or lr_width_exponent")
                    }
                    for mode in m.modes {
                        var id = "w\(width)"
                        if m.parameterizations.count > 1 { id += "-\(p)" }
                        if m.outputScales.count > 1 { id += "-a\(JSONLine.number(scale))" }
                        id += "-\(mode)"
                        let architecture = MLPArchitecture(
                            inputDim: inputDim, width: width, depth: m.depth, outputDim: outputs,
                            activation: Activation(rawValue: m.activation)!, parameterization: Parameterization(rawValue: p)!,
                            outputScale: scale)
                        let optimizer = OptimizerConfig(kind: OptimizerConfig.Kind(rawValue: config.training.optimizer)!,
                                                        learningRate: lr, momentum: config.training.momentum,
                                                        warmupSteps: config.training.warmup)
                        plans.append(ModelPlan(id: id, architecture: architecture, mode: TrainingMode(rawValue: mode)!,
                                               optimizer: optimizer, batchSize: config.training.batch,
                                               steps: config.training.steps, initStream: stream))
                    }
                    stream += 1
                }
            }
        }
        return plans
    }
}

import Foundation
