import Foundation
import SpecTopRecord

/// One model's panel in the grid view: id, parameter count and step, the
/// loss, χ_net and χ_pos sparklines with current values, spectral reach and
/// amplification, and a small eigenvalue histogram when there is room.
///
/// What is dropped as the panel shrinks, in order: the histogram, the
/// label-above-sparkline layout (values move beside one-row sparklines), the
/// parameter/step row, the reach row. The three sparklines with values stay.
public struct ModelPanel: Sendable {
    public var model: ModelSnapshot
    public var selected: Bool
    public var state: MonitorState
    /// Several records on screen: the colour of this model's run, in which
    /// the title's `RUN/` prefix is drawn, so a run's panels read as one group.
    public var runRole: ColorRole?
    /// What every model name on screen shares at its start and end
    /// (`BoxFrame.sharedAffixes`): a short title leaves it out first.
    public var nameAffixes: (prefix: Int, suffix: Int) = (0, 0)

    public init(model: ModelSnapshot, selected: Bool, state: MonitorState) {
        self.model = model; self.selected = selected; self.state = state
    }

    /// Rows of the inner area given to each part.
    struct Plan: Equatable {
        var infoRow: Bool
        var reachRow: Bool
        /// Reach and amplification on rows of their own (a spare row, narrow panel).
        var reachSplit: Bool
        /// Label-and-value row above each sparkline, instead of inline.
        var stacked: Bool
        var sparklineRows: Int
        var histogramRows: Int
    }

    /// How the inner area is shared among `metrics` sparklines (3, or 4 with
    /// the cross-batch χ_pos), the info and reach rows and the histogram.
    static func plan(innerWidth: Int, innerHeight: Int, metrics: Int = 3) -> Plan {
        let h = innerHeight
        // Stacked: info, each metric's label row and sparkline, reach.
        let base = 2 + 2 * metrics
        guard h >= base else {
            return Plan(infoRow: h >= metrics + 2, reachRow: h >= metrics + 1, reachSplit: false, stacked: false, sparklineRows: 1, histogramRows: 0)
        }
        let left = h - base
        var extra = left / metrics
        var histogram = 0
        if left >= 4 && innerWidth >= 12 {
            extra = min(3, (left - 4) / 5)
            histogram = left - metrics * extra
        }
        let spare = left - metrics * extra - histogram
        return Plan(infoRow: true, reachRow: true, reachSplit: spare >= 1 && innerWidth < 26, stacked: true,
                    sparklineRows: 1 + extra, histogramRows: histogram)
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        guard area.width >= 4, area.height >= 3 else { return }
        buffer.fill(area, with: .blank)
        let modeRole: ColorRole = model.mode == .active ? .active : .frozen
        var title: [BoxFrame.TitlePart] = []
        if selected { title.append(.init(String(glyphs.pointer) + " ", role: .selection, attributes: .bold)) }
        if let runRole, let run = model.run, model.id.hasPrefix(run + "/") {
            title.append(.init(run, role: runRole, shrinks: true))
            title.append(.init(String(model.id.dropFirst(run.count)), role: modeRole, attributes: .bold, shrinks: true))
        } else {
            title.append(.init(model.id, role: modeRole, attributes: .bold, shrinks: true))
        }
        if model.mode == .active && model.featuresFrozen {
            title.append(.init(" feat.frozen", role: .frozen))
        }
        switch model.status {
        case .finished: title.append(.init(" done", role: .muted))
        case .diverged: title.append(.init(" diverged", role: .warning, attributes: .bold))
        case .failed: title.append(.init(" failed", role: .warning, attributes: .bold))
        case .stale: title.append(.init(" stale", role: .warning))
        case .ended:
            // How the run ended and how far it got: `quit at 17%`, never `done`.
            let percent = model.stepBudget > 0 ? min(99, model.step * 100 / model.stepBudget) : 0
            title.append(.init(" \(model.endReason.map(TerminalSafeTitle.word) ?? "stopped") at \(percent)%", role: .warning))
        case .training: break
        }
        var frame = BoxFrame(title: title, role: selected ? .selection : .muted, attributes: selected ? .bold : [])
        frame.nameAffixes = nameAffixes
        frame.render(into: &buffer, area: area, glyphs: glyphs)

        let inner = area.inset(by: 1)
        guard !inner.isEmpty else { return }
        // A diverged or failed model's numbers stop making sense: say so in
        // their place. One whose run ended (quit) keeps its curves: they are
        // whole up to where it stopped, and the title says it stopped.
        if model.status == .diverged || model.status == .failed {
            renderStopped(into: &buffer, inner: inner)
            return
        }
        let metrics = ChartMetric.shown(cross: model.history.hasCross)
        let plan = ModelPanel.plan(innerWidth: inner.width, innerHeight: inner.height, metrics: metrics.count)
        var rest = inner
        if plan.infoRow {
            let (row, remaining) = rest.splitTop(1)
            rest = remaining
            renderInfo(into: &buffer, row: row)
        }
        for metric in metrics {
            let rows = plan.stacked ? 1 + plan.sparklineRows : 1
            let (block, remaining) = rest.splitTop(rows)
            rest = remaining
            renderMetric(metric, into: &buffer, area: block, stacked: plan.stacked, glyphs: glyphs)
        }
        if plan.reachRow {
            let (rows, remaining) = rest.splitTop(plan.reachSplit ? 2 : 1)
            rest = remaining
            renderReach(into: &buffer, rows: rows, glyphs: glyphs)
        }
        if plan.histogramRows > 0 {
            let (area, _) = rest.splitTop(plan.histogramRows)
            if let spectrum = model.spectrum {
                HistogramWidget(histogram: spectrum.histogram).render(into: &buffer, area: area, glyphs: glyphs)
            } else if let reason = model.spectrumUnavailable {
                WrappedText(reason).render(into: &buffer, area: area, glyphs: glyphs)
            } else {
                buffer.put("no spectrum yet", x: area.x, y: area.y + area.height / 2, role: .muted, maxWidth: area.width)
            }
        }
    }

