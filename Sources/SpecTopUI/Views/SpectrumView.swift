import SpecTopRecord

/// The selected model's eNTK spectrum: a full-size histogram (counts and
/// residual weight per log-spaced bin, the ≈0 bin, the λ_eff marker), the
/// spectral numbers beside it, the χ_pos history beneath, and per-layer bars
/// of each layer's share of χ_net and of the gradient.
public struct SpectrumView: Sendable {
    public var model: ModelSnapshot?
    public var state: MonitorState

    public static let minimumSize = (width: 50, height: 16)

    public init(model: ModelSnapshot?, state: MonitorState) {
        self.model = model; self.state = state
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        buffer.fill(area, with: .blank)
        guard let model else {
            buffer.put("no model selected", x: area.x + 1, y: area.y + 1, role: .muted, maxWidth: area.width - 1)
            return
        }
        let (titleRow, body) = area.splitTop(1)
        let modeRole: ColorRole = model.mode == .active ? .active : .frozen
        var x = titleRow.x + 1
        x += buffer.put("spectrum ", x: x, y: titleRow.y, role: .text, attributes: .bold)
        x += buffer.put(model.id, x: x, y: titleRow.y, role: modeRole, attributes: .bold)
        let stepText = model.spectrum.map { "  eNTK at step \($0.step)" } ?? ""
        x += buffer.put(stepText + "  (Esc: back)", x: x, y: titleRow.y, role: .muted, maxWidth: titleRow.maxX - x)

        // Heights: histogram ~45%, χ_pos history ~25%, layers the rest (at most what they need).
        let layerRows = model.layers.isEmpty ? 0 : min(model.layers.count + 1, max(2, body.height / 4))
        let historyRows = max(4, (body.height - layerRows) * 2 / 5)
        let histogramRows = max(4, body.height - layerRows - historyRows)
        let (top, rest) = body.splitTop(histogramRows)
        let (history, layers) = rest.splitTop(historyRows)

        let statsWidth = top.width >= 70 ? 30 : 0
        let (histogramArea, statsArea) = top.splitRight(statsWidth)
        let histogramRect = Rect(x: histogramArea.x + 1, y: histogramArea.y, width: histogramArea.width - 2, height: histogramArea.height)
        if let spectrum = model.spectrum {
            let (legendRow, plot) = histogramRect.splitTop(1)
            var lx = legendRow.x
            let block = glyphs.vertical(8) ?? "#"
            lx += buffer.put(String(block), x: lx, y: legendRow.y, role: .histogram)
            lx += buffer.put(" count  ", x: lx, y: legendRow.y, role: .muted)
            lx += buffer.put(String(block), x: lx, y: legendRow.y, role: .residual)
            lx += buffer.put(" residual weight  ", x: lx, y: legendRow.y, role: .muted, maxWidth: legendRow.maxX - lx)
            lx += buffer.put(String(glyphs.marker), x: lx, y: legendRow.y, role: .marker, attributes: .bold)
            buffer.put(" " + glyphs.lambdaEff, x: lx, y: legendRow.y, role: .muted, maxWidth: legendRow.maxX - lx)
            HistogramWidget(histogram: spectrum.histogram, showAxis: true).render(into: &buffer, area: plot, glyphs: glyphs)
        } else if let reason = model.spectrumUnavailable {
            WrappedText(reason).render(into: &buffer, area: histogramRect, glyphs: glyphs)
        } else {
            buffer.put("no spectrum yet", x: histogramRect.x, y: histogramRect.y + histogramRect.height / 2, role: .muted, maxWidth: histogramRect.width)
        }
        let stats = statsArea.isEmpty ? Rect(x: 0, y: 0, width: 0, height: 0) : statsArea
        renderStats(into: &buffer, area: stats, model: model, glyphs: glyphs)

        var series = [ChartSeries(label: model.id, xs: model.history.steps.map(Double.init), ys: model.history.chiPos,
                                  role: .chiPos, glyph: glyphs.seriesGlyph(0))]
        var title = glyphs.chiPos + " history"
        var scale = state.yScale(.chiPos)
        if model.history.hasCross {
            // Self vs cross in one line: both on one linear axis, since the cross form can be negative.
            series.append(ChartSeries(label: model.id + " cross", xs: model.history.steps.map(Double.init), ys: model.history.crossChiPos,
                                      role: .series(1), glyph: glyphs.seriesGlyph(1)))
            title = glyphs.chiPos + ": probe with itself (" + String(glyphs.seriesGlyph(0)) + "); cross: a step on the probe vs the loss on batch B ("
                + String(glyphs.seriesGlyph(1)) + ", below 0 = interference)"
            scale = .linear
        }
        var historyChart = LineChart(title: title, series: series, xScale: .linear, yScale: scale,
                                     focused: state.focusedMetric == .chiPos || state.focusedMetric == .crossChiPos, titleRole: .chiPos)
        if model.history.hasCross { historyChart.negativeRole = .warning }
        historyChart.render(into: &buffer, area: Rect(x: history.x + 1, y: history.y, width: history.width - 2, height: history.height), glyphs: glyphs)

        renderLayers(into: &buffer, area: Rect(x: layers.x + 1, y: layers.y, width: layers.width - 2, height: layers.height), model: model, glyphs: glyphs)
    }

