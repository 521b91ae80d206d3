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
        let histogram = SpectrumHistogram(eigenvalues: lambda, weights: weights, lambdaEff: lambdaEff, binCount: binCount)
        return SpectrumSample(step: step, eigenvalues: lambda, weights: weights, chiPosExact: chiPos,
                              lambdaEff: lambdaEff, rEff: rEff, effectiveRank: SpectrumSample.effectiveRank(lambda),
                              histogram: histogram)
    }
}
