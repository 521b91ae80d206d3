/// How Tr Θ is computed.
public enum TraceEstimator: Sendable, Equatable {
    /// Exact: C batched backward passes with the outer-product norm identity.
    case exact
    /// Unbiased Hutchinson estimate E_v ‖Jᵀv‖² with `samples` Rademacher
    /// vectors v ∈ R^{nC}: `samples` backward passes whatever C is.
    case hutchinson(samples: Int)
}

/// The kernel-free LNP measurement of METHOD.md, with its per-layer split.
public struct LNPMeasurement: Sendable, Equatable {
    public var loss: Double
    /// ‖g‖².
    public var chiLoss: Double
    /// Tr Θ.
    public var chiNet: Double
    /// gᵀΘg = ‖Jᵀg‖².
    public var gradSq: Double
    /// Tr Θ_l per layer (0 for frozen layers).
    public var layerTraces: [Double]
    /// gᵀΘ_l g per layer.
    public var layerGradSq: [Double]
    public var traceIsEstimate: Bool
    /// The cross-batch measurement on the same parameters (`ModelRun` adds it
    /// when the experiment asks for one).
    public var cross: CrossBatchSample?

    /// gᵀΘg / (‖g‖² Tr Θ); nil when ‖g‖ = 0, Tr Θ = 0 or anything is not finite.
    public var chiPos: Double? {
        let denominator = chiLoss * chiNet
        guard denominator > 0, denominator.isFinite, gradSq.isFinite else { return nil }
        return gradSq / denominator
    }

    /// The first quantity that is NaN or infinite ("the loss", "χ_net", …),
    /// nil when all are finite. A model whose measurement is not finite has
    /// diverged, even while its loss still is (8.6e40 is finite; its χ_net was not).
    public var nonFiniteQuantity: String? {
        if !loss.isFinite { return "the loss" }
        if !chiLoss.isFinite { return "χ_loss" }
        if !chiNet.isFinite || !layerTraces.allSatisfy(\.isFinite) { return "χ_net" }
        if !gradSq.isFinite || !layerGradSq.allSatisfy(\.isFinite) { return "‖∇L‖²" }
        return nil
    }

    /// Each layer's share of χ_net and of the gradient.
    public var layerShares: [LayerShare] {
        LayerShare.shares(chiNet: layerTraces, gradSq: layerGradSq, totalChiNet: chiNet, totalGradSq: gradSq)
    }
}

/// Measures χ_loss, χ_net and χ_pos of a model on a fixed probe set without
/// forming the kernel (METHOD.md, "Computing it without the kernel"), and
/// collects what the exact eNTK needs on the way.
///
/// Owns a workspace for the probe rows, so the passes themselves allocate
/// nothing; `measure` allocates only its small per-layer results (a few
/// arrays of layer count and probe size), and the eNTK factors live in a
/// `KernelFactors` the caller allocates once.
public final class LNPProbe<Scalar: BLASScalar>: @unchecked Sendable {
    // @unchecked: owned by one worker together with its model.
    public private(set) var probe: Dataset
    public let rowCount: Int
    public let outputDim: Int
    private let workspace: MLPWorkspace<Scalar>
    private let targets: TargetBuffer<Scalar>
    /// g = ∂L/∂F from the last measurement, [n, C], Double.
    public private(set) var residualGradient: [Double]
    private var generator: SeededGenerator
    /// ∇_θL over the trainable parameters from the last measurement, kept only
    /// when `keepsParameterGradient` (the cross-batch dot product needs it).
    public private(set) var parameterGradient: [Double] = []
    public var keepsParameterGradient = false

    public init(model: MLP<Scalar>, probe: Dataset, seed: UInt64 = 0x5EC7) throws(ConfigurationError) {
        guard probe.count > 0 else { throw .invalid("the probe set is empty") }
        guard probe.inputDim == model.architecture.inputDim, probe.outputDim == model.outputDim else {
            throw .invalid("probe set shape does not match the model")
        }
        self.probe = probe
        rowCount = probe.count
        outputDim = model.outputDim
        workspace = MLPWorkspace(for: model, capacity: probe.count)
        targets = TargetBuffer(kind: probe.lossKind, outputDim: model.outputDim, capacity: probe.count)
        targets.load(probe.targets, count: probe.count)
        residualGradient = Array(repeating: 0, count: probe.count * model.outputDim)
        generator = SeededGenerator(seed: seed)
    }

    /// Replaces the rows measured with `batch` of the same size and shape (the
    /// cross-batch probe's next training batch).
    public func load(_ batch: Dataset) throws(ConfigurationError) {
        guard batch.count == rowCount, batch.inputDim == probe.inputDim, batch.outputDim == outputDim,
              batch.lossKind == probe.lossKind else {
            throw .invalid("a cross batch must have \(rowCount) rows shaped like the probe's")
        }
        probe = batch
        targets.load(batch.targets, count: rowCount)
    }

    /// Runs the probe forward and returns its outputs f: [n, C] (for tests
    /// and the state dump).
    public func outputs(of model: MLP<Scalar>) -> Matrix<Double> {
        workspace.loadInputs(probe.inputs, count: rowCount)
        model.forward(rows: rowCount, workspace: workspace)
        var f = Matrix<Double>(rows: rowCount, cols: outputDim)
        for k in 0..<(rowCount * outputDim) { f.storage[k] = Double(workspace.output[k]) }
        return f
    }

