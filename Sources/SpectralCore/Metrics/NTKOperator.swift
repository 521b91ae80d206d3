import CContractions
import CLinalg
import Dispatch

/// The eNTK as a linear operator: Θ·v for a block of vectors v without ever
/// forming the m × m kernel (m = nC), for spectra past the exact limit.
///
/// Θv = J(Jᵀv). Both products are taken layer by layer from the same
/// `KernelFactors` the exact kernel uses (the scaled inputs
/// B_l = [s_l a_{l−1} | t_l 1]: n × (fan_in + 1) and the output-seeded deltas
/// δ_l^{(c)}: nC × fan_out, Float64), which the probe's C backward passes
/// (and, for the last hidden layer, its factors) fill at every spectrum step:
///
/// - vector-Jacobian product u = Jᵀv. The backward pass with v as the output
///   gradient is linear in v at fixed activations, so its delta at layer l is
///   δ̃_{l,i} = Σ_c v_{ic} δ_{l,i}^{(c)}; the parameter gradient is then
///   U_l = s_l Σ_i δ̃_{l,i} a_{l−1,i}ᵀ (fan_out × fan_in) and u_{b,l} = t_l Σ_i δ̃_{l,i};
/// - Jacobian-vector product Ju. The forward tangent of h_l caused by layer
///   l's own parameters is z_{l,i} = s_l U_l a_{l−1,i} + t_l u_{b,l}, and it
///   reaches output c through ∂f_c/∂h_l = δ_{l,i}^{(c)}, so
///   (Ju)_{ic} = Σ_l δ_{l,i}^{(c)} · z_{l,i}.
///
/// Reusing the stored deltas instead of re-running the chain through the
/// network halves the work of a pass-based JVP/VJP (no tangent propagation
/// through W_{l+1…L}) and keeps everything in Float64, so the operator agrees
/// with the exact Θ to round-off (the test asks < 1e-10 relative) even though
/// the models train in Float32. Only the trainable layers enter (the readout
/// alone for a frozen model), with the same multipliers s_l, t_l as
/// `EmpiricalNTK`.
///
/// With b vectors per call every product is a GEMM: [U | u_b] for all b
/// vectors is one (b·fan_out × n)(n × (fan_in + 1)) product with B_l, and the
/// tangents one (n × (fan_in + 1))((fan_in + 1) × b·fan_out) product. Only the
/// per-sample contractions over the C outputs are not; they are small kernels
/// in C (`contract`), split between OpenBLAS's threads when large. The last
/// hidden layer's contractions read no deltas: they go through its two small
/// factors (`KernelFactors.factoredLayer`).
/// Memory: the factors (which exist anyway) plus n·b·max fan_out + b·max(fan_out·(fan_in + 1))
/// doubles of scratch, allocated once; `apply` allocates nothing.
public final class NTKOperator: @unchecked Sendable {
    // @unchecked: owned by one worker together with its factors.
    public let factors: KernelFactors
    /// Vectors one `apply` may take.
    public let blockCapacity: Int
    /// m = nC.
    public var size: Int { factors.rowCount * factors.outputDim }
    /// Products Θv taken so far (one per vector), for cost reports.
    public private(set) var productCount = 0

    /// δ̃, then overwritten in place by the tangents z: [n, b, fan_out].
    private let deltaScratch: UnsafeMutablePointer<Double>
    /// [U | u_b] for every vector: [b, fan_out, fan_in + 1].
    private let parameterScratch: UnsafeMutablePointer<Double>

    public init(factors: KernelFactors, blockCapacity: Int = 1) {
        self.factors = factors
        self.blockCapacity = max(1, blockCapacity)
        let n = factors.rowCount
        let widest = factors.deltas.map(\.cols).max() ?? 1
        let largestLayer = zip(factors.deltas, factors.scaledInputs).map { $0.cols * $1.cols }.max() ?? 1
        deltaScratch = .allocate(capacity: max(1, n * self.blockCapacity * widest))
        parameterScratch = .allocate(capacity: max(1, self.blockCapacity * largestLayer))
    }

    deinit {
        deltaScratch.deallocate(); parameterScratch.deallocate()
    }

