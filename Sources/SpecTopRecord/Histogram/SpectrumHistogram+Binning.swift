import Foundation

/// The one place eigenvalues are binned: the engine bins each spectrum it
/// measures, the record reader bins each spectrum it reads, with this code.
extension SpectrumHistogram {
    /// Eigenvalues below this fraction of λ_1 count as ≈0 (METHOD.md).
    public static let nearZeroFraction = 1e-12
    /// Default number of log-spaced histogram bins.
    public static let defaultBinCount = 24

    /// Log10-spaced bins from the smallest eigenvalue ≥ 1e-12·λ_1 to λ_1;
    /// smaller ones (and round-off negatives) go to the ≈0 bin. `weights` may
    /// be empty (residual undefined), then residual weights are all 0.
    public init(eigenvalues: [Double], weights: [Double], lambdaEff: Double?, binCount: Int = defaultBinCount) {
        let bins = max(1, binCount)
        let top = eigenvalues.max() ?? 0
        guard top > 0, top.isFinite else {
            self.init(log10Edges: [], counts: [], residualWeights: [],
                      nearZeroCount: eigenvalues.count, nearZeroWeight: weights.reduce(0, +), markerBin: nil)
            return
        }
        let threshold = top * Self.nearZeroFraction
        let positive = eigenvalues.filter { $0 >= threshold }
        let edges = Self.log10Edges(smallest: positive.min() ?? top, largest: top, binCount: bins)
        var counts = Array(repeating: 0, count: bins)
        var residual = Array(repeating: 0.0, count: bins)
        var zeroCount = 0
        var zeroWeight = 0.0
        func bin(of value: Double) -> Int { Self.bin(of: value, log10Edges: edges) }
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
        self.init(log10Edges: edges, counts: counts, residualWeights: residual,
                  nearZeroCount: zeroCount, nearZeroWeight: zeroWeight, markerBin: marker)
    }

    /// The bin edges (log10) from `smallest` (the smallest eigenvalue at or
    /// above 1e-12·λ_1) to `largest` = λ_1: shared by the exact binning above
    /// and the matrix-free estimate, which bins between its own extremes.
    public static func log10Edges(smallest: Double, largest: Double, binCount: Int) -> [Double] {
        let bins = max(1, binCount)
        var low = Foundation.log10(smallest)
        var high = Foundation.log10(largest)
        if high - low < 1e-9 {  // a flat spectrum: give the bins some width
            low -= 0.5
            high += 0.5
        }
        let width = (high - low) / Double(bins)
        return (0...bins).map { low + Double($0) * width }
    }

    /// The bin of a value at or above the ≈0 threshold: values below the first
    /// edge go to the first bin, above the last to the last one.
    public static func bin(of value: Double, log10Edges edges: [Double]) -> Int {
        let bins = edges.count - 1
        let low = edges[0], width = (edges[bins] - edges[0]) / Double(bins)
        // Clamped before the Int conversion: a non-finite position (a
        // replayed record's extreme values) must not trap.
        let position = ((Foundation.log10(value) - low) / width).rounded(.down)
        guard position.isFinite else { return position > 0 ? bins - 1 : 0 }
        return Int(min(Double(bins - 1), max(0, position)))
    }
}
