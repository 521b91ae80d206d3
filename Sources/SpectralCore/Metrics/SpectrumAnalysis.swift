import Foundation

/// Everything METHOD.md derives from the exact eNTK spectrum: eigenvalues,
/// mode weights, exact χ_pos, λ_eff, r_eff, effective rank and the
/// log-binned histogram (binned and ranked by SpecTopRecord's
/// `SpectrumHistogram` and `SpectrumSample.effectiveRank`, which the record
/// reader uses too).
public enum SpectrumAnalysis {
    /// Decomposes Θ and relates it to the residual gradient g ([nC], index i·C + c).
    public static func analyze(kernel theta: Matrix<Double>, residualGradient g: [Double], step: Int,
                               binCount: Int = SpectrumHistogram.defaultBinCount) throws -> SpectrumSample {
        precondition(theta.rows == g.count, "residual gradient does not match the kernel")
        let eigen = try SymmetricEigen(theta)
        let m = eigen.eigenvalues.count
        return summarize(descendingEigenvalues: eigen.eigenvalues, residualGradient: g, step: step, binCount: binCount) { unit in
            // Eigenvectors are the columns of the row-major matrix.
            var dots = [Double](repeating: 0, count: m)
            eigen.eigenvectors.storage.withUnsafeBufferPointer { v in
                for i in 0..<m where unit[i] != 0 {
                    let row = v.baseAddress! + i * m
                    for k in 0..<m { dots[k] += row[k] * unit[i] }
                }
            }
            return dots
        }
    }

    /// The same analysis on the kernel built in `workspace` (`size` rows),
    /// decomposed in place: no m² buffer is allocated.
    public static func analyze(workspace: SpectrumWorkspace, size m: Int, residualGradient g: [Double], step: Int,
                        binCount: Int = SpectrumHistogram.defaultBinCount) throws -> SpectrumSample {
        precondition(m == g.count, "residual gradient does not match the kernel")
        try workspace.decomposeKernel(size: m)
        // LAPACK gives ascending order, each eigenvector one contiguous row; spectop works head-first.
        let descending = (0..<m).map { workspace.eigenvalues[m - 1 - $0] }
        return summarize(descendingEigenvalues: descending, residualGradient: g, step: step, binCount: binCount) { unit in
            (0..<m).map { k in
                let vector = workspace.kernel + (m - 1 - k) * m
                var dot = 0.0
                for i in 0..<m { dot += vector[i] * unit[i] }
                return dot
            }
        }
    }

    /// The exact spectrum of a model whose readout alone trains, at any size,
    /// without the m × m kernel. Its eNTK is the readout's, Θ = K ⊗ I_C with
    /// K = BBᵀ, B = [s·A | t·1] (n × (fan_in+1), A the readout's inputs), so Θ's
    /// eigenvalues are those of the small Gram BᵀB ((fan_in+1)², LAPACK
    /// `dsyevd`), each C-fold, plus zeros; K's unit eigenvectors are
    /// u_j = B y_j / √μ_j, and the mode of (u_j, output c) carries the weight
    /// (u_j·ĝ_{·c})². Everything is exact (`method == .exact`); the null
    /// space's weight, 1 − Σ of the others, is given to its first mode (all
    /// of them lie in the ≈0 bin).
    public static func analyzeReadout(_ factors: KernelFactors, residualGradient g: [Double], step: Int,
                                      binCount: Int = SpectrumHistogram.defaultBinCount) throws -> SpectrumSample {
        let readout = factors.deltas.count - 1
        precondition(factors.firstLayer == readout, "analyzeReadout needs a model whose readout alone trains")
        let n = factors.rowCount, c = factors.outputDim, m = n * c
        precondition(g.count == m, "residual gradient does not match the kernel")
        let b = factors.scaledInputs[readout], p = b.cols  // [s·A | t·1]
        let small = try SymmetricEigen(b.multiplied(by: b, transposeSelf: true))  // BᵀB, descending
        let rank = min(n, p)
        // K's unit eigenvectors as columns: U = B·Y·diag(1/√μ) (one GEMM), then
        // Θ's modes (u_j, c) in descending order, then zeros.
        var u = b.multiplied(by: small.eigenvectors)  // [n, p]
        var lambda = [Double](repeating: 0, count: m)
        for j in 0..<rank {
            let mu = max(0, small.eigenvalues[j])
            let scale = mu > 0 ? 1 / mu.squareRoot() : 0
            for i in 0..<n { u.storage[i * p + j] *= scale }
            for output in 0..<c { lambda[j * c + output] = mu }
        }
        let columns = u
        return summarize(descendingEigenvalues: lambda, residualGradient: g, step: step, binCount: binCount) { unit in
            // (u_j·ĝ_{·c}) for every j and c at once: Uᵀ Ĝ with Ĝ = ĝ as [n, C].
            let projections = columns.multiplied(by: Matrix(rows: n, cols: c, storage: unit), transposeSelf: true)  // [p, C]
            var dots = [Double](repeating: 0, count: m)
            var listed = 0.0
            for j in 0..<rank {
                for output in 0..<c {
                    let dot = projections.storage[j * c + output]
                    dots[j * c + output] = dot
                    listed += dot * dot
                }
            }
            if rank * c < m { dots[rank * c] = max(0, 1 - listed).squareRoot() }
            return dots
        }
    }

    /// The METHOD.md quantities from the eigenvalues (descending) and the
    /// projections v_k·ĝ of the unit residual, which `projections` computes.
    private static func summarize(descendingEigenvalues: [Double], residualGradient g: [Double], step: Int, binCount: Int,
                                  projections: ([Double]) -> [Double]) -> SpectrumSample {
        // Round-off can leave tiny negative eigenvalues of a PSD matrix: clamp.
        let lambda = descendingEigenvalues.map { max(0, $0) }
        let m = lambda.count
        let trace = lambda.reduce(0, +)
        let gNorm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()

        var weights: [Double] = []
        var chiPos: Double?
        var lambdaEff: Double?
        var rEff: Double?
        if gNorm > 0, gNorm.isFinite, trace > 0, trace.isFinite {
            weights = projections(g.map { $0 / gNorm }).map { $0 * $0 }
            let effective = zip(weights, lambda).reduce(0) { $0 + $1.0 * $1.1 }
            lambdaEff = effective
            chiPos = effective / trace
            rEff = Double(lambda.filter { $0 >= effective }.count) / Double(m)
        }
        let histogram = SpectrumHistogram(eigenvalues: lambda, weights: weights, lambdaEff: lambdaEff, binCount: binCount)
        return SpectrumSample(step: step, eigenvalues: lambda, weights: weights, chiPosExact: chiPos,
                              lambdaEff: lambdaEff, rEff: rEff, effectiveRank: SpectrumSample.effectiveRank(lambda),
                              histogram: histogram)
    }
}
