import Foundation

/// Everything METHOD.md derives from the exact eNTK spectrum: eigenvalues,
/// mode weights, exact χ_pos, λ_eff, r_eff, effective rank and the
/// log-binned histogram.
public enum SpectrumAnalysis {
    /// Eigenvalues below this fraction of λ_1 count as ≈0 (METHOD.md).
    public static let nearZeroFraction = 1e-12
    /// Default number of log-spaced histogram bins.
    public static let defaultBinCount = 24

    /// Decomposes Θ and relates it to the residual gradient g ([nC], index i·C + c).
    public static func analyze(kernel theta: Matrix<Double>, residualGradient g: [Double], step: Int,
                               binCount: Int = defaultBinCount) throws -> SpectrumSample {
        precondition(theta.rows == g.count, "residual gradient does not match the kernel")
        let eigen = try SymmetricEigen(theta)
        // Round-off can leave tiny negative eigenvalues of a PSD matrix: clamp.
        let lambda = eigen.eigenvalues.map { max(0, $0) }
        let m = lambda.count
        let trace = lambda.reduce(0, +)
        let gNorm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()

        var weights: [Double] = []
        var chiPos: Double?
        var lambdaEff: Double?
        var rEff: Double?
        if gNorm > 0, gNorm.isFinite, trace > 0, trace.isFinite {
            weights = Array(repeating: 0, count: m)
            eigen.eigenvectors.storage.withUnsafeBufferPointer { v in
                for i in 0..<m {
                    let gi = g[i] / gNorm
                    if gi == 0 { continue }
                    let row = v.baseAddress! + i * m
                    for k in 0..<m { weights[k] += row[k] * gi }
                }
            }
            weights = weights.map { $0 * $0 }
            let effective = zip(weights, lambda).reduce(0) { $0 + $1.0 * $1.1 }
            lambdaEff = effective
            chiPos = effective / trace
            rEff = Double(lambda.filter { $0 >= effective }.count) / Double(m)
        }
        let histogram = makeHistogram(eigenvalues: lambda, weights: weights, lambdaEff: lambdaEff, binCount: binCount)
        return SpectrumSample(step: step, eigenvalues: lambda, weights: weights, chiPosExact: chiPos,
                              lambdaEff: lambdaEff, rEff: rEff, effectiveRank: effectiveRank(lambda),
                              histogram: histogram)
    }

    /// exp of the Shannon entropy of λ/Σλ: 1 for a rank-one kernel, m for a
    /// flat spectrum.
    public static func effectiveRank(_ eigenvalues: [Double]) -> Double {
        let total = eigenvalues.reduce(0) { $0 + max(0, $1) }
        guard total > 0 else { return 0 }
        var entropy = 0.0
        for value in eigenvalues where value > 0 {
            let p = value / total
            entropy -= p * Foundation.log(p)
        }
        return Foundation.exp(entropy)
    }

    /// Log10-spaced bins from the smallest eigenvalue ≥ 1e-12·λ_1 to λ_1;
    /// smaller ones (and round-off negatives) go to the ≈0 bin. `weights` may
    /// be empty (residual undefined), then residual weights are all 0.
    public static func makeHistogram(eigenvalues: [Double], weights: [Double], lambdaEff: Double?,
                                     binCount: Int = defaultBinCount) -> SpectrumHistogram {
        let bins = max(1, binCount)
        let top = eigenvalues.max() ?? 0
        guard top > 0, top.isFinite else {
            return SpectrumHistogram(log10Edges: [], counts: [], residualWeights: [],
                                     nearZeroCount: eigenvalues.count, nearZeroWeight: weights.reduce(0, +),
                                     markerBin: nil)
        }
        let threshold = top * nearZeroFraction
        let positive = eigenvalues.filter { $0 >= threshold }
        var low = Foundation.log10(positive.min() ?? top)
        var high = Foundation.log10(top)
        if high - low < 1e-9 {  // a flat spectrum: give the bins some width
            low -= 0.5
            high += 0.5
        }
        let width = (high - low) / Double(bins)
        let edges = (0...bins).map { low + Double($0) * width }
        var counts = Array(repeating: 0, count: bins)
        var residual = Array(repeating: 0.0, count: bins)
        var zeroCount = 0
        var zeroWeight = 0.0
        func bin(of value: Double) -> Int {
            // Clamped before the Int conversion: a non-finite position (a
            // replayed record's extreme values) must not trap.
            let position = ((Foundation.log10(value) - low) / width).rounded(.down)
            guard position.isFinite else { return position > 0 ? bins - 1 : 0 }
            return Int(min(Double(bins - 1), max(0, position)))
        }
        for (k, value) in eigenvalues.enumerated() {
            let w = k < weights.count ? weights[k] : 0
            if value < threshold {
                zeroCount += 1
                zeroWeight += w
            } else {
                let b = bin(of: value)
                counts[b] += 1
                residual[b] += w
            }
        }
        var marker: Int?
        if let eff = lambdaEff, eff >= threshold, eff.isFinite { marker = bin(of: eff) }
        return SpectrumHistogram(log10Edges: edges, counts: counts, residualWeights: residual,
                                 nearZeroCount: zeroCount, nearZeroWeight: zeroWeight, markerBin: marker)
    }
}
