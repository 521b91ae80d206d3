/// A chart with a title row, y-axis labels on the left, an x-axis label row at
/// the bottom, and any number of overlaid series.
public struct LineChart: Sendable {
    public var title: String
    public var series: [ChartSeries]
    public var xScale: AxisScale
    public var yScale: AxisScale
    /// Fixed x range in plotted coordinates (shared across stacked charts); nil: from the data.
    public var xRange: ClosedRange<Double>?
    /// Draws the title highlighted (the chart `y` acts on).
    public var focused: Bool
    public var showXAxis: Bool
    public var titleRole: ColorRole
    /// An x coordinate to mark with a vertical line (the compare view's value cursor).
    public var cursor: Double?
    /// On a linear axis that spans zero, the zero line is drawn and what lies
    /// below it takes this role (nil: no zero line).
    public var negativeRole: ColorRole?

    /// Columns reserved for y labels such as `-3.2e-12`.
    static let yLabelWidth = 8

    public init(title: String, series: [ChartSeries], xScale: AxisScale = .linear, yScale: AxisScale = .log,
                xRange: ClosedRange<Double>? = nil, focused: Bool = false, showXAxis: Bool = true, titleRole: ColorRole = .text,
                cursor: Double? = nil) {
        self.title = title; self.series = series; self.xScale = xScale; self.yScale = yScale
        self.xRange = xRange; self.focused = focused; self.showXAxis = showXAxis; self.titleRole = titleRole
        self.cursor = cursor
    }

    /// The range of already transformed coordinates (NaN skipped), widened when flat.
    static func range(of coordinates: [[Double]], scale: AxisScale) -> ClosedRange<Double>? {
        var low = Double.infinity, high = -Double.infinity
        for list in coordinates {
            for t in list where !t.isNaN {
                low = min(low, t); high = max(high, t)
            }
        }
        guard low <= high else { return nil }
        if high - low <= 1e-12 * max(1, Swift.abs(high)) {
            let pad = scale == .log ? 0.5 : max(0.5, Swift.abs(high) * 0.1)
            return (low - pad)...(high + pad)
        }
        return low...high
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        guard area.height >= 3, area.width >= LineChart.yLabelWidth + 4 else { return }
        buffer.fill(area, with: .blank)
        let (titleRow, body) = area.splitTop(1)
        let attributes: CellAttributes = focused ? [.bold, .underline] : [.bold]
        let heading = "\(title) [\(yScale.label)]"
        buffer.put(heading, x: titleRow.x, y: titleRow.y, role: titleRole, attributes: attributes, maxWidth: titleRow.width)

        let (plotAndY, xAxisRow) = showXAxis ? body.splitBottom(1) : (body, Rect(x: 0, y: 0, width: 0, height: 0))
        let (yLabels, plot) = plotAndY.splitLeft(LineChart.yLabelWidth)
        guard plot.width >= 2, plot.height >= 1 else { return }

        // Axis line between labels and plot.
        for row in 0..<plot.height {
            buffer.put(glyphs.verticalLine, x: yLabels.maxX - 1, y: plot.y + row, role: .muted)
        }
        let plotArea = Rect(x: plot.x, y: plot.y, width: plot.width, height: plot.height)

        // Transformed once per frame: the range and the plot both use them. A
        // line never needs more points than the plot has dot columns, so long
        // histories are thinned first (keeping the last point).
        let dotColumns = plot.width * (glyphs.braille ? 2 : 1)
        let xCoordinates = series.map { s in LineChart.thin(s.xs, to: s.style == .markers ? Int.max : dotColumns).map { xScale.transform($0) ?? .nan } }
        let yCoordinates = series.map { s in LineChart.thin(s.ys, to: s.style == .markers ? Int.max : dotColumns).map { yScale.transform($0) ?? .nan } }
        guard let xr = xRange ?? LineChart.range(of: xCoordinates, scale: xScale),
              var yr = LineChart.range(of: yCoordinates, scale: yScale) else {
            buffer.put("no data yet", x: plotArea.x + 1, y: plotArea.y + plotArea.height / 2, role: .muted, maxWidth: plotArea.width - 1)
            return
        }

        if negativeRole != nil, yScale == .linear, yr.lowerBound < 0, yr.upperBound > 0 {
            // Room below the zero line: at least a row and a half, so a slightly
            // negative stretch is drawn below it, not on the chart's bottom edge.
            let share = Swift.min(0.3, 1.5 / Double(Swift.max(1, plot.height)))
            yr = Swift.min(yr.lowerBound, -share / (1 - share) * yr.upperBound)...yr.upperBound
        }
        drawYLabels(into: &buffer, labels: yLabels, range: yr)
        if showXAxis { drawXLabels(into: &buffer, row: xAxisRow, plot: plotArea, range: xr) }

        var canvas = PlotCanvas(columns: plotArea.width, rows: plotArea.height, braille: glyphs.braille)
        let dotW = Double(max(1, canvas.dotWidth - 1)), dotH = Double(max(1, canvas.dotHeight - 1))
        // A range of one value draws at its low end, not as NaN.
        func fraction(_ t: Double, _ range: ClosedRange<Double>) -> Double {
            range.upperBound > range.lowerBound ? AxisFraction.of(t, low: range.lowerBound, high: range.upperBound) : 0
        }
        func dot(_ tx: Double, _ ty: Double) -> (Int, Int)? {
            guard !tx.isNaN, !ty.isNaN else { return nil }
            let px = (fraction(tx, xr) * dotW).rounded()
            let py = ((1 - fraction(ty, yr)) * dotH).rounded()
            guard px.isFinite, py.isFinite, px >= -1, px <= dotW + 1, py >= -1, py <= dotH + 1 else { return nil }
            return (Int(px), Int(py))
        }
        // Fits first so data draws over them; the emphasised series last so it stays on top.
        let order = series.indices.sorted { a, b in
            func rank(_ s: ChartSeries) -> Int { s.style == .fit || s.style == .raw ? 0 : (s.emphasised ? 2 : 1) }
            return rank(series[a]) < rank(series[b])
        }
        for index in order where series[index].style != .markers {
            let s = series[index]
            let glyph = s.style == .fit || s.style == .raw ? glyphs.fitDot : s.glyph
            var previous: (Int, Int)?
            for (x, y) in zip(xCoordinates[index], yCoordinates[index]) {
                guard let p = dot(x, y) else { previous = nil; continue }
                if let q = previous {
                    canvas.line(x0: q.0, y0: q.1, x1: p.0, y1: p.1, role: s.role, glyph: glyph)
                } else {
                    canvas.set(x: p.0, y: p.1, role: s.role, glyph: glyph)
                }
                previous = p
            }
        }
        canvas.render(into: &buffer, area: plotArea)
        if let negativeRole, yScale == .linear, yr.lowerBound < 0, yr.upperBound > 0, let zero = dot(xr.lowerBound, 0) {
            let zeroRow = plotArea.y + min(plotArea.height - 1, max(0, zero.1 / (glyphs.braille ? 4 : 1)))
            for column in plotArea.x..<plotArea.maxX {
                if buffer[column, zeroRow].character == " " { buffer.put(glyphs.horizontalLine, x: column, y: zeroRow, role: .muted) }
                for row in (zeroRow + 1)..<plotArea.maxY where buffer[column, row].character != " " {
                    var cell = buffer[column, row]
                    cell.role = negativeRole
                    buffer[column, row] = cell
                }
            }
        }
        if let cursor, let tx = xScale.transform(cursor), let p = dot(tx, yr.upperBound) {
            let column = plotArea.x + min(plotArea.width - 1, max(0, p.0 / (glyphs.braille ? 2 : 1)))
            for row in plotArea.y..<plotArea.maxY where buffer[column, row].character == " " {
                buffer.put(glyphs.verticalLine, x: column, y: row, role: .selection)
            }
        }
        for (index, s) in series.enumerated() where s.style == .markers {
            for (x, y) in zip(xCoordinates[index], yCoordinates[index]) {
                guard let p = dot(x, y) else { continue }
                let cx = plotArea.x + min(plotArea.width - 1, max(0, p.0 / (glyphs.braille ? 2 : 1)))
                let cy = plotArea.y + min(plotArea.height - 1, max(0, p.1 / (glyphs.braille ? 4 : 1)))
                buffer.put(s.glyph, x: cx, y: cy, role: s.role, attributes: .bold)
            }
        }
    }