    private func renderStopped(into buffer: inout CellBuffer, inner: Rect) {
        let text = model.status.rawValue
        let y = inner.y + (inner.height - 1) / 2
        buffer.put(text, x: inner.x + max(0, (inner.width - text.count) / 2), y: y, role: .warning, attributes: .bold, maxWidth: inner.width)
        if inner.height >= 2 {
            let detail = "at step \(NumberFormat.count(model.step))"
            buffer.put(detail, x: inner.x + max(0, (inner.width - detail.count) / 2), y: y + 1, role: .muted, maxWidth: inner.width)
        }
    }

    private func renderInfo(into buffer: inout CellBuffer, row: Rect) {
        let params = NumberFormat.count(model.parameterCount)
        // Step and budget always in the same format: `1000/5000` or `1.00k/5.00k`, never `1000/5.00k`.
        let plainBudget = model.stepBudget > 0 ? "/\(model.stepBudget)" : ""
        let budget = model.stepBudget > 0 ? "/" + NumberFormat.count(model.stepBudget) : ""
        let candidates = [
            "\(params) params  step \(model.step)\(plainBudget)",
            "\(params) params  step \(NumberFormat.count(model.step))\(budget)",
            "\(params) params  step \(model.step)",
            "\(params) params  \(NumberFormat.count(model.step)) steps",
            "\(params)p  step \(NumberFormat.count(model.step))",
            "\(params)p s\(NumberFormat.count(model.step))",
        ]
        let text = candidates.first { $0.count <= row.width } ?? candidates[candidates.count - 1]
        buffer.put(text, x: row.x, y: row.y, role: .muted, maxWidth: row.width)
    }

    private func values(_ metric: ChartMetric) -> ([Double], Double?) {
        switch metric {
        case .loss: return (model.history.loss, model.latest?.loss)
        case .chiNet:
            return state.normalised ? (model.history.chiNetNormalized, model.latest?.normalizedChiNet)
                                    : (model.history.chiNet, model.latest?.chiNet)
        case .chiPos: return (model.history.chiPos, model.latest?.chiPos)
        case .crossChiPos: return (model.history.crossChiPos, model.latest?.cross?.chiPos ?? nil)
        }
    }

