/// A multilayer perceptron with all parameters in one flat buffer.
///
/// Layer l (0-based, L = `architecture.depth` hidden layers, readout l = L):
///
///     h_l = s_l · (a_{l−1} W_lᵀ) + t_l · b_l      W_l: [out, in], b_l: [out]
///     a_l = φ(h_l)  (identity for the readout)     a_{−1} = x: [rows, d]
///
/// Parameters are laid out layer by layer, W_l then b_l, so the readout's
/// parameters are the last slice and "train only the readout" is a suffix of
/// the buffer. Gradients mirror that layout. Forward/backward work on a
/// `MLPWorkspace` sized once for a row count, so no step allocates.
public final class MLP<Scalar: BLASScalar>: @unchecked Sendable {
    // @unchecked: a model is owned by one worker at a time (the engine's
    // scheduler guarantees it); nothing here is shared without that hand-off.

    /// Geometry and multipliers of one dense layer.
    public struct Layer: Sendable, Equatable {
        public let fanIn: Int
        public let fanOut: Int
        public let weightOffset: Int
        public let biasOffset: Int
        public let weightMultiplier: Scalar
        public let biasMultiplier: Scalar
        public let activation: Activation
        public var weightCount: Int { fanIn * fanOut }
        /// Offset of the first parameter after this layer.
        public var end: Int { biasOffset + fanOut }
    }

    public let architecture: MLPArchitecture
    public let layers: [Layer]
    public let parameterCount: Int
    /// θ, flat.
    public let parameters: UnsafeMutableBufferPointer<Scalar>
    /// ∂L/∂θ from the last `backward`, same layout. Entries before
    /// `trainableOffset` are left untouched.
    public let gradients: UnsafeMutableBufferPointer<Scalar>
    /// Index of the first layer that trains: 0 when active, the readout when frozen.
    public private(set) var firstTrainableLayer: Int

    /// Builds and initialises a model from the parameterization's distributions.
    public init(_ architecture: MLPArchitecture, generator: inout SeededGenerator) throws(ConfigurationError) {
        try architecture.validate()
        self.architecture = architecture
        var layers: [Layer] = []
        var offset = 0
        for l in 0..<architecture.layerCount {
            let (fanIn, fanOut) = architecture.layerShape(l)
            var (s, t) = architecture.parameterization.multipliers(
                layer: l, layerCount: architecture.layerCount, fanIn: fanIn, width: architecture.width)
            if l == architecture.depth {
                s *= architecture.outputScale
                t *= architecture.outputScale
            }
            let activation = l == architecture.depth ? Activation.identity : architecture.activation
            layers.append(Layer(fanIn: fanIn, fanOut: fanOut, weightOffset: offset, biasOffset: offset + fanIn * fanOut,
                                weightMultiplier: Scalar(s), biasMultiplier: Scalar(t), activation: activation))
            offset += fanIn * fanOut + fanOut
        }
        self.layers = layers
        self.parameterCount = offset
        parameters = .allocate(capacity: offset)
        parameters.initialize(repeating: 0)
        gradients = .allocate(capacity: offset)
        gradients.initialize(repeating: 0)
        firstTrainableLayer = 0
        for (l, layer) in layers.enumerated() {
            for i in 0..<layer.weightCount {
                parameters[layer.weightOffset + i] = Scalar(architecture.parameterization.initialWeight(
                    layer: l, layerCount: layers.count, fanIn: layer.fanIn, width: architecture.width, generator: &generator))
            }
            for i in 0..<layer.fanOut {
                parameters[layer.biasOffset + i] = Scalar(architecture.parameterization.initialBias(fanIn: layer.fanIn, generator: &generator))
            }
        }
    }

    /// Builds a model with the given layer multipliers and parameter values
    /// (used by tests and by the state dump round trip).
    public init(_ architecture: MLPArchitecture, multipliers: [(weight: Double, bias: Double)], parameters values: [Scalar]) throws(ConfigurationError) {
        try architecture.validate()
        guard multipliers.count == architecture.layerCount else {
            throw .invalid("expected \(architecture.layerCount) layer multipliers, got \(multipliers.count)")
        }
        guard values.count == architecture.parameterCount else {
            throw .invalid("expected \(architecture.parameterCount) parameters, got \(values.count)")
        }
        self.architecture = architecture
        var layers: [Layer] = []
        var offset = 0
        for l in 0..<architecture.layerCount {
            let (fanIn, fanOut) = architecture.layerShape(l)
            let activation = l == architecture.depth ? Activation.identity : architecture.activation
            layers.append(Layer(fanIn: fanIn, fanOut: fanOut, weightOffset: offset, biasOffset: offset + fanIn * fanOut,
                                weightMultiplier: Scalar(multipliers[l].weight), biasMultiplier: Scalar(multipliers[l].bias),
                                activation: activation))
            offset += fanIn * fanOut + fanOut
        }
        self.layers = layers
        parameterCount = offset
        parameters = .allocate(capacity: offset)
        _ = parameters.initialize(from: values)
        gradients = .allocate(capacity: offset)
        gradients.initialize(repeating: 0)
        firstTrainableLayer = 0
    }

