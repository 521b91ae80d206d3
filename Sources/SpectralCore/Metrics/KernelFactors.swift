/// The per-layer factors of the exact eNTK of an MLP on n probe samples:
/// the layer inputs with their multipliers and a bias column,
/// B_l = [s_l a_{l−1} | t_l 1]: [n, fan_in + 1], and the output-seeded deltas
/// δ_l^{(c)}, stacked so that row i·C + c holds δ_{l,i}^{(c)}: [nC, fan_out].
/// Filled in Double by `LNPProbe.measure` during its C backward passes.
/// Allocated once per model, for its trainable layers only (the others keep
/// their column counts and no rows; so does the last hidden layer's until
/// the exact kernel asks for it, see `factoredLayer`), and reused at every
/// spectrum step.
public final class KernelFactors: @unchecked Sendable {
    // @unchecked: owned by one worker together with its model.
    public let rowCount: Int
    public let outputDim: Int
    /// B_l: one GEMM with it gives a layer's weight and bias parts together
    /// (`NTKOperator`), and B_l B_lᵀ = s_l² A Aᵀ + t_l² is the input factor of
    /// the exact kernel (`EmpiricalNTK`, the readout's small Gram).
    public private(set) var scaledInputs: [Matrix<Double>]
    public private(set) var deltas: [Matrix<Double>]
    /// The first layer with factors (the model's first trainable layer when
    /// they were allocated); `firstLayer` never goes below it.
    public let allocatedFrom: Int
    /// Layers whose parameters train (their Θ_l enters Θ).
    public private(set) var firstLayer = 0
    /// The last hidden layer L−1 when it trains, whose deltas factor through
    /// the readout: the output is linear in its activations, so
    /// δ_{L−1,i}^{(c)} = φ'(h_{L−1,i}) ⊙ r_c with r_c = s_L W_L[c, :] for every
    /// sample and output. `NTKOperator` contracts through these two small
    /// factors instead of streaming the nC × fan_out deltas; those are built
    /// from them only for the exact kernel (`materializeFactoredDeltas`), so on
    /// the matrix-free path `deltas[factoredLayer]` stays empty (nC × fan_out
    /// doubles never allocated: 210 MB at m = 102,400, width 256). Nil
    /// without such a layer.
    public let factoredLayer: Int?
    /// r_c = s_L W_L[c, :], row c: [C, fan_out of L−1].
    public private(set) var readoutRows: Matrix<Double>
    /// φ'(h_{L−1}) per sample: [n, fan_out of L−1].
    public private(set) var hiddenDerivative: Matrix<Double>
    /// Whether `deltas[factoredLayer]` holds the deltas of the current factors.
    private var factoredDeltasCurrent = false

    public init<Scalar: BLASScalar>(model: MLP<Scalar>, rows: Int) {
        rowCount = rows
        outputDim = model.outputDim
        let first = model.firstTrainableLayer
        allocatedFrom = first
        firstLayer = first
        scaledInputs = model.layers.enumerated().map { l, layer in Matrix(rows: l >= first ? rows : 0, cols: layer.fanIn + 1) }
        let hidden = model.layers.count - 2
        factoredLayer = hidden >= first ? hidden : nil
        deltas = model.layers.enumerated().map { l, layer in
            Matrix(rows: l >= first && l != hidden ? rows * model.outputDim : 0, cols: layer.fanOut)
        }
        let hiddenWidth = hidden >= first ? model.layers[hidden].fanOut : 0
        readoutRows = Matrix(rows: hidden >= first ? model.outputDim : 0, cols: hiddenWidth)
        hiddenDerivative = Matrix(rows: hidden >= first ? rows : 0, cols: hiddenWidth)
    }

    /// B_l from the layer's inputs a_{l−1}: [rows, cols].
    func storeScaledInputs<Scalar: BLASScalar>(layer l: Int, _ a: UnsafePointer<Scalar>, rows: Int, cols: Int,
                                               weightMultiplier: Scalar, biasMultiplier: Scalar) {
        precondition(l >= allocatedFrom && rows == rowCount && cols + 1 == scaledInputs[l].cols)
        let s = Double(weightMultiplier), t = Double(biasMultiplier)
        scaledInputs[l].storage.withUnsafeMutableBufferPointer { dst in
            for i in 0..<rows {
                let row = dst.baseAddress! + i * (cols + 1), from = a + i * cols
                for k in 0..<cols { row[k] = s * Double(from[k]) }
                row[cols] = t
            }
        }
    }

