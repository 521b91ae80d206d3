import Foundation

/// Writes the state dump: for each model `DIR/<model-id>/manifest.json` with
/// its layers as `.npy` files and the metrics spectop computed at that state;
/// the probe set as `DIR/probe_x.npy` and `DIR/probe_y.npy`. The manifest is
/// enough to rebuild the forward function outside spectop (docs/USAGE.md,
/// "State dump"); `scripts/check_dump.py` does exactly that with NumPy.
public enum StateDump {
    public struct Manifest: Codable, Equatable, Sendable {
        public struct Layer: Codable, Equatable, Sendable {
            public var weight: String
            public var bias: String
            public var weightShape: [Int]
            public var biasShape: [Int]
            public var weightMultiplier: Double
            public var biasMultiplier: Double
            public var activation: String
            enum CodingKeys: String, CodingKey {
                case weight, bias, activation
                case weightShape = "weight_shape", biasShape = "bias_shape"
                case weightMultiplier = "weight_multiplier", biasMultiplier = "bias_multiplier"
            }
        }
        public struct Metrics: Codable, Equatable, Sendable {
            public var loss: Double?
            public var chiLoss: Double?
            public var chiNet: Double?
            public var chiPos: Double?
            public var chiPosExact: Double?
            public var lambdaEff: Double?
            public var rEff: Double?
            public var gradSq: Double?
            public var effectiveRank: Double?
            public var chiNetIsEstimate: Bool
            public var eigenvalues: String?
            /// Tr Θ_l and gᵀΘ_l g per layer (the per-layer split).
            public var layerChiNet: [Double]
            public var layerGradSq: [Double]
            /// "exact" or "lanczos" (matrix-free: `eigenvalues` holds the top k
            /// only, r_eff and the effective rank are estimates); nil without a spectrum.
            public var spectrumMethod: String? = nil
            /// m, the kernel's size, and r_eff's ~95% half-width (matrix-free only).
            public var modeCount: Int? = nil
            public var rEffUncertainty: Double? = nil
            /// The cross-batch measurement on batch B (`cross_x`, `cross_y`), when the run has one.
            public var crossLoss: Double? = nil
            public var crossGradDot: Double? = nil
            public var crossChiLoss: Double? = nil
            public var crossChiNet: Double? = nil
            public var crossChiPos: Double? = nil
            enum CodingKeys: String, CodingKey {
                case loss, eigenvalues
                case crossLoss = "cross_loss", crossGradDot = "cross_grad_dot", crossChiLoss = "cross_chi_loss"
                case crossChiNet = "cross_chi_net", crossChiPos = "cross_chi_pos"
                case spectrumMethod = "spectrum_method", modeCount = "mode_count", rEffUncertainty = "r_eff_uncertainty"
                case chiLoss = "chi_loss", chiNet = "chi_net", chiPos = "chi_pos", chiPosExact = "chi_pos_exact"
                case lambdaEff = "lambda_eff", rEff = "r_eff", gradSq = "grad_sq", effectiveRank = "effective_rank"
                case chiNetIsEstimate = "chi_net_is_estimate"
                case layerChiNet = "layer_chi_net", layerGradSq = "layer_grad_sq"
            }
        }
        public var format = "spectop-dump"
        public var version = 1
        public var model: String
        public var step: Int
        public var loss: String
        public var trainable: String
        public var inputDim: Int
        public var outputDim: Int
        public var probeX = "../probe_x.npy"
        public var probeY = "../probe_y.npy"
        /// Batch B of the cross-batch measurement, in the model's folder (nil: none).
        public var crossX: String? = nil
        public var crossY: String? = nil
        public var layers: [Layer]
        public var metrics: Metrics
        /// True for a model that diverged: its weights are written as they
        /// are (NaN or huge) and its metrics are absent.
        public var diverged: Bool?
        enum CodingKeys: String, CodingKey {
            case format, version, model, step, loss, trainable, layers, metrics, diverged
            case inputDim = "input_dim", outputDim = "output_dim", probeX = "probe_x", probeY = "probe_y"
            case crossX = "cross_x", crossY = "cross_y"
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case write(path: String, reason: String)
        public var description: String {
            switch self {
            case .write(let path, let reason): return "cannot write the state dump to \(path): \(reason)"
            }
        }
    }

    /// What a dump wrote, and the models it could not write (one message each).
    public struct Report: Sendable {
        public var written: [URL] = []
        public var failures: [String] = []
        /// The models written as diverged, in the order of `runs`.
        public var diverged: [String] = []
    }

    /// Writes the dump of `runs` (their models must be idle: see
    /// `Engine.withModelsIdle`). A model that cannot be written (its metrics
    /// fail, a file cannot be written) is reported in `failures` and the
    /// others are still written; the ids in `diverged` are marked in their
    /// manifests. Throws only when the directory or the probe files cannot be written.
    @discardableResult
    public static func write(runs: [ModelRun], probe: Dataset, to directory: URL, diverged: Set<String> = [],
                             maxKernelSize: Int = EngineConfiguration.defaultExactLimit,
                             matrixFree: MatrixFreeSettings? = MatrixFreeSettings()) throws -> Report {
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw Failure.write(path: directory.path, reason: (error as NSError).localizedDescription)
        }
        try writeBatch(probe, x: directory.appendingPathComponent("probe_x.npy"), y: directory.appendingPathComponent("probe_y.npy"))
        var report = Report()
        for run in runs {
            if diverged.contains(run.plan.id) { report.diverged.append(run.plan.id) }
            do {
                report.written.append(try writeModel(run, probe: probe, to: directory, diverged: diverged.contains(run.plan.id),
                                                     maxKernelSize: maxKernelSize, matrixFree: matrixFree))
            } catch {
                report.failures.append("\(run.plan.id): \(error)")
            }
        }
        return report
    }

