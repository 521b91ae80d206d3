/// The memory an engine will need, computed from the sizes alone before any
/// model is allocated, so a configuration that cannot fit is refused with a
/// message instead of dying part-way through allocation.
///
/// It counts what the engine allocates (see the types named below), in bytes:
/// - per model (`MLP`, `Optimizer`, `ModelTrainer`, `LNPProbe`): parameters
///   and gradients, optimizer state, the training workspace (input plus
///   pre-activation, activation and delta per layer, for one batch), the probe
///   workspace (the same for n probe rows) and, where spectra are computed,
///   the kernel factors (per trainable layer [s a_{l−1} | t]: n × (fan_in + 1)
///   and δ_l: nC × fan_out, except the last hidden layer's on the
///   matrix-free path, and when that layer trains φ'(h_{L−1}): n × width and
///   s_L W_L: C × width; Float64; the readout alone for a frozen model),
///   and for a matrix-free spectrum the operator's scratch and the Lanczos
///   bases (`SpectrumPlan.matrixFreeDoubles`) — for a frozen model, whose
///   spectrum at that size is exact through the readout, its small Gram;
/// - per worker that computes spectra: its `SpectrumWorkspace`, the nC × nC
///   kernel (decomposed in place), one layer's delta Gram, the input Gram and
///   LAPACK's `dsyevd` workspace (1 + 6m + 2m² doubles) — about 4 m² doubles;
/// - the data: training and probe sets (Float32).
public struct MemoryEstimate: Sendable, Equatable {
    public var models: Int
    public var spectra: Int
    public var data: Int
    /// Saturating, as the parts are: a part at Int.max makes the total Int.max.
    public var total: Int { MemoryEstimate.add(MemoryEstimate.add(models, spectra), data) }

    public init(models: Int, spectra: Int, data: Int) {
        self.models = models; self.spectra = spectra; self.data = data
    }

    /// The estimate for `configuration`, with `workers` threads (0 = cores).
    /// Saturating: absurd sizes give Int.max instead of overflowing.
    public static func of(_ configuration: EngineConfiguration, cores: Int) -> MemoryEstimate {
        let probeRows = configuration.probe.count
        var modelBytes = 0
        var largestKernel = 0
        var spectrumModels = 0
        for plan in configuration.models {
            let a = plan.architecture
            let shapes = (0..<a.layerCount).map { a.layerShape($0) }
            let parameters = shapes.reduce(0) { add(add($0, saturating($1.0, $1.1)), $1.1) }
            let widths = shapes.reduce(0) { add($0, $1.1) }
            let optimizerCopies = plan.optimizer.kind == .adam ? 2 : 1
            var floats = saturating(parameters, 2 + optimizerCopies)
            floats = add(floats, saturating(plan.batchSize, a.inputDim + 3 * widths + a.outputDim))
            floats = add(floats, saturating(probeRows, a.inputDim + 3 * widths + a.outputDim))
            var bytes = saturating(floats, 4)
            let kernelSize = saturating(probeRows, a.outputDim)
            let trainable = plan.mode == .frozen ? Array(shapes.suffix(1)) : shapes
            // The last hidden layer's deltas (`KernelFactors.factoredLayer`)
            // exist only for the exact kernel; both paths hold their factors.
            var factors = 0, factoredDeltas = 0
            for (l, shape) in trainable.enumerated() {
                let deltas = saturating(kernelSize, shape.1)
                if trainable.count >= 2 && l == trainable.count - 2 {
                    factoredDeltas = deltas
                    factors = add(factors, saturating(add(probeRows, a.outputDim), shape.1))
                } else {
                    factors = add(factors, deltas)
                }
                factors = add(factors, saturating(probeRows, shape.0 + 1))
            }
            switch SpectrumPlan.choose(for: plan, in: configuration) {
            case .exact:
                bytes = add(bytes, saturating(add(factors, factoredDeltas), 8))
                largestKernel = max(largestKernel, kernelSize)
                spectrumModels += 1
            case .matrixFree where plan.mode == .frozen:
                // Exact through the readout (`SpectrumAnalysis.analyzeReadout`):
                // its factors, the p × p Gram, its eigenvectors and workspace
                // (p = fan_in + 1), U = B·Y (n × p) and three m-vectors — no
                // operator and no Lanczos bases, whatever top_k says.
                let p = add(shapes[shapes.count - 1].0, 1)
                let readout = add(add(saturating(saturating(p, p), 3), saturating(probeRows, p)), saturating(kernelSize, 3))
                bytes = add(bytes, saturating(add(factors, readout), 8))
            case .matrixFree(let settings):
                // No m² buffer: the factors, the operator's scratch and the
                // Lanczos bases, per model (counted as if all ran at once).
                bytes = add(bytes, saturating(add(factors, SpectrumPlan.matrixFreeDoubles(a, rows: probeRows, settings: settings)), 8))
            case .none:
                break
            }
            modelBytes = add(modelBytes, bytes)
        }
        let requested = configuration.workers > 0 ? configuration.workers : cores
        let concurrentSpectra = max(0, min(requested, cores, spectrumModels))
        let workspaceDoubles = add(saturating(saturating(largestKernel, largestKernel), 4), add(saturating(probeRows, probeRows), 8 * largestKernel))
        let spectrumBytes = saturating(saturating(workspaceDoubles, 8), concurrentSpectra)
        let train = configuration.train, probe = configuration.probe
        let dataFloats = add(saturating(train.count, train.inputDim + train.outputDim),
                             saturating(probe.count, probe.inputDim + probe.outputDim))
        return MemoryEstimate(models: modelBytes, spectra: spectrumBytes, data: saturating(dataFloats, 4))
    }

    private static func saturating(_ a: Int, _ b: Int) -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max : product
    }

    private static func add(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }
}
