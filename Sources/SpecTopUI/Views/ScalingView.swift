import SpecTopRecord

/// Current loss and spectral reach (min χ_pos) against parameter count on
/// log-log axes, active and frozen runs as two series, each with its
/// least-squares power law (`PowerLawFit`, the same numbers `claims` uses).
public struct ScalingView: Sendable {
    public var snapshot: EngineSnapshot
    public var state: MonitorState

    public static let minimumSize = (width: 50, height: 14)

    public init(snapshot: EngineSnapshot, state: MonitorState) {
        self.snapshot = snapshot; self.state = state
    }

    /// The points of one series: parameter count and the measured value.
    struct Points {
        var x: [Double] = []
        var y: [Double] = []
    }

    static func points(_ models: [ModelSnapshot], mode: TrainingMode, value: (ModelSnapshot) -> Double?) -> Points {
        var points = Points()
        for model in models where model.mode == mode && !model.status.stoppedEarly {
            guard let v = value(model), v.isFinite, v > 0 else { continue }
            points.x.append(Double(model.parameterCount))
            points.y.append(v)
        }
        return points
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        buffer.fill(area, with: .blank)
        let charts: [(title: String, symbol: String, value: (ModelSnapshot) -> Double?)] = [
            ("loss vs parameters", "loss", { $0.latest?.loss }),
            ("reach (min " + glyphs.chiPos + ") vs parameters", "reach", { $0.minChiPos }),
        ]
        let sideBySide = area.width >= 100
        for (index, chart) in charts.enumerated() {
            let rect: Rect
            if sideBySide {
                let half = area.width / 2
                rect = Rect(x: area.x + index * half, y: area.y, width: index == 0 ? half - 1 : area.width - half, height: area.height)
            } else {
                let half = area.height / 2
                rect = Rect(x: area.x, y: area.y + index * half, width: area.width, height: index == 0 ? half : area.height - half)
            }
            renderChart(title: chart.title, symbol: chart.symbol, value: chart.value, into: &buffer, area: rect, glyphs: glyphs)
        }
    }

    private func renderChart(title: String, symbol: String, value: (ModelSnapshot) -> Double?, into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        let (plotArea, fitRows) = area.splitBottom(2)
        var series: [ChartSeries] = []
        var fitLines: [(String, ColorRole)] = []
        let modes: [(TrainingMode, ColorRole, Unicode.Scalar)] = [
            (.active, .active, glyphs.seriesGlyph(0)),
            (.frozen, .frozen, glyphs.seriesGlyph(1)),
        ]
        for (mode, role, glyph) in modes {
            let points = ScalingView.points(snapshot.models, mode: mode, value: value)
            let dataSets = Set(snapshot.models.filter { $0.mode == mode }.compactMap(\.dataSet)).sorted()
            let sizes = Set(points.x).count
            if dataSets.count > 1 {
                // One power law across data sets or losses would mean nothing: say so instead of fitting.
                fitLines.append(("\(String(glyph)) \(mode.rawValue): no fit across \(dataSets.count) data sets: \(dataSets.joined(separator: ", "))", role))
            } else if let fit = PowerLawFit(x: points.x, y: points.y), let low = points.x.min(), let high = points.x.max() {
                let xs = ScalingView.logSpaced(from: low, to: high, count: 24)
                series.append(ChartSeries(label: "\(mode.rawValue) fit", xs: xs, ys: xs.map(fit.predict), role: role, glyph: glyphs.fitDot, style: .fit))
                let exponent = NumberFormat.fixed(fit.exponent, decimals: 3)
                let r2 = NumberFormat.fixed(fit.rSquared, decimals: 3)
                // Sizes, not points: several seeds or runs of one size are one size.
                let counted = fit.pointCount == sizes ? "\(sizes) sizes" : "\(sizes) sizes, \(fit.pointCount) models"
                fitLines.append(("\(String(glyph)) \(mode.rawValue): \(symbol) \(glyphs.proportional) N^\(exponent)  \(glyphs.rSquared) \(r2)  (\(counted))", role))
            } else {
                fitLines.append(("\(String(glyph)) \(mode.rawValue): fit needs two sizes with data", role))
            }
            series.append(ChartSeries(label: mode.rawValue, xs: points.x, ys: points.y, role: role, glyph: glyph, style: .markers))
        }
        let chart = LineChart(title: title, series: series, xScale: .log, yScale: .log, focused: false, titleRole: .text)
        chart.render(into: &buffer, area: plotArea, glyphs: glyphs)
        if plotArea.height >= 3 {
            buffer.put("N", x: plotArea.x, y: plotArea.maxY - 1, role: .muted)
        }
        for (row, line) in fitLines.enumerated() where row < fitRows.height {
            buffer.put(line.0, x: fitRows.x + 1, y: fitRows.y + row, role: line.1, maxWidth: fitRows.width - 1)
        }
    }

    static func logSpaced(from low: Double, to high: Double, count: Int) -> [Double] {
        guard count >= 2, low > 0, high > low else { return [low, high] }
        let a = AxisScale.log.transform(low) ?? 0, b = AxisScale.log.transform(high) ?? 0
        return (0..<count).map { AxisScale.log.value(at: a + (b - a) * Double($0) / Double(count - 1)) }
    }
}
