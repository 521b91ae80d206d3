import SpecTopRecord

/// One large chart per metric (loss, χ_net, χ_pos) with every model overlaid
/// in its own colour and glyph on a shared step axis, and a legend.
public struct CompareView: Sendable {
    public var snapshot: EngineSnapshot
    public var state: MonitorState
    public var selectedIndex: Int?

    /// Smallest body the three charts can share.
    public static let minimumSize = (width: 40, height: 12)

    public init(snapshot: EngineSnapshot, state: MonitorState, selectedIndex: Int?) {
        self.snapshot = snapshot; self.state = state; self.selectedIndex = selectedIndex
    }

    struct LegendEntry {
        var glyph: Unicode.Scalar
        var role: ColorRole
        var label: String
        var selected: Bool
        var width: Int { label.unicodeScalars.count + 3 }
    }

    /// A model's x coordinates on the chosen axis; nil when the axis needs
    /// what the model does not say (compute without a batch size).
    func xs(_ model: ModelSnapshot) -> [Double]? {
        xs(steps: model.history.steps, wall: model.history.wall.count == model.history.count ? model.history.wall : nil, of: model)
    }

    /// A user scalar's x coordinates on the chosen axis (its own steps).
    func userXs(_ model: ModelSnapshot, _ series: UserScalarSeries) -> [Double]? {
        xs(steps: series.steps, wall: series.wall, of: model)
    }

    private func xs(steps: [Int], wall: [Double]?, of model: ModelSnapshot) -> [Double]? {
        switch state.xAxis {
        case .step: return steps.map(Double.init)
        case .wall: return wall
        case .compute: return CompareView.flopsPerStep(model).map { perStep in steps.map { Double($0) * perStep } }
        }
    }

    /// Training compute per step, 6·N·B (N trainable parameters, B samples a
    /// step); nil when the record does not give the batch size.
    static func flopsPerStep(_ model: ModelSnapshot) -> Double? {
        TrainingCompute.flopsPerStep(trainableParameters: model.trainableParameterCount, batchSize: model.batchSize)
    }

    func ys(_ model: ModelSnapshot, _ metric: ChartMetric) -> [Double] {
        switch metric {
        case .loss: return model.history.loss
        case .chiNet: return state.normalised ? model.history.chiNetNormalized : model.history.chiNet
        case .chiPos: return model.history.chiPos
        case .crossChiPos: return model.history.crossChiPos
        }
    }

    /// The x axis's scale: linear, or log (`X`; the paper's Fig. 1 is log–log).
    var xScale: AxisScale { state.xLog ? .log : .linear }

    /// The x range shown, in plotted coordinates (log10 of x on a log axis):
    /// the whole run on this axis, or its latest part (`z`). On a log axis
    /// only positive x can be drawn (step 0 is left out).
    func visibleRange() -> ClosedRange<Double> {
        let shown = snapshot.models.filter { !state.hiddenModels.contains($0.id) }
        let all = shown.compactMap(xs).flatMap { $0 }.compactMap { xScale.transform($0) }.filter(\.isFinite)
        let low = state.xAxis == .wall || state.xLog ? (all.min() ?? 0) : 0
        let high = max(low + 1e-9, all.max() ?? 1)
        return AxisFraction.value(at: 1 - 1 / Double(state.zoom.rawValue), low: low, high: high)...high
    }

    /// Where the value cursor stands, as an x value; nil when it is off.
    func cursorX(in range: ClosedRange<Double>) -> Double? {
        state.cursor.map { xScale.value(at: AxisFraction.value(at: $0, low: range.lowerBound, high: range.upperBound)) }
    }