    /// y_j = Θ x_j for `count` vectors, each `size` long and contiguous
    /// (x_j at x + j·size), likewise y. `x` and `y` must not overlap.
    public func apply(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count b: Int) {
        precondition(b >= 1 && b <= blockCapacity, "NTKOperator: block of \(b) vectors, capacity \(blockCapacity)")
        let n = factors.rowCount, c = factors.outputDim, m = n * c
        y.update(repeating: 0, count: m * b)
        productCount += b
        for l in factors.firstLayer..<factors.deltas.count {
            // B = [s a | t 1], n × (fan_in + 1): the weight and bias parts in one GEMM each way.
            let inputWidth = factors.scaledInputs[l].cols, fanOut = factors.deltas[l].cols
            let rowWidth = b * fanOut
            // The factored layer's deltas are empty here (it contracts through its factors).
            factors.deltas[l].storage.withUnsafeBufferPointer { deltaBuffer in
                factors.scaledInputs[l].storage.withUnsafeBufferPointer { inputBuffer in
                    let d = deltaBuffer.baseAddress, inputs = inputBuffer.baseAddress!
                    // δ̃[i, j, :] = Σ_c x_j[iC + c] δ[iC + c, :]: the backward pass of x_j, by linearity.
                    contract(.combine, x: x, deltas: d, layer: l, output: y, samples: n, outputs: c, width: fanOut, vectors: b)
                    Self.layerGEMMs(samples: n, rowWidth: rowWidth, inputWidth: inputWidth, inputs: inputs,
                                    combined: deltaScratch, parameters: parameterScratch)
                    // y_j[iC + c] += δ[iC + c, :] · z[i, j, :]: the tangent reaching each output.
                    contract(.project, x: x, deltas: d, layer: l, output: y, samples: n, outputs: c, width: fanOut, vectors: b)
                }
            }
        }
    }

    /// One layer's two GEMMs for b vectors (rowWidth = b·fan_out), in place:
    /// [U_j | u_b,j] = δ̃_jᵀ B for all j at once ([b·fan_out, n] × [n, fan_in + 1])
    /// into `parameters`, then z[i, j, :] = s U_j a_i + t u_b,j = [U_j | u_b,j] B_iᵀ
    /// over δ̃ in `combined` (no longer needed). Shared with the bench, which
    /// times them alone on the same shapes.
    public static func layerGEMMs(samples n: Int, rowWidth: Int, inputWidth: Int, inputs: UnsafePointer<Double>,
                                  combined: UnsafeMutablePointer<Double>, parameters: UnsafeMutablePointer<Double>) {
        Double.gemm(transA: true, transB: false, m: rowWidth, n: inputWidth, k: n, alpha: 1,
                    a: combined, lda: rowWidth, b: inputs, ldb: inputWidth,
                    beta: 0, c: parameters, ldc: inputWidth)
        Double.gemm(transA: false, transB: true, m: n, n: rowWidth, k: inputWidth, alpha: 1,
                    a: inputs, lda: inputWidth, b: parameters, ldb: inputWidth,
                    beta: 0, c: combined, ldc: rowWidth)
    }

    private enum Contraction { case combine, project }

    /// The per-sample contractions over the C outputs (CContractions, one
    /// C call per range of samples). Each sample's block δ_i (C × fan_out) is
    /// read once for all b vectors and stays in cache; as one BLAS call per
    /// sample the call overhead cost more than the arithmetic. The last hidden
    /// layer's block is the same for every sample, R = [r_c] times
    /// diag(φ'_i) (`KernelFactors.factoredLayer`), so it costs no pass over
    /// its nC × fan_out deltas at all.
    private func contract(_ kind: Contraction, x: UnsafePointer<Double>, deltas d: UnsafePointer<Double>?, layer l: Int,
                          output y: UnsafeMutablePointer<Double>, samples n: Int, outputs c: Int, width: Int, vectors b: Int) {
        let m = n * c, scratch = deltaScratch
        let factored = l == factors.factoredLayer
        factors.readoutRows.storage.withUnsafeBufferPointer { readout in
            factors.hiddenDerivative.storage.withUnsafeBufferPointer { derivative in
                let blocks = factored ? readout.baseAddress! : d!
                let sampleStride = factored ? 0 : c * width
                let scale = factored ? derivative.baseAddress : nil
                Self.forEachSampleRange(samples: n, work: c * width * b) { range in
                    switch kind {
                    case .combine:
                        spectop_combine(x, m, blocks, sampleStride, scale, scratch, range.lowerBound, range.upperBound, c, width, b)
                    case .project:
                        spectop_project(scratch, blocks, sampleStride, scale, y, m, range.lowerBound, range.upperBound, c, width, b)
                    }
                }
            }
        }
    }