    func storeDeltas<Scalar: BLASScalar>(layer l: Int, output c: Int, _ delta: UnsafePointer<Scalar>, rows: Int, cols: Int) {
        precondition(l >= allocatedFrom && rows == rowCount && cols == deltas[l].cols)
        let stride = outputDim
        deltas[l].storage.withUnsafeMutableBufferPointer { dst in
            for i in 0..<rows {
                let to = dst.baseAddress! + (i * stride + c) * cols
                let from = delta + i * cols
                for j in 0..<cols { to[j] = Double(from[j]) }
            }
        }
    }

    /// The factors of the last hidden layer's deltas after a forward pass
    /// (`pre`, `post`: its h and φ(h), [n, fan_out]). The deltas themselves
    /// wait for `materializeFactoredDeltas`.
    func storeFactoredDeltas<Scalar: BLASScalar>(model: MLP<Scalar>, pre: UnsafePointer<Scalar>, post: UnsafePointer<Scalar>) {
        guard let l = factoredLayer else { return }
        let readout = model.layers[l + 1], hidden = model.layers[l]
        let width = hidden.fanOut, outputs = outputDim, n = rowCount
        let s = Double(readout.weightMultiplier)
        let w = model.parameters.baseAddress! + readout.weightOffset  // [C, width]
        readoutRows.storage.withUnsafeMutableBufferPointer { r in
            for k in 0..<(outputs * width) { r[k] = s * Double(w[k]) }
        }
        let activation = hidden.activation
        hiddenDerivative.storage.withUnsafeMutableBufferPointer { d in
            for k in 0..<(n * width) { d[k] = Double(activation.derivative(pre: pre[k], post: post[k])) }
        }
        factoredDeltasCurrent = false
    }

    /// The last hidden layer's deltas from its factors, δ[iC + c, k] =
    /// φ'(h_ik)·r_ck, in Double, for the exact kernel (allocated at the first
    /// call, rebuilt once after each `storeFactoredDeltas`). φ' and W_L are
    /// the model's own Scalar values and s_L·W_L is exact in Double, so the
    /// exact kernel (from these deltas) and the operator (from the factors)
    /// agree to Float64 round-off, and both differ from the backward pass's
    /// own Scalar deltas by that pass's rounding only.
    public func materializeFactoredDeltas() {
        guard let l = factoredLayer, l >= firstLayer, !factoredDeltasCurrent else { return }
        let width = hiddenDerivative.cols, outputs = outputDim, n = rowCount
        if deltas[l].rows != n * outputs { deltas[l] = Matrix(rows: n * outputs, cols: width) }
        readoutRows.storage.withUnsafeBufferPointer { r in
            hiddenDerivative.storage.withUnsafeBufferPointer { d in
                deltas[l].storage.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n {
                        let derivative = d.baseAddress! + i * width
                        for c in 0..<outputs {
                            let row = out.baseAddress! + (i * outputs + c) * width, readoutRow = r.baseAddress! + c * width
                            for k in 0..<width { row[k] = derivative[k] * readoutRow[k] }
                        }
                    }
                }
            }
        }
        factoredDeltasCurrent = true
    }

    func finish(firstLayer: Int) {
        precondition(firstLayer >= allocatedFrom, "kernel factors were allocated from layer \(allocatedFrom), not \(firstLayer)")
        self.firstLayer = firstLayer
    }
}

/// Builds the exact eNTK from `KernelFactors` with the Gram–Hadamard formula
/// of METHOD.md, using GEMMs only — no Jacobian of size nC×P is ever formed:
///
///     Θ[(i,c),(j,c')] = Σ_l ( s_l² ⟨a_{l−1,i}, a_{l−1,j}⟩ + t_l² ) · ⟨δ_{l,i}^{(c)}, δ_{l,j}^{(c')}⟩
///
/// where the first factor is ⟨B_{l,i}, B_{l,j}⟩, the Gram of the scaled inputs.
public enum EmpiricalNTK {
    /// Θ over the trainable layers: [nC, nC], row/column index i·C + c.
    public static func kernel(_ factors: KernelFactors) -> Matrix<Double> {
        factors.materializeFactoredDeltas()
        return withTemporaryBuffers(factors) { theta, inputGram, deltaGram in
            for l in factors.firstLayer..<factors.deltas.count {
                accumulateLayer(l, factors, into: theta, inputGram: inputGram, deltaGram: deltaGram)
            }
        }
    }