    deinit {
        parameters.deallocate()
        gradients.deallocate()
    }

    /// Output dimension C.
    public var outputDim: Int { architecture.outputDim }
    public var readoutLayer: Int { layers.count - 1 }
    /// True when only the readout trains.
    public var featuresFrozen: Bool { firstTrainableLayer == readoutLayer }
    /// First trainable parameter; θ[trainableOffset...] is what the optimizer updates.
    public var trainableOffset: Int { layers[firstTrainableLayer].weightOffset }
    public var trainableParameterCount: Int { parameterCount - trainableOffset }

    /// Freezes the hidden layers from now on (a frozen model, or a live
    /// intervention on an active one). Irreversible by design: unfreezing
    /// would mix two regimes in one curve.
    public func freezeFeatures() { firstTrainableLayer = readoutLayer }

    /// Parameter values as an array (copies).
    public var parameterValues: [Scalar] { Array(parameters) }

    // MARK: Forward

    /// Runs the network on `rows` inputs already in `workspace.input`.
    /// Afterwards `workspace.output` holds f: [rows, C], and the workspace
    /// keeps every h_l and a_l that backward needs.
    public func forward(rows: Int, workspace: MLPWorkspace<Scalar>) {
        precondition(rows <= workspace.capacity, "batch larger than the workspace")
        precondition(workspace.fits(self), "workspace built for another architecture")
        var input = UnsafePointer(workspace.input)
        // Index loop, not `layers.enumerated()`: in unspecialized generic code
        // (debug builds, callers in other modules) iterating an array of the
        // generic `Layer` heap-allocates a coroutine frame per element.
        for l in layers.indices {
            let layer = layers[l]
            let pre = workspace.preActivation(l)
            let post = workspace.activation(l)
            let w = UnsafePointer(parameters.baseAddress! + layer.weightOffset)
            // pre = s · input · Wᵀ
            Scalar.gemm(transA: false, transB: true, m: rows, n: layer.fanOut, k: layer.fanIn,
                        alpha: layer.weightMultiplier, a: input, lda: layer.fanIn, b: w, ldb: layer.fanIn,
                        beta: 0, c: pre, ldc: layer.fanOut)
            // pre += t · b, post = φ(pre): one pass
            layer.activation.addBiasAndApply(pre, bias: UnsafePointer(parameters.baseAddress! + layer.biasOffset),
                                             biasMultiplier: layer.biasMultiplier, post, rows: rows, cols: layer.fanOut)
            input = UnsafePointer(post)
        }
    }

    // MARK: Backward

    /// Back-propagates ∂L/∂f (in `workspace.outputGradient`, [rows, C])
    /// through the trainable layers, in reverse order.
    ///
    /// Leaves δ_l = ∂L/∂h_l in `workspace.delta(l)` for every trainable layer
    /// (the metrics read them). When `parameterGradients` is true it also
    /// overwrites `gradients` for the trainable layers; otherwise only the
    /// deltas are computed (cheaper: the per-output passes for Tr Θ need no
    /// weight gradients).
    public func backward(rows: Int, workspace: MLPWorkspace<Scalar>, parameterGradients: Bool = true) {
        let last = readoutLayer
        workspace.delta(last).update(from: workspace.outputGradient, count: rows * layers[last].fanOut)
        var l = last
        while l >= firstTrainableLayer {
            let layer = layers[l]
            let delta = UnsafePointer(workspace.delta(l))
            let input = l == 0 ? UnsafePointer(workspace.input) : UnsafePointer(workspace.activation(l - 1))
            if parameterGradients {
                // dW = s · δᵀ · a_{l−1}: [out, in]
                Scalar.gemm(transA: true, transB: false, m: layer.fanOut, n: layer.fanIn, k: rows,
                            alpha: layer.weightMultiplier, a: delta, lda: layer.fanOut, b: input, ldb: layer.fanIn,
                            beta: 0, c: gradients.baseAddress! + layer.weightOffset, ldc: layer.fanIn)
                let db = gradients.baseAddress! + layer.biasOffset
                if l == last {
                    // Below the readout the previous iteration's derivative
                    // pass has already summed δ's columns into db.
                    for j in 0..<layer.fanOut { db[j] = 0 }
                    for r in 0..<rows {
                        let row = delta + r * layer.fanOut
                        for j in 0..<layer.fanOut { db[j] += row[j] }
                    }
                }
                let t = layer.biasMultiplier
                for j in 0..<layer.fanOut { db[j] *= t }
            }
            if l > firstTrainableLayer {
                // δ_{l−1} = (s · δ_l · W_l) ⊙ φ'(h_{l−1})
                let previous = layers[l - 1]
                let target = workspace.delta(l - 1)
                Scalar.gemm(transA: false, transB: false, m: rows, n: layer.fanIn, k: layer.fanOut,
                            alpha: layer.weightMultiplier, a: delta, lda: layer.fanOut,
                            b: UnsafePointer(parameters.baseAddress! + layer.weightOffset), ldb: layer.fanIn,
                            beta: 0, c: target, ldc: layer.fanIn)
                let pre = UnsafePointer(workspace.preActivation(l - 1))
                let post = UnsafePointer(workspace.activation(l - 1))
                if parameterGradients {
                    // Layer l − 1 trains (l > firstTrainableLayer): its bias
                    // gradient's column sums come out of the same pass over δ.
                    previous.activation.multiplyByDerivative(
                        target, pre: pre, post: post, rows: rows, cols: previous.fanOut,
                        columnSums: gradients.baseAddress! + previous.biasOffset)
                } else {
                    previous.activation.multiplyByDerivative(target, pre: pre, post: post, count: rows * previous.fanOut)
                }
            }
            l -= 1
        }
    }
}