    /// The value of `metric` a model had at `x`: its last point at or before it.
    func value(_ model: ModelSnapshot, _ metric: ChartMetric, at x: Double) -> Double? {
        guard let points = xs(model), let index = points.lastIndex(where: { $0 <= x }) else { return nil }
        return ys(model, metric)[index]
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        buffer.fill(area, with: .blank)
        let order = ModelOrder(snapshot.models).flat
        let range = visibleRange()
        let cursor = cursorX(in: range)
        let entries = order.enumerated().map { position, index -> LegendEntry in
            let model = snapshot.models[index]
            var suffix = model.status.stoppedEarly ? " (\(model.status.rawValue))" : ""
            if state.hiddenModels.contains(model.id) { suffix += " (hidden)" }
            if let cursor, !state.hiddenModels.contains(model.id) {
                // The cursor's readout: every series' value of the focused metric at that x.
                suffix += " " + NumberFormat.scientific(value(model, state.focusedMetric, at: cursor))
            }
            if let latest = model.latest, latest.traceIsEstimate {
                // An estimated χ_net says so in the legend, with its error.
                suffix += " " + glyphs.chiNet + " ~" + (NumberFormat.relativeError(latest) ?? "")
            }
            return LegendEntry(glyph: glyphs.seriesGlyph(position), role: .series(position), label: model.id + suffix, selected: index == selectedIndex)
        }

        var charts = area
        if area.width >= 100 {
            // Room for the cursor's readout, and for the key to the event letters when there are any.
            let legendWidth = min(cursor == nil ? 30 : 40, max(snapshot.marks.isEmpty ? 0 : 30, (entries.map(\.width).max() ?? 0) + 3))
            let (left, legend) = area.splitRight(legendWidth)
            charts = Rect(x: left.x, y: left.y, width: left.width - 1, height: left.height)
            let title = cursor.map { "\(state.focusedMetric.label(glyphs)) at \(state.xAxis.label) \(NumberFormat.axis($0))" } ?? "models"
            buffer.put(title, x: legend.x + 1, y: legend.y, role: .text, attributes: .bold, maxWidth: legend.width - 1)
            for (row, entry) in entries.enumerated() where row + 1 < legend.height {
                drawEntry(entry, into: &buffer, x: legend.x, y: legend.y + 1 + row, maxX: legend.maxX, glyphs: glyphs)
            }
            if !snapshot.marks.isEmpty, entries.count + 4 <= legend.height {
                // What the letters under the charts mean.
                let y = legend.y + entries.count + 2
                buffer.put("F freeze  E export  S speed", x: legend.x + 1, y: y, role: .muted, maxWidth: legend.width - 1)
                buffer.put("P pause  R resume  ! stopped", x: legend.x + 1, y: y + 1, role: .muted, maxWidth: legend.width - 1)
            }
        } else {
            // Legend rows on top, entries packed left to right.
            var rows: [[LegendEntry]] = [[]]
            var used = 0
            for entry in entries {
                if used + entry.width + 2 > area.width && !(rows.last?.isEmpty ?? true) {
                    rows.append([]); used = 0
                }
                rows[rows.count - 1].append(entry)
                used += entry.width + 2
            }
            let legendRows = min(rows.count, max(1, area.height / 4))
            let (legend, rest) = area.splitTop(legendRows)
            charts = rest
            for (r, row) in rows.prefix(legendRows).enumerated() {
                var x = legend.x
                for entry in row {
                    drawEntry(entry, into: &buffer, x: x, y: legend.y + r, maxX: legend.maxX, glyphs: glyphs)
                    x += entry.width + 2
                }
            }
        }

        let metrics = ChartMetric.shown(cross: snapshot.models.contains { $0.history.hasCross })
        // A user scalar (`u`) gets a chart of its own under the metrics.
        let userName = state.userScalar.flatMap { name in snapshot.models.contains { $0.userScalars.contains { $0.name == name } } ? name : nil }
        let chartCount = metrics.count + (userName == nil ? 0 : 1)
        let heights = CompareView.split(charts.height, into: chartCount)
        var y = charts.y
        for (chartIndex, metric) in metrics.enumerated() {
            let rect = Rect(x: charts.x, y: y, width: charts.width, height: heights[chartIndex])
            y += heights[chartIndex]
            let series = order.enumerated().flatMap { position, index -> [ChartSeries] in
                let model = snapshot.models[index]
                guard !state.hiddenModels.contains(model.id), let xs = xs(model) else { return [] }
                if state.windowMeans && model.history.hasWindows {
                    // Each window's mean, with its spread as two faint lines.
                    let w = model.history.windowMeans(xs: xs, ys: ys(model, metric))
                    return [ChartSeries(label: model.id + " (low)", xs: w.x, ys: w.low, role: .muted, glyph: glyphs.fitDot, style: .raw),
                            ChartSeries(label: model.id + " (high)", xs: w.x, ys: w.high, role: .muted, glyph: glyphs.fitDot, style: .raw),
                            ChartSeries(label: model.id, xs: w.x, ys: w.mean, role: .series(position), glyph: glyphs.seriesGlyph(position),
                                        emphasised: index == selectedIndex)]
                }
                let ys = ys(model, metric)
                let line = ChartSeries(label: model.id, xs: xs, ys: state.smoothing.apply(ys, scale: state.yScale(metric)),
                                       role: .series(position), glyph: glyphs.seriesGlyph(position), emphasised: index == selectedIndex)
                guard state.smoothing != .off else { return [line] }
                // TensorBoard's convention: the raw curve stays, faint, behind the smoothed one.
                return [ChartSeries(label: model.id + " (raw)", xs: xs, ys: ys, role: .muted, glyph: glyphs.fitDot, style: .raw), line]
            }
            // Without colour every braille line looks alike: one glyph per series (as in the legend) instead.
            var chartGlyphs = glyphs
            if state.monochrome { chartGlyphs.braille = false }
            // The x axis's scale, said once, on the top chart (the label column is too narrow).
            let title = CompareView.title(metric, normalised: state.normalised, glyphs: glyphs) + (state.xLog && chartIndex == 0 ? " (x axis: log)" : "")
            var chart = LineChart(title: title, series: series, xScale: xScale,
                                  yScale: state.yScale(metric), xRange: range, focused: metric == state.focusedMetric,
                                  showXAxis: chartIndex == chartCount - 1, titleRole: metric.role, cursor: cursor)
            // Interference: below zero a step on the probe raises the other batch's loss.
            if metric.isSigned { chart.negativeRole = .warning }
            chart.render(into: &buffer, area: rect, glyphs: chartGlyphs)
        }
        if let userName {
            let rect = Rect(x: charts.x, y: y, width: charts.width, height: heights[chartCount - 1])
            let series = order.enumerated().compactMap { position, index -> ChartSeries? in
                let model = snapshot.models[index]
                guard !state.hiddenModels.contains(model.id), let user = model.userScalars.first(where: { $0.name == userName }),
                      let xs = userXs(model, user) else { return nil }
                return ChartSeries(label: model.id, xs: xs, ys: user.values, role: .series(position), glyph: glyphs.seriesGlyph(position),
                                   emphasised: index == selectedIndex)
            }
            // Log where every value is positive (losses, learning rates), else linear (a score that can be negative).
            let values = series.flatMap(\.ys).filter(\.isFinite)
            let scale: AxisScale = !values.isEmpty && values.allSatisfy { $0 > 0 } ? .log : .linear
            var chartGlyphs = glyphs
            if state.monochrome { chartGlyphs.braille = false }
            LineChart(title: "user: " + userName, series: series, xScale: xScale, yScale: scale, xRange: range, showXAxis: true,
                      titleRole: .text, cursor: cursor).render(into: &buffer, area: rect, glyphs: chartGlyphs)
        }
        if charts.height >= 3 {
            let label = state.xAxis.label
            buffer.put(label, x: charts.x, y: charts.maxY - 1, role: .muted, maxWidth: LineChart.yLabelWidth - 1)
            drawMarks(into: &buffer, row: charts.y, plotX: charts.x + LineChart.yLabelWidth,
                      plotWidth: charts.width - LineChart.yLabelWidth, range: range)
        }
    }

