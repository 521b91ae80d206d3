import SpecTopRecord

extension SpectrumHistogram {
    /// The histogram regrouped to fit `maxBins` bars: ⌈n / maxBins⌉ adjacent
    /// bins are merged (counts, residual weights and count uncertainties summed), the ≈0 bin is
    /// kept, and the λ_eff marker follows its bin.
    public func merged(toAtMost maxBins: Int) -> SpectrumHistogram {
        let n = counts.count
        guard n > 0, maxBins > 0 else {
            return SpectrumHistogram(log10Edges: [], counts: [], residualWeights: [], nearZeroCount: nearZeroCount,
                                     nearZeroWeight: nearZeroWeight, markerBin: nil)
        }
        let group = (n + maxBins - 1) / maxBins
        var edges: [Double] = [], mergedCounts: [Int] = [], mergedWeights: [Double] = [], mergedUncertainty: [Double] = []
        var start = 0
        while start < n {
            let end = min(n, start + group)
            if start < log10Edges.count { edges.append(log10Edges[start]) }
            mergedCounts.append(counts[start..<end].reduce(0, +))
            mergedWeights.append(start < residualWeights.count ? residualWeights[start..<min(end, residualWeights.count)].reduce(0, +) : 0)
            // Summed half-widths: neighbouring bins' errors are correlated (they share quadrature nodes).
            if countUncertainty.count == n { mergedUncertainty.append(countUncertainty[start..<end].reduce(0, +)) }
            start = end
        }
        if let last = log10Edges.last, log10Edges.count == n + 1 { edges.append(last) }
        return SpectrumHistogram(log10Edges: edges, counts: mergedCounts, residualWeights: mergedWeights,
                                 nearZeroCount: nearZeroCount, nearZeroWeight: nearZeroWeight,
                                 markerBin: markerBin.flatMap { $0 >= 0 && $0 < n ? $0 / group : nil },
                                 countUncertainty: mergedUncertainty)
    }
}