/// Preallocated buffers for forward and backward passes on up to `capacity`
/// rows: the input, and per layer the pre-activation h_l, the activation a_l
/// and the delta δ_l. One allocation, sliced into views.
public final class MLPWorkspace<Scalar: BLASScalar>: @unchecked Sendable {
    // @unchecked: owned by the same worker as its model.
    public let capacity: Int
    public let inputDim: Int
    public let layerWidths: [Int]
    private let storage: UnsafeMutableBufferPointer<Scalar>
    private let preOffsets: [Int]
    private let postOffsets: [Int]
    private let deltaOffsets: [Int]
    private let outputGradientOffset: Int

    public init(for model: MLP<Scalar>, capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
        inputDim = model.architecture.inputDim
        layerWidths = model.layers.map(\.fanOut)
        var offset = capacity * inputDim
        var pre: [Int] = [], post: [Int] = [], delta: [Int] = []
        for w in layerWidths {
            pre.append(offset); offset += capacity * w
            post.append(offset); offset += capacity * w
            delta.append(offset); offset += capacity * w
        }
        outputGradientOffset = offset
        offset += capacity * (layerWidths.last ?? 0)
        preOffsets = pre; postOffsets = post; deltaOffsets = delta
        storage = .allocate(capacity: offset)
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    /// Whether this workspace has the input size and layer widths of `model`.
    /// Compares in place: `forward` checks this on every call, and building
    /// `model.layers.map(\.fanOut)` for the comparison would heap-allocate an
    /// array in the training hot loop.
    public func fits(_ model: MLP<Scalar>) -> Bool {
        guard inputDim == model.architecture.inputDim, layerWidths.count == model.layers.count else { return false }
        // Indices, not `zip`: see the loop in `MLP.forward`.
        for l in layerWidths.indices where layerWidths[l] != model.layers[l].fanOut { return false }
        return true
    }

    /// x: [capacity, d]; fill the first `rows` rows before `forward`.
    public var input: UnsafeMutablePointer<Scalar> { storage.baseAddress! }
    public func preActivation(_ l: Int) -> UnsafeMutablePointer<Scalar> { storage.baseAddress! + preOffsets[l] }
    public func activation(_ l: Int) -> UnsafeMutablePointer<Scalar> { storage.baseAddress! + postOffsets[l] }
    public func delta(_ l: Int) -> UnsafeMutablePointer<Scalar> { storage.baseAddress! + deltaOffsets[l] }
    /// f: [rows, C] after `forward`.
    public var output: UnsafeMutablePointer<Scalar> { activation(layerWidths.count - 1) }
    /// ∂L/∂f: [rows, C]; write it before `backward`.
    public var outputGradient: UnsafeMutablePointer<Scalar> { storage.baseAddress! + outputGradientOffset }

    /// Copies rows of a data matrix into `input` (converting precision).
    public func loadInputs(_ source: Matrix<Float>, rows indices: UnsafeBufferPointer<Int>) {
        precondition(indices.count <= capacity && source.cols == inputDim)
        source.storage.withUnsafeBufferPointer { src in
            for (r, i) in indices.enumerated() {
                let from = src.baseAddress! + i * inputDim
                let to = input + r * inputDim
                for j in 0..<inputDim { to[j] = Scalar(from[j]) }
            }
        }
    }

    /// Copies the first `rows` rows of a matrix into `input`.
    public func loadInputs<S: BLASScalar>(_ source: Matrix<S>, count rows: Int) {
        precondition(rows <= capacity && source.cols == inputDim && rows <= source.rows)
        source.storage.withUnsafeBufferPointer { src in
            for k in 0..<(rows * inputDim) { input[k] = Scalar(src[k]) }
        }
    }
}