    /// Every k-th value so that at most about `limit` remain, always with the last.
    static func thin(_ values: [Double], to limit: Int) -> [Double] {
        guard limit > 0, values.count > limit else { return values }
        let step = (values.count + limit - 1) / limit
        var result = Swift.stride(from: 0, to: values.count, by: step).map { values[$0] }
        if (values.count - 1) % step != 0, let last = values.last { result.append(last) }
        return result
    }

    private func drawYLabels(into buffer: inout CellBuffer, labels: Rect, range: ClosedRange<Double>) {
        let width = labels.width - 1
        guard width > 0, labels.height > 0 else { return }
        var rows = [0, labels.height - 1]
        if labels.height >= 5 { rows.insert((labels.height - 1) / 2, at: 1) }
        if labels.height >= 9 { rows = [0, (labels.height - 1) / 4, (labels.height - 1) / 2, 3 * (labels.height - 1) / 4, labels.height - 1] }
        for row in rows {
            let fraction = labels.height > 1 ? 1 - Double(row) / Double(labels.height - 1) : 0.5
            let coordinate = AxisFraction.value(at: fraction, low: range.lowerBound, high: range.upperBound)
            let text = NumberFormat.axis(yScale.value(at: coordinate))
            let x = labels.x + max(0, width - text.count)
            buffer.put(text, x: x, y: labels.y + row, role: .muted, maxWidth: width)
        }
    }

    private func drawXLabels(into buffer: inout CellBuffer, row: Rect, plot: Rect, range: ClosedRange<Double>) {
        guard row.height > 0 else { return }
        let low = NumberFormat.axis(xScale.value(at: range.lowerBound))
        let high = NumberFormat.axis(xScale.value(at: range.upperBound))
        let mid = NumberFormat.axis(xScale.value(at: (range.lowerBound + range.upperBound) / 2))
        buffer.put(low, x: plot.x, y: row.y, role: .muted, maxWidth: plot.width)
        let highX = plot.maxX - high.count
        if highX > plot.x + low.count { buffer.put(high, x: highX, y: row.y, role: .muted) }
        let midX = plot.x + plot.width / 2 - mid.count / 2
        if midX > plot.x + low.count + 1 && midX + mid.count < highX - 1 {
            buffer.put(mid, x: midX, y: row.y, role: .muted)
        }
    }
}
