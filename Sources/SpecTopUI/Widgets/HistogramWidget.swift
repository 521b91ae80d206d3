import SpecTopRecord

/// An eigenvalue histogram (METHOD.md, display conventions): for every
/// log-spaced bin a count bar beside a residual-weight bar in a second colour,
/// the "≈0" bin apart on the left, a marker under λ_eff's bin and, when asked
/// for, an axis row with the bin range. Estimated counts are drawn dim.
public struct HistogramWidget: Sendable {
    public var histogram: SpectrumHistogram
    /// Draw the row of edge labels under the marker row.
    public var showAxis: Bool

    public init(histogram: SpectrumHistogram, showAxis: Bool = false) {
        self.histogram = histogram
        self.showAxis = showAxis
    }

    /// Rows needed besides the bars (marker row, axis row).
    public var extraRows: Int { showAxis ? 2 : 1 }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", role: .histogram))
        let barRows = area.height - extraRows
        guard barRows >= 1, area.width >= 2 else { return }

        // The ≈0 bin takes a count column and a weight column plus a gap.
        let hasNearZero = histogram.nearZeroCount > 0
        let nearZeroColumns = hasNearZero ? 3 : 0
        let binArea = max(0, area.width - nearZeroColumns)
        let bins = histogram.merged(toAtMost: max(1, binArea / 2))
        let binCount = bins.counts.count
        let pitch = binCount > 0 ? binArea / binCount : 0

        let maxCount = max(bins.counts.max() ?? 0, histogram.nearZeroCount)
        let maxWeight = max(bins.residualWeights.max() ?? 0, histogram.nearZeroWeight)
        let total = 8 * barRows
        func height(count: Int) -> Int {
            guard count > 0, maxCount > 0 else { return 0 }
            return max(1, Int((Double(count) / Double(maxCount) * Double(total)).rounded()))
        }
        func height(weight: Double) -> Int {
            guard weight > 0, maxWeight > 0, weight.isFinite else { return 0 }
            return max(1, Int((weight / maxWeight * Double(total)).rounded()))
        }
        // Estimated counts (a matrix-free spectrum) are drawn dim, so they
        // never look like the exact histogram of a smaller probe.
        let countAttributes: CellAttributes = histogram.isEstimate ? .dim : []
        func bar(_ eighths: Int, x: Int, width: Int, role: ColorRole, attributes: CellAttributes = []) {
            for column in x..<(x + width) {
                for row in 0..<barRows {
                    let fill = min(8, max(0, eighths - 8 * row))
                    guard let glyph = glyphs.vertical(fill) else { break }
                    buffer.put(glyph, x: column, y: area.y + barRows - 1 - row, role: role, attributes: attributes)
                }
            }
        }

        var x = area.x
        let markerRow = area.y + barRows
        if hasNearZero {
            bar(height(count: histogram.nearZeroCount), x: x, width: 1, role: .histogram, attributes: countAttributes)
            bar(height(weight: histogram.nearZeroWeight), x: x + 1, width: 1, role: .residual)
            x += nearZeroColumns
        }
        guard pitch >= 2 else { return }
        let gap = pitch >= 3 ? 1 : 0
        let countWidth = (pitch - gap + 1) / 2
        let weightWidth = pitch - gap - countWidth
        for bin in 0..<binCount {
            let left = x + bin * pitch
            bar(height(count: bins.counts[bin]), x: left, width: countWidth, role: .histogram, attributes: countAttributes)
            bar(height(weight: bins.residualWeights[bin]), x: left + countWidth, width: weightWidth, role: .residual)
            if bins.markerBin == bin {
                buffer.put(glyphs.marker, x: left + (pitch - gap - 1) / 2, y: markerRow, role: .marker, attributes: .bold)
                let label = glyphs.lambdaEff
                let labelX = left + (pitch - gap - 1) / 2 + 1
                if labelX + label.count <= area.maxX {
                    buffer.put(label, x: labelX, y: markerRow, role: .marker, maxWidth: area.maxX - labelX)
                } else if left - label.count >= area.x {
                    buffer.put(label, x: left + (pitch - gap - 1) / 2 - label.count, y: markerRow, role: .marker)
                }
            }
        }

        guard showAxis, let first = bins.log10Edges.first, let last = bins.log10Edges.last else { return }
        let axisRow = markerRow + 1
        if hasNearZero {
            buffer.put(glyphs.approxZero, x: area.x, y: axisRow, role: .muted, maxWidth: 2)
        }
        let lowLabel = NumberFormat.axis(AxisScale.log.value(at: first))
        let highLabel = NumberFormat.axis(AxisScale.log.value(at: last))
        let right = x + binCount * pitch
        buffer.put(lowLabel, x: x, y: axisRow, role: .muted, maxWidth: max(0, right - x))
        let highX = right - highLabel.count
        if highX > x + lowLabel.count {
            buffer.put(highLabel, x: highX, y: axisRow, role: .muted)
        }
        let middle = (first + last) / 2
        let middleLabel = NumberFormat.axis(AxisScale.log.value(at: middle))
        let middleX = x + (right - x) / 2 - middleLabel.count / 2
        if middleX > x + lowLabel.count + 1 && middleX + middleLabel.count < highX - 1 {
            buffer.put(middleLabel, x: middleX, y: axisRow, role: .muted)
        }
    }
}
