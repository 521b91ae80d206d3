import SpecTopReaders
import SpectralCore

/// spectop's version, shown by `--version` and written into records.
package enum SpecTopVersion {
    package static let string = "0.1.0"
}

/// A configuration turned into data and models, ready for an `Engine`.
package struct PreparedExperiment: Sendable {
    package var config: ExperimentConfig
    package var engine: EngineConfiguration
    /// Raw data set name ("teacher", "digits", a file name).
    package var dataName: String
}

/// Builds the data sets and model plans an experiment file describes, with a
/// clear message for every value that cannot be used.
package enum ExperimentBuilder {
    package static func prepare(_ config: ExperimentConfig, workers: Int = 0, recordEvents: Bool = false) throws -> PreparedExperiment {
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
            case .teacher:
                let teacherConfig = TeacherConfig(
                    inputDim: config.data.inputDim, samples: config.data.samples, outputs: config.data.outputs,
                    exponent: config.data.exponent, inputExponent: config.data.inputExponent,
                    features: config.data.features, noise: config.data.noise)
                let made = try TeacherDataset.makeWithTeacher(teacherConfig, generator: &dataGenerator)
                dataset = made.dataset
                fresh = made.teacher.freshSampler
                teacher = made.teacher
            case .digits:
                dataset = try DigitsDataset.load(limit: limit)
            case .idx:
                guard !config.data.path.isEmpty, !config.data.labelsPath.isEmpty else {
                    throw ConfigError("[data] kind = \"idx\" needs path (images file) and labels_path (labels file)")
                }
                dataset = try IDXDataset.load(images: config.data.path, labels: config.data.labelsPath, limit: limit)
            case .csv:
                guard !config.data.path.isEmpty, !config.data.target.isEmpty else {
                    throw ConfigError("[data] kind = \"csv\" needs path (the CSV file) and target (the target column)")
                }
                dataset = try CSVDataset.load(path: config.data.path, target: config.data.target, task: config.data.task, limit: limit)
            }
        } catch let error as DataError {
            throw ConfigError(describe(error))
        }
        let probeSource = config.metrics.probeSource
        var split: DataSplit
        do {
            split = try DataSplit.make(from: dataset, probeSize: config.metrics.probe, probeSource: probeSource,
                                       generator: &splitGenerator, freshProbe: fresh)
        } catch {
            throw ConfigError(error.description)
        }
        var cross = CrossBatchSource.off
        switch config.metrics.cross {
        case .off: break
        case .train: cross = .train
        case .heldout:
            // B: probe-sized, drawn once by its own generator (the split and the
            // training sequence stay what they are without it), then no longer trained on.
            let excluded = Set(probeSource == .train ? split.probeIndices : [])
            let candidates = (0..<split.train.count).filter { !excluded.contains($0) }
            let n = config.metrics.probe
            guard candidates.count >= n else {
                throw ConfigError("[metrics] cross = \"heldout\" holds out \(n) samples (the probe size) that are not in the probe; the data has \(candidates.count)")
            }
            guard split.train.count - n >= config.training.batch else {
                throw ConfigError("[metrics] cross = \"heldout\" takes \(n) samples out of training, leaving \(split.train.count - n), fewer than a batch of \(config.training.batch)")
            }
            var generator = SeededGenerator(seed: config.seed).fork(0xC2055)
            let chosen = DataSplit.randomSubset(of: candidates.count, size: config.metrics.probe, generator: &generator).map { candidates[$0] }
            let isChosen = Set(chosen)
            cross = .heldOut(split.train.subset(chosen))
            split.train = split.train.subset((0..<split.train.count).filter { !isChosen.contains($0) })
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
        case .exact: trace = .exact
        case .hutchinson: trace = .hutchinson(samples: config.metrics.hutchinsonSamples)
        }
        var engine = EngineConfiguration(
            models: plans, train: split.train, probe: split.probe, seed: config.seed, metricsEvery: config.metrics.every,
            spectrumEvery: config.metrics.spectrumEvery > 0 ? config.metrics.spectrumEvery : nil,
            spectrumInterval: config.metrics.spectrumInterval, maxKernelSize: config.metrics.exactLimit,
            matrixFree: MatrixFreeSettings(topK: config.metrics.topK), maxSpectrumSeconds: config.metrics.spectrumMaxSeconds,
            traceEstimator: trace, workers: workers,
            recordEvents: recordEvents, onlineSampler: online)
        engine.crossBatch = cross
        if config.metrics.schedule == .log {
            engine.logSchedule = .log(pointsPerDecade: config.metrics.pointsPerDecade, window: config.metrics.window)
        }
        do { try engine.validate() } catch { throw ConfigError(error.description) }
        return PreparedExperiment(config: config, engine: engine, dataName: dataset.name)
    }

    /// A data error in the experiment file's words: the teacher's knobs are
    /// `[data]` keys (`input_dim`), not the engine's field names (`inputDim`).
    package static func describe(_ error: DataError) -> String {
        guard case let .invalidParameter(owner, parameter, requirement, value) = error, owner == TeacherDataset.name else {
            return error.description
        }
        let key = parameter.replacingOccurrences(of: "inputDim", with: "input_dim")
            .replacingOccurrences(of: "inputExponent", with: "input_exponent")
        return "[data] \(key) must be \(requirement), got \(value)"
    }

    /// Checks every key's range (from the key table) before any data is
    /// built; the names were checked when the file was parsed.
    package static func validate(_ config: ExperimentConfig) throws {
        for key in ConfigKey.all { try key.validate(config) }
    }

    /// One plan per width × parameterization × output scale × mode; an
    /// active and a frozen model of the same kind share their initial weights.
    package static func modelPlans(_ config: ExperimentConfig, inputDim: Int, outputs: Int) throws -> [ModelPlan] {
        let m = config.models
        let baseWidth = Double(config.training.lrBaseWidth > 0 ? config.training.lrBaseWidth : (m.widths.min() ?? 1))
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
                        if m.parameterizations.count > 1 { id += "-\(p.rawValue)" }
                        if m.outputScales.count > 1 { id += "-a\(JSONLine.number(scale))" }
                        id += "-\(mode.rawValue)"
                        let architecture = MLPArchitecture(
                            inputDim: inputDim, width: width, depth: m.depth, outputDim: outputs,
                            activation: m.activation, parameterization: p,
                            outputScale: scale)
                        let optimizer = OptimizerConfig(kind: config.training.optimizer,
                                                        learningRate: lr, momentum: config.training.momentum,
                                                        warmupSteps: config.training.warmup)
                        plans.append(ModelPlan(id: id, architecture: architecture, mode: mode,
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