    /// Where a mark stands on the current x axis; nil when this axis cannot place it.
    func markX(_ mark: RunMark) -> Double? {
        switch state.xAxis {
        case .step: return Double(mark.step)
        case .wall: return mark.wall
        case .compute:
            guard let model = snapshot.models.first(where: { $0.id == mark.model }), let perStep = CompareView.flopsPerStep(model) else { return nil }
            return Double(mark.step) * perStep
        }
    }

    /// The run's events above the charts, one letter each on the top chart's
    /// title row at its x (F freeze, E export, P pause, R resume, S speed,
    /// ! diverged or failed), where the row is free: never over the title.
    private func drawMarks(into buffer: inout CellBuffer, row: Int, plotX: Int, plotWidth: Int, range: ClosedRange<Double>) {
        guard plotWidth > 1, range.upperBound > range.lowerBound else { return }
        for mark in snapshot.marks {
            guard let raw = markX(mark), let x = xScale.transform(raw), range.contains(x),
                  let offset = AxisFraction.cell(AxisFraction.of(x, low: range.lowerBound, high: range.upperBound), cells: plotWidth)
            else { continue }
            let column = plotX + offset
            guard buffer[column, row].character == " " else { continue }
            let role: ColorRole = mark.kind == .diverged || mark.kind == .failed ? .warning : .selection
            buffer.put(Unicode.Scalar(String(mark.kind.letter))!, x: column, y: row, role: role, attributes: .bold)
        }
    }

    private func drawEntry(_ entry: LegendEntry, into buffer: inout CellBuffer, x: Int, y: Int, maxX: Int, glyphs: GlyphSet) {
        if entry.selected { buffer.put(glyphs.pointer, x: x, y: y, role: .selection, attributes: .bold) }
        buffer.put(entry.glyph, x: x + 1, y: y, role: entry.role, attributes: .bold)
        buffer.put(entry.label, x: x + 3, y: y, role: entry.selected ? .selection : .text,
                   attributes: entry.selected ? .bold : [], maxWidth: max(0, maxX - x - 3))
    }

    /// A chart's title: χ_net says when it is the normalised χ_net/n.
    static func title(_ metric: ChartMetric, normalised: Bool, glyphs: GlyphSet) -> String {
        switch metric {
        case .chiNet where normalised: return glyphs.chiNet + "/n"
        case .crossChiPos: return metric.label(glyphs) + " (probe vs batch B)"
        default: return metric.label(glyphs)
        }
    }

    /// `total` rows split into `parts` nearly equal heights.
    static func split(_ total: Int, into parts: Int) -> [Int] {
        (0..<parts).map { (($0 + 1) * total) / parts - ($0 * total) / parts }
    }
}