    /// Measures the model at its current parameters. Overwrites
    /// `model.gradients` (call it between optimizer steps, not inside one).
    ///
    /// When `kernelFactors` is non-nil, the per-layer activations a_{l−1} and
    /// the deltas δ_l^{(c)} of every output are copied into it, in Double, for
    /// `EmpiricalNTK` (exact estimator only).
    ///
    /// Exported specialized for Float, like `ModelTrainer.trainStep()`, so
    /// that callers in other modules run the same code as the engine.
    @_specialize(exported: true, where Scalar == Float)
    public func measure(_ model: MLP<Scalar>, estimator: TraceEstimator = .exact,
                        kernelFactors: KernelFactors? = nil) -> LNPMeasurement {
        let n = rowCount, c = outputDim
        workspace.loadInputs(probe.inputs, count: n)
        model.forward(rows: n, workspace: workspace)
        let loss = Loss.evaluate(probe.lossKind, outputs: workspace.output, targets: targets, rows: n,
                                 gradient: workspace.outputGradient)
        var chiLoss = 0.0
        for k in 0..<(n * c) {
            let g = Double(workspace.outputGradient[k])
            residualGradient[k] = g
            chiLoss += g * g
        }
        let layerCount = model.layers.count
        let first = model.firstTrainableLayer
        var layerGradSq = Array(repeating: 0.0, count: layerCount)
        var layerTraces = Array(repeating: 0.0, count: layerCount)

        // gᵀΘg = ‖∇_θ L‖², split by layer: one ordinary backward pass.
        model.backward(rows: n, workspace: workspace)
        for l in first..<layerCount { layerGradSq[l] = sumOfSquares(model, layer: l) }
        if keepsParameterGradient {
            let start = model.layers[first].weightOffset, end = model.layers[layerCount - 1].end
            let g = model.gradients.baseAddress!
            parameterGradient = (start..<end).map { Double(g[$0]) }
        }

        switch estimator {
        case .exact:
            // ‖a_{l−1,i}‖² per row, once per layer: it does not depend on c.
            var inputNorms: [[Double]] = Array(repeating: [], count: layerCount)
            for l in first..<layerCount {
                let fanIn = model.layers[l].fanIn
                let a = l == 0 ? UnsafePointer(workspace.input) : UnsafePointer(workspace.activation(l - 1))
                inputNorms[l] = (0..<n).map { i in rowSquaredNorm(a + i * fanIn, count: fanIn) }
                kernelFactors?.storeScaledInputs(layer: l, a, rows: n, cols: fanIn, weightMultiplier: model.layers[l].weightMultiplier,
                                                 biasMultiplier: model.layers[l].biasMultiplier)
            }
            let factored = kernelFactors?.factoredLayer.flatMap { $0 >= first ? $0 : nil }
            if let factored {
                kernelFactors?.storeFactoredDeltas(model: model, pre: UnsafePointer(workspace.preActivation(factored)),
                                                   post: UnsafePointer(workspace.activation(factored)))
            }
            for output in 0..<c {
                // ∂f_c/∂h_l for every sample at once: seed the readout with e_c.
                let seed = workspace.outputGradient
                for k in 0..<(n * c) { seed[k] = 0 }
                for i in 0..<n { seed[i * c + output] = 1 }
                model.backward(rows: n, workspace: workspace, parameterGradients: false)
                for l in first..<layerCount {
                    let layer = model.layers[l]
                    let s = Double(layer.weightMultiplier), t = Double(layer.biasMultiplier)
                    let delta = UnsafePointer(workspace.delta(l))
                    var trace = 0.0
                    for i in 0..<n {
                        // ‖s δ aᵀ‖²_F + ‖t δ‖² = ‖δ‖² (s²‖a‖² + t²)
                        let deltaNorm = rowSquaredNorm(delta + i * layer.fanOut, count: layer.fanOut)
                        trace += deltaNorm * (s * s * inputNorms[l][i] + t * t)
                    }
                    layerTraces[l] += trace
                    if l != factored { kernelFactors?.storeDeltas(layer: l, output: output, delta, rows: n, cols: layer.fanOut) }
                }
            }
        case .hutchinson(let samples):
            let count = max(1, samples)
            for _ in 0..<count {
                let v = workspace.outputGradient
                for k in 0..<(n * c) { v[k] = (generator.next() & 1) == 0 ? -1 : 1 }
                model.backward(rows: n, workspace: workspace)
                for l in first..<layerCount { layerTraces[l] += sumOfSquares(model, layer: l) / Double(count) }
            }
        }
        kernelFactors?.finish(firstLayer: first)
        var estimate = false
        if case .hutchinson = estimator { estimate = true }
        return LNPMeasurement(loss: loss, chiLoss: chiLoss, chiNet: layerTraces.reduce(0, +),
                              gradSq: layerGradSq.reduce(0, +), layerTraces: layerTraces,
                              layerGradSq: layerGradSq, traceIsEstimate: estimate)
    }

    private func sumOfSquares(_ model: MLP<Scalar>, layer l: Int) -> Double {
        let layer = model.layers[l]
        let g = model.gradients.baseAddress! + layer.weightOffset
        return rowSquaredNorm(UnsafePointer(g), count: layer.end - layer.weightOffset)
    }
}

@inline(__always)
func rowSquaredNorm<Scalar: BLASScalar>(_ p: UnsafePointer<Scalar>, count: Int) -> Double {
    var sum = 0.0
    for k in 0..<count {
        let x = Double(p[k])
        sum += x * x
    }
    return sum
}
