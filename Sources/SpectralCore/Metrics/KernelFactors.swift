/// The per-layer factors of the exact eNTK of an MLP on n probe samples:
/// the layer inputs a_{l−1}: [n, fan_in] and the output-seeded deltas
/// δ_l^{(c)}, stacked so that row i·C + c holds δ_{l,i}^{(c)}: [nC, fan_out].
/// Filled in Double by `LNPProbe.measure` during its C backward passes.
/// Allocated once per model and reused at every spectrum step.
public final class KernelFactors: @unchecked Sendable {
    // @unchecked: owned by one worker together with its model.
    public let rowCount: Int
    public let outputDim: Int
    public private(set) var activations: [Matrix<Double>]
    public private(set) var deltas: [Matrix<Double>]
    public private(set) var weightMultipliers: [Double]
    public private(set) var biasMultipliers: [Double]
    /// Layers whose parameters train (their Θ_l enters Θ).
    public private(set) var firstLayer = 0

    public init<Scalar: BLASScalar>(model: MLP<Scalar>, rows: Int) {
        rowCount = rows
        outputDim = model.outputDim
        activations = model.layers.map { Matrix(rows: rows, cols: $0.fanIn) }
        deltas = model.layers.map { Matrix(rows: rows * model.outputDim, cols: $0.fanOut) }
        weightMultipliers = model.layers.map { Double($0.weightMultiplier) }
        biasMultipliers = model.layers.map { Double($0.biasMultiplier) }
    }

    func storeActivations<Scalar: BLASScalar>(layer l: Int, _ a: UnsafePointer<Scalar>, rows: Int, cols: Int) {
        precondition(rows == rowCount && cols == activations[l].cols)
        activations[l].storage.withUnsafeMutableBufferPointer { dst in
            for k in 0..<(rows * cols) { dst[k] = Double(a[k]) }
        }
    }

    func storeDeltas<Scalar: BLASScalar>(layer l: Int, output c: Int, _ delta: UnsafePointer<Scalar>, rows: Int, cols: Int) {
        precondition(rows == rowCount && cols == deltas[l].cols)
        let stride = outputDim
        deltas[l].storage.withUnsafeMutableBufferPointer { dst in
            for i in 0..<rows {
                let to = dst.baseAddress! + (i * stride + c) * cols
                let from = delta + i * cols
                for j in 0..<cols { to[j] = Double(from[j]) }
            }
        }
    }

    func finish<Scalar: BLASScalar>(firstLayer: Int, model: MLP<Scalar>) {
        self.firstLayer = firstLayer
        weightMultipliers = model.layers.map { Double($0.weightMultiplier) }
        biasMultipliers = model.layers.map { Double($0.biasMultiplier) }
    }
}

/// Builds the exact eNTK from `KernelFactors` with the Gram–Hadamard formula
/// of METHOD.md, using GEMMs only — no Jacobian of size nC×P is ever formed:
///
///     Θ[(i,c),(j,c')] = Σ_l ( s_l² ⟨a_{l−1,i}, a_{l−1,j}⟩ + t_l² ) · ⟨δ_{l,i}^{(c)}, δ_{l,j}^{(c')}⟩
public enum EmpiricalNTK {
    /// Θ over the trainable layers: [nC, nC], row/column index i·C + c.
    public static func kernel(_ factors: KernelFactors) -> Matrix<Double> {
        kernel(factors, interrupted: { false })!
    }

    /// Θ as above, asking `interrupted` before each layer; nil when it said
    /// yes (a stop or pause arrived while a large kernel was being built).
    public static func kernel(_ factors: KernelFactors, interrupted: () -> Bool) -> Matrix<Double>? {
        var theta = Matrix<Double>(rows: factors.rowCount * factors.outputDim, cols: factors.rowCount * factors.outputDim)
        for l in factors.firstLayer..<factors.deltas.count {
            if interrupted() { return nil }
            accumulateLayer(l, factors, into: &theta)
        }
        return theta
    }

    /// Θ_l of one layer alone.
    public static func layerKernel(_ l: Int, _ factors: KernelFactors) -> Matrix<Double> {
        var theta = Matrix<Double>(rows: factors.rowCount * factors.outputDim, cols: factors.rowCount * factors.outputDim)
        accumulateLayer(l, factors, into: &theta)
        return theta
    }

    private static func accumulateLayer(_ l: Int, _ factors: KernelFactors, into theta: inout Matrix<Double>) {
        let n = factors.rowCount, c = factors.outputDim, m = n * c
        let s2 = factors.weightMultipliers[l] * factors.weightMultipliers[l]
        let t2 = factors.biasMultipliers[l] * factors.biasMultipliers[l]
        let inputGram = factors.activations[l].gram()     // [n, n]
        let deltaGram = factors.deltas[l].gram()          // [nC, nC]
        theta.storage.withUnsafeMutableBufferPointer { out in
            inputGram.storage.withUnsafeBufferPointer { a in
                deltaGram.storage.withUnsafeBufferPointer { d in
                    for row in 0..<m {
                        let i = row / c
                        for col in 0..<m {
                            let j = col / c
                            out[row * m + col] += (s2 * a[i * n + j] + t2) * d[row * m + col]
                        }
                    }
                }
            }
        }
    }
}