    /// Runs `body` over contiguous ranges of the n samples, one per OpenBLAS
    /// thread when the pass is large. The contractions stream all of δ
    /// (nC × fan_out doubles, 21 MB per layer at m = 10,240) from memory
    /// between two GEMMs; on one thread the other core only spins in
    /// OpenBLAS's wait loop meanwhile. Each range writes its own samples'
    /// rows, so the ranges never touch the same memory.
    private static func forEachSampleRange(samples n: Int, work perSample: Int, _ body: (Range<Int>) -> Void) {
        let threads = min(BLASRuntime.threadCount, n)
        guard threads > 1, n * perSample >= parallelThreshold else { body(0..<n); return }
        withoutActuallyEscaping(body) { body in
            // Unchecked: the ranges are disjoint, and concurrentPerform returns only when all are done.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                body((n * t / threads)..<(n * (t + 1) / threads))
            }
        }
    }

    /// Multiply-adds below which one thread is faster than waking another.
    private static let parallelThreshold = 1 << 18

    /// Trainable parameters P: Θ = JJᵀ has rank at most P, so at least
    /// m − P of its eigenvalues are exactly zero.
    public var knownNullDimension: Int {
        var parameters = 0
        for l in factors.firstLayer..<factors.deltas.count {
            parameters += factors.scaledInputs[l].cols * factors.deltas[l].cols
        }
        return max(0, size - parameters)
    }

    /// True for a frozen model with several outputs: its kernel is the
    /// readout's, K ⊗ I_C (METHOD.md), so every eigenvalue has multiplicity C.
    public var hasStructuralMultiplicity: Bool {
        factors.firstLayer == factors.deltas.count - 1 && factors.outputDim > 1
    }

    /// Tr Θ = Σ_l Σ_{i,c} (s_l²‖a_{l−1,i}‖² + t_l²)‖δ_{l,i}^{(c)}‖² = Σ_l Σ_i ‖B_{l,i}‖² Σ_c ‖δ_{l,i}^{(c)}‖²,
    /// exactly, from the factors; for the factored layer
    /// Σ_c ‖δ_{i}^{(c)}‖² = Σ_k φ'_{ik}² Σ_c r_{ck}².
    public func trace() -> Double {
        let n = factors.rowCount
        var total = 0.0
        for l in factors.firstLayer..<factors.deltas.count {
            let inputWidth = factors.scaledInputs[l].cols
            let deltaNorms = l == factors.factoredLayer ? factoredDeltaNorms() : streamedDeltaNorms(l)
            factors.scaledInputs[l].storage.withUnsafeBufferPointer { b in
                for i in 0..<n { total += rowSquaredNorm(b.baseAddress! + i * inputWidth, count: inputWidth) * deltaNorms[i] }
            }
        }
        return total
    }

    /// Σ_c ‖δ_{l,i}^{(c)}‖² per sample, from the stored deltas.
    private func streamedDeltaNorms(_ l: Int) -> [Double] {
        let n = factors.rowCount, block = factors.outputDim * factors.deltas[l].cols
        return factors.deltas[l].storage.withUnsafeBufferPointer { d in
            (0..<n).map { i in rowSquaredNorm(d.baseAddress! + i * block, count: block) }
        }
    }

    /// Σ_c ‖φ'_i ⊙ r_c‖² = Σ_k φ'_{ik}² ρ_k with ρ_k = Σ_c r_{ck}², per sample.
    private func factoredDeltaNorms() -> [Double] {
        let n = factors.rowCount, c = factors.outputDim, width = factors.hiddenDerivative.cols
        var readoutNorms = [Double](repeating: 0, count: width)
        for row in 0..<c { for k in 0..<width { let r = factors.readoutRows[row, k]; readoutNorms[k] += r * r } }
        return factors.hiddenDerivative.storage.withUnsafeBufferPointer { d in
            (0..<n).map { i in
                var sum = 0.0
                for k in 0..<width { let derivative = d[i * width + k]; sum += derivative * derivative * readoutNorms[k] }
                return sum
            }
        }
    }

    /// Θx for one vector (allocating; tests and one-off uses).
    public func apply(_ x: [Double]) -> [Double] {
        precondition(x.count == size)
        var y = [Double](repeating: 0, count: size)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in apply(xp.baseAddress!, yp.baseAddress!, count: 1) }
        }
        return y
    }
}