    /// Θ_l of one layer alone.
    public static func layerKernel(_ l: Int, _ factors: KernelFactors) -> Matrix<Double> {
        factors.materializeFactoredDeltas()
        return withTemporaryBuffers(factors) { theta, inputGram, deltaGram in
            accumulateLayer(l, factors, into: theta, inputGram: inputGram, deltaGram: deltaGram)
        }
    }

    /// Θ into `workspace.kernel` (row-major, nC × nC), with no allocation,
    /// asking `interrupted` before each layer; false when it said yes (a stop
    /// or pause arrived while a large kernel was being built).
    public static func build(_ factors: KernelFactors, into workspace: SpectrumWorkspace, interrupted: () -> Bool = { false }) -> Bool {
        let m = factors.rowCount * factors.outputDim
        precondition(workspace.fits(size: m, rows: factors.rowCount), "spectrum workspace too small")
        factors.materializeFactoredDeltas()
        workspace.kernel.update(repeating: 0, count: m * m)
        for l in factors.firstLayer..<factors.deltas.count {
            if interrupted() { return false }
            accumulateLayer(l, factors, into: workspace.kernel, inputGram: workspace.inputGram, deltaGram: workspace.deltaGram,
                            upperOnly: true)
        }
        return true
    }

    private static func withTemporaryBuffers(
        _ factors: KernelFactors,
        _ body: (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void
    ) -> Matrix<Double> {
        let n = factors.rowCount, m = n * factors.outputDim
        var theta = Matrix<Double>(rows: m, cols: m)
        var inputGram = [Double](repeating: 0, count: max(1, n * n))
        var deltaGram = [Double](repeating: 0, count: max(1, m * m))
        theta.storage.withUnsafeMutableBufferPointer { out in
            inputGram.withUnsafeMutableBufferPointer { a in
                deltaGram.withUnsafeMutableBufferPointer { d in
                    if m > 0 { body(out.baseAddress!, a.baseAddress!, d.baseAddress!) }
                }
            }
        }
        return theta
    }

    /// Adds Θ_l into `theta`, using `inputGram` ([n, n]) and `deltaGram`
    /// ([nC, nC]) as scratch. With `upperOnly` just the upper triangle
    /// (column ≥ row) is built, by SYRK instead of GEMM — half the flops of
    /// both Grams and of the Hadamard pass; that triangle is all `dsyevd`
    /// reads in the workspace path (`SpectrumWorkspace.decomposeKernel`: the
    /// lower triangle of the column-major view).
    private static func accumulateLayer(_ l: Int, _ factors: KernelFactors, into theta: UnsafeMutablePointer<Double>,
                                        inputGram a: UnsafeMutablePointer<Double>, deltaGram d: UnsafeMutablePointer<Double>,
                                        upperOnly: Bool = false) {
        let n = factors.rowCount, c = factors.outputDim, m = n * c
        if upperOnly {
            factors.scaledInputs[l].upperGram(into: a)    // [n, n], j ≥ i: s² a_i·a_j + t²
            factors.deltas[l].upperGram(into: d)          // [nC, nC], col ≥ row
            for row in 0..<m {
                // col ≥ row implies j = col/c ≥ i = row/c: the input Gram's upper triangle suffices.
                let i = row / c
                for col in row..<m {
                    let j = col / c
                    theta[row * m + col] += a[i * n + j] * d[row * m + col]
                }
            }
            return
        }
        factors.scaledInputs[l].gram(into: a)    // [n, n]
        factors.deltas[l].gram(into: d)          // [nC, nC]
        for row in 0..<m {
            let i = row / c
            for col in 0..<m {
                let j = col / c
                theta[row * m + col] += a[i * n + j] * d[row * m + col]
            }
        }
    }
}