    private func renderMetric(_ metric: ChartMetric, into buffer: inout CellBuffer, area: Rect, stacked: Bool, glyphs: GlyphSet) {
        guard !area.isEmpty else { return }
        let (series, current) = values(metric)
        let label = metric == .chiNet && state.normalised ? metric.label(glyphs) + "/n" : metric.label(glyphs)
        let value = metric == .chiNet && !state.normalised ? NumberFormat.chiNet(model.latest) : NumberFormat.scientific(current)
        let labelAttributes: CellAttributes = metric == state.focusedMetric ? [.bold, .underline] : [.bold]
        var sparkline = Sparkline(values: state.smoothing.apply(series, scale: state.yScale(metric)), scale: state.yScale(metric), role: metric.role)
        // Interference (χ_pos^{AB} < 0) stands out.
        if metric.isSigned { sparkline.negativeRole = .warning }
        if stacked {
            let (top, spark) = area.splitTop(1)
            buffer.put(label, x: top.x, y: top.y, role: metric.role, attributes: labelAttributes, maxWidth: top.width)
            if state.yScale(metric) == .linear && top.width >= label.count + value.count + 6 {
                buffer.put(" lin", x: top.x + label.count, y: top.y, role: .muted)
            }
            let valueX = max(top.x + label.count + 1, top.maxX - value.count)
            buffer.put(value, x: valueX, y: top.y, role: .text, maxWidth: top.maxX - valueX)
            sparkline.render(into: &buffer, area: spark, glyphs: glyphs)
        } else {
            // Label, sparkline and value share one row; the label shrinks first.
            let valueWidth = value.count
            var labelWidth = label.count
            if area.width - labelWidth - valueWidth - 2 < 4 { labelWidth = min(labelWidth, 4) }
            let shownLabel = String(label.unicodeScalars.prefix(labelWidth))
            buffer.put(shownLabel, x: area.x, y: area.y, role: metric.role, attributes: labelAttributes, maxWidth: area.width)
            let sparkX = area.x + labelWidth + 1
            let sparkWidth = area.maxX - sparkX - valueWidth - 1
            if sparkWidth > 0 {
                sparkline.render(into: &buffer, area: Rect(x: sparkX, y: area.y, width: sparkWidth, height: 1), glyphs: glyphs)
            }
            let valueX = max(sparkX, area.maxX - valueWidth)
            buffer.put(value, x: valueX, y: area.y, role: .text, maxWidth: area.maxX - valueX)
        }
    }

    private func renderReach(into buffer: inout CellBuffer, rows: Rect, glyphs: GlyphSet) {
        let reach = NumberFormat.scientific(model.minChiPos)
        let amplification = model.amplification.map { glyphs.times + NumberFormat.fixed($0, decimals: 2) } ?? NumberFormat.missing
        if rows.height >= 2 {
            for (index, pair) in [("reach", reach, ColorRole.chiPos), ("amp", amplification, ColorRole.chiNet)].enumerated() {
                let row = rows.row(index)
                buffer.put(pair.0, x: row.x, y: row.y, role: .muted, maxWidth: row.width)
                let valueX = max(row.x + pair.0.count + 1, row.maxX - pair.1.count)
                buffer.put(pair.1, x: valueX, y: row.y, role: pair.2, maxWidth: row.maxX - valueX)
            }
            return
        }
        let row = rows
        let candidates = [
            "reach \(reach)  amp \(amplification)",
            "reach \(reach) \(amplification)",
            "\(reach) \(amplification)",
        ]
        let text = candidates.first { $0.count <= row.width } ?? candidates[candidates.count - 1]
        buffer.put(text, x: row.x, y: row.y, role: .muted, maxWidth: row.width)
        // Reach and amplification are the numbers to watch (a frozen model stays
        // at ×1.00), so they take their metric's colour.
        guard text.count <= row.width else { return }
        if let range = text.range(of: reach) {
            let offset = text.distance(from: text.startIndex, to: range.lowerBound)
            buffer.put(reach, x: row.x + offset, y: row.y, role: .chiPos, maxWidth: row.width - offset)
        }
        if let range = text.range(of: amplification, options: .backwards) {
            let offset = text.distance(from: text.startIndex, to: range.lowerBound)
            buffer.put(amplification, x: row.x + offset, y: row.y, role: .chiNet, maxWidth: row.width - offset)
        }
    }
}

/// A record's end reason as one word for a title: a writer may put any text
/// there (the format leaves `reason` open), so anything but a short plain
/// word reads `stopped`.
enum TerminalSafeTitle {
    static func word(_ reason: String) -> String {
        let plain = !reason.isEmpty && reason.count <= 12 && reason.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0 == "-" || $0 == "_" }
        return plain ? reason : "stopped"
    }
}