    private func renderStats(into buffer: inout CellBuffer, area: Rect, model: ModelSnapshot, glyphs: GlyphSet) {
        guard area.width > 10, area.height > 0 else { return }
        let spectrum = model.spectrum
        // "~" marks a matrix-free estimate (top-k exact, the rest by Lanczos quadrature).
        let estimated = spectrum?.isEstimate ?? false
        let approx = estimated ? "~" : ""
        var rEff = NumberFormat.missing
        if let value = spectrum?.rEff, value.isFinite {
            rEff = approx + NumberFormat.fixed(value, decimals: 3)
            if estimated, let half = spectrum?.rEffUncertainty { rEff += "±" + NumberFormat.fixed(half, decimals: 3) }
        }
        let rows: [(String, String)] = [
            ("eigenvalues", spectrum.map { $0.isEstimate ? "top \($0.eigenvalues.count) of \($0.modeCount)" : "\($0.eigenvalues.count)" } ?? NumberFormat.missing),
            ("effective rank", (spectrum == nil ? "" : approx) + NumberFormat.fixed(spectrum?.effectiveRank, decimals: 1)),
            ("r_eff", rEff),
            (glyphs.chiPos + " exact", NumberFormat.scientific(spectrum?.chiPosExact)),
            // A Hutchinson χ_net (the probe's) makes χ_pos an estimate too: marked as in the panels.
            (glyphs.chiPos + " kernel-free", (model.latest?.traceIsEstimate == true ? "~" : "") + NumberFormat.scientific(model.latest?.chiPos)),
            (glyphs.lambdaEff, NumberFormat.scientific(spectrum?.lambdaEff)),
            (glyphs.chiNet, NumberFormat.chiNet(model.latest)),
        ]
        var extra: [(String, String)] = []
        if let latest = model.latest, latest.rows > 0 {
            // The normalised factors (n the probe rows): comparable across probe sizes.
            extra.append((glyphs.chiNet + "/n", NumberFormat.scientific(latest.normalizedChiNet)))
            extra.append(("n" + glyphs.times + glyphs.chiLoss, NumberFormat.scientific(latest.normalizedChiLoss)))
        }
        if let cross = model.latest?.cross {
            extra.append(("cross " + glyphs.chiPos, NumberFormat.scientific(cross.chiPos)))
        }
        // The user's own numbers (probe.log): each name's latest value, with its step when it is not the model's.
        for series in model.userScalars {
            guard let latest = series.latest else { continue }
            let at = latest.step == model.step ? "" : " @\(latest.step)"
            extra.append((series.name, NumberFormat.scientific(latest.value.isNaN ? nil : latest.value) + at))
        }
        let more: [(String, String)] = [
            (glyphs.approxZero + " bin", spectrum.map { approx + "\($0.histogram.nearZeroCount)" } ?? NumberFormat.missing),
            ("reach (min " + glyphs.chiPos + ")", NumberFormat.scientific(model.minChiPos)),
            ("max r_eff", NumberFormat.fixed(model.maxREff, decimals: 3)),
            ("amplification", model.amplification.map { glyphs.times + NumberFormat.fixed($0, decimals: 2) } ?? NumberFormat.missing),
            ("time per step", model.stepsPerSecond > 0 ? NumberFormat.seconds(1 / model.stepsPerSecond) : NumberFormat.missing),
            ("time per spectrum", model.spectrumSeconds.map(NumberFormat.seconds) ?? NumberFormat.missing),
            ("progress", model.stepBudget > 0 ? "\(model.step)/\(model.stepBudget)" : "\(model.step)"),
            ("ETA", model.secondsToGo.map(NumberFormat.duration) ?? NumberFormat.missing),
        ]
        for (index, row) in (rows + extra + more).enumerated() where index < area.height {
            let y = area.y + index
            buffer.put(row.0, x: area.x, y: y, role: .muted, maxWidth: area.width)
            let valueX = area.maxX - 1 - row.1.count
            if valueX > area.x + row.0.count { buffer.put(row.1, x: valueX, y: y, role: .text, attributes: .bold) }
        }
    }

    private func renderLayers(into buffer: inout CellBuffer, area: Rect, model: ModelSnapshot, glyphs: GlyphSet) {
        guard !model.layers.isEmpty, area.height >= 2, area.width >= 30 else { return }
        let labelWidth = 5, percentWidth = 7
        let barWidth = (area.width - labelWidth - 2 * percentWidth - 4) / 2
        let netX = area.x + labelWidth + 1
        let gradX = netX + barWidth + percentWidth + 2
        buffer.put("layer", x: area.x, y: area.y, role: .muted)
        buffer.put("share of " + glyphs.chiNet, x: netX, y: area.y, role: .chiNet, attributes: .bold, maxWidth: barWidth + percentWidth)
        buffer.put("share of gradient", x: gradX, y: area.y, role: .loss, attributes: .bold, maxWidth: area.maxX - gradX)
        let last = model.layers.map(\.layer).max() ?? 0
        for (row, layer) in model.layers.sorted(by: { $0.layer < $1.layer }).enumerated() where row + 1 < area.height {
            let y = area.y + 1 + row
            let label = layer.layer == last ? "out" : "L\(layer.layer)"
            buffer.put(label, x: area.x, y: y, role: .text, maxWidth: labelWidth)
            BarGauge(fraction: layer.chiNetShare, role: .chiNet).render(into: &buffer, area: Rect(x: netX, y: y, width: barWidth, height: 1), glyphs: glyphs)
            buffer.put(NumberFormat.percent(layer.chiNetShare), x: netX + barWidth + 1, y: y, role: .text, maxWidth: percentWidth)
            BarGauge(fraction: layer.gradientShare, role: .loss).render(into: &buffer, area: Rect(x: gradX, y: y, width: barWidth, height: 1), glyphs: glyphs)
            buffer.put(NumberFormat.percent(layer.gradientShare), x: gradX + barWidth + 1, y: y, role: .text, maxWidth: max(0, area.maxX - gradX - barWidth - 1))
        }
    }
}
