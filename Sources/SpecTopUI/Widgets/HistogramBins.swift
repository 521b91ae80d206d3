import SpecTopRecord

/// A `SpectrumHistogram` regrouped to fit a given number of bars: adjacent
/// bins are merged (counts and residual weights summed) and the λ_eff marker
/// follows its bin.
public struct HistogramBins: Sendable, Equatable {
    /// log10 bin edges, `counts.count + 1` values.
    public var log10Edges: [Double]
    public var counts: [Int]
    public var residualWeights: [Double]
    public var nearZeroCount: Int
    public var nearZeroWeight: Double
    public var markerBin: Int?

    /// `histogram` with at most `maxBins` bins (merging ⌈n / maxBins⌉ neighbours).
    public init(_ histogram: SpectrumHistogram, maxBins: Int) {
        let n = histogram.counts.count
        nearZeroCount = histogram.nearZeroCount
        nearZeroWeight = histogram.nearZeroWeight
        guard n > 0, maxBins > 0 else {
            log10Edges = []; counts = []; residualWeights = []; markerBin = nil
            return
        }
        let group = (n + maxBins - 1) / maxBins
        var edges: [Double] = [], mergedCounts: [Int] = [], mergedWeights: [Double] = []
        var start = 0
        while start < n {
            let end = min(n, start + group)
            if start < histogram.log10Edges.count { edges.append(histogram.log10Edges[start]) }
            mergedCounts.append(histogram.counts[start..<end].reduce(0, +))
            let weights = histogram.residualWeights
            mergedWeights.append(start < weights.count ? weights[start..<min(end, weights.count)].reduce(0, +) : 0)
            start = end
        }
        if let last = histogram.log10Edges.last, histogram.log10Edges.count == n + 1 { edges.append(last) }
        log10Edges = edges
        counts = mergedCounts
        residualWeights = mergedWeights
        markerBin = histogram.markerBin.flatMap { $0 >= 0 && $0 < n ? $0 / group : nil }
    }
}