    private static func put(_ data: Data, _ url: URL) throws {
        do { try data.write(to: url, options: .atomic) } catch {
            throw Failure.write(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    /// A batch as `x` [n, d] and `y` ([n, C] values or [n] labels).
    private static func writeBatch(_ batch: Dataset, x: URL, y: URL) throws {
        try put(NPYFile.encode(batch.inputs.storage, shape: [batch.count, batch.inputDim]), x)
        switch batch.targets {
        case .values(let values): try put(NPYFile.encode(values.storage, shape: [values.rows, values.cols]), y)
        case .labels(let labels, _): try put(NPYFile.encode(labels.map(Int64.init), shape: [labels.count]), y)
        }
    }

    private static func writeModel(_ run: ModelRun, probe: Dataset, to directory: URL, diverged: Bool,
                                   maxKernelSize: Int, matrixFree: MatrixFreeSettings?) throws -> URL {
        let fm = FileManager.default
        let folder = directory.appendingPathComponent(run.plan.id, isDirectory: true)
        do { try fm.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw Failure.write(path: folder.path, reason: (error as NSError).localizedDescription)
        }
        let model = run.model
        var layers: [Manifest.Layer] = []
        for (l, layer) in model.layers.enumerated() {
            let weights = Array(model.parameters[layer.weightOffset..<layer.biasOffset])
            let biases = Array(model.parameters[layer.biasOffset..<layer.end])
            let weightName = "layer\(l)_weight.npy", biasName = "layer\(l)_bias.npy"
            try put(NPYFile.encode(weights, shape: [layer.fanOut, layer.fanIn]), folder.appendingPathComponent(weightName))
            try put(NPYFile.encode(biases, shape: [layer.fanOut]), folder.appendingPathComponent(biasName))
            layers.append(.init(weight: weightName, bias: biasName, weightShape: [layer.fanOut, layer.fanIn],
                                biasShape: [layer.fanOut], weightMultiplier: Double(layer.weightMultiplier),
                                biasMultiplier: Double(layer.biasMultiplier), activation: layer.activation.rawValue))
        }
        // A diverged model's metrics are not finite: skip them (and its kernel).
        let (measurement, spectrum) = diverged ? (nil, nil)
            : try run.measureWithoutRecording(maxKernelSize: maxKernelSize, matrixFree: matrixFree)
        var eigenFile: String?
        if let spectrum {
            eigenFile = "eigenvalues.npy"
            try put(NPYFile.encode(spectrum.eigenvalues, shape: [spectrum.eigenvalues.count]), folder.appendingPathComponent("eigenvalues.npy"))
            try put(NPYFile.encode(spectrum.weights, shape: [spectrum.weights.count]), folder.appendingPathComponent("mode_weights.npy"))
        }
        func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
        var metrics = Manifest.Metrics(
            loss: finite(measurement?.loss), chiLoss: finite(measurement?.chiLoss), chiNet: finite(measurement?.chiNet),
            chiPos: finite(measurement?.chiPos), chiPosExact: finite(spectrum?.chiPosExact),
            lambdaEff: finite(spectrum?.lambdaEff), rEff: finite(spectrum?.rEff), gradSq: finite(measurement?.gradSq),
            effectiveRank: finite(spectrum?.effectiveRank), chiNetIsEstimate: measurement?.traceIsEstimate ?? false,
            eigenvalues: eigenFile, layerChiNet: measurement?.layerTraces ?? [], layerGradSq: measurement?.layerGradSq ?? [])
        metrics.spectrumMethod = spectrum?.method.rawValue
        if let spectrum, spectrum.isEstimate {
            metrics.modeCount = spectrum.modeCount
            metrics.rEffUncertainty = finite(spectrum.rEffUncertainty)
        }
        var crossFiles: (String, String)?
        if !diverged, let measurement, let cross = try run.crossMeasurementForDump(a: measurement), let batch = run.crossProbe?.probe {
            try writeBatch(batch, x: folder.appendingPathComponent("cross_x.npy"), y: folder.appendingPathComponent("cross_y.npy"))
            crossFiles = ("cross_x.npy", "cross_y.npy")
            metrics.crossLoss = finite(cross.loss)
            metrics.crossGradDot = finite(cross.gradDot)
            metrics.crossChiLoss = finite(cross.chiLoss)
            metrics.crossChiNet = finite(cross.chiNet)
            metrics.crossChiPos = finite(cross.chiPos)
        }
        var manifest = Manifest(model: run.plan.id, step: run.step, loss: probe.lossKind.rawValue,
                                trainable: model.featuresFrozen ? "readout" : "all",
                                inputDim: model.architecture.inputDim, outputDim: model.outputDim,
                                layers: layers, metrics: metrics, diverged: diverged ? true : nil)
        manifest.crossX = crossFiles?.0
        manifest.crossY = crossFiles?.1
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json: Data
        do { json = try encoder.encode(manifest) } catch {
            throw Failure.write(path: folder.path, reason: "manifest could not be encoded: \(error)")
        }
        try put(json, folder.appendingPathComponent("manifest.json"))
        return folder
    }
}
