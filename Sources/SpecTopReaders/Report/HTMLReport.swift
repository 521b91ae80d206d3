import Foundation
import SpecTopRecord
import SpecTopUI

/// `spectop report`: a recorded experiment as one self-contained HTML page —
/// inline CSS and SVG, no script, no network — that a researcher can mail or
/// attach to an issue.
///
/// Sections, each an element with a fixed id (`sectionIDs`):
/// - `run`: what wrote the record, the preset and data set, the models, the steps and how it ended;
/// - `scaling`: the paper's Fig. 1 for these runs — final loss against parameters with the power-law
///   fit `claims` checks (claim 6), and χ_pos against training compute 6·N·D;
/// - `curves`: loss, χ_net, χ_pos and the cross-batch χ_pos per model, frozen models dashed;
/// - `spectra`: each model's eNTK histogram at its first, middle and last spectrum;
/// - `claims`: the claims table, the same evaluation as `spectop claims`.
///
/// Every string from the record is escaped (`HTMLText`). Curves are thinned to
/// `CurveThinning.maxPoints` points per model, so the page stays small for long runs.
package struct HTMLReport {
    package let record: RunRecord
    /// The claims as `spectop claims` evaluates them on the same record.
    package let claims: ClaimsReport

    package static let sectionIDs = ["run", "scaling", "curves", "spectra", "claims"]

    package init(record: RunRecord) {
        self.record = record
        claims = ClaimsEvaluator.evaluate(record)
    }

    // MARK: models

    /// How a model trained, as the charts tell it apart.
    enum Regime: Equatable {
        case active
        case frozen
        /// Active, then frozen live (`F`) from this step on.
        case frozenLive(Int)
    }

    func regime(of model: RunRecord.ModelInfo) -> Regime {
        if model.mode == .frozen { return .frozen }
        if let step = record.freezeStep(of: model.id) { return .frozenLive(step) }
        return .active
    }

    /// The models with at least one measurement, smallest first.
    var measuredModels: [RunRecord.ModelInfo] {
        record.models.filter { !(record.steps[$0.id] ?? []).isEmpty }
            .sorted { ($0.parameterCount, $0.mode == .frozen ? 1 : 0, $0.id) < ($1.parameterCount, $1.mode == .frozen ? 1 : 0, $1.id) }
    }

    /// Tableau 10: told apart in print and by most colour-blind readers.
    static let palette = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"]

    /// One colour per size, so a frozen model and its active twin share it
    /// and only the dash tells them apart; a model whose size the record does
    /// not give (a foreign log's runs) gets a colour of its own.
    func color(of model: RunRecord.ModelInfo) -> String {
        let sizes = Array(Set(record.models.map(\.parameterCount).filter { $0 > 0 })).sorted()
        let unsized = record.models.filter { $0.parameterCount <= 0 }.map(\.id)
        let index = model.parameterCount > 0 ? sizes.firstIndex(of: model.parameterCount) ?? 0
                                             : sizes.count + (unsized.firstIndex(of: model.id) ?? 0)
        return HTMLReport.palette[index % HTMLReport.palette.count]
    }

    /// A model's curve of `value` against `x` (the step unless given): one
    /// series, or for a model frozen live two — solid before the freeze, dashed from it.
    func curveSeries(_ model: RunRecord.ModelInfo, x: (MetricSample) -> Double = { Double($0.step) },
                     _ value: (MetricSample) -> Double?) -> [SVGChart.Series] {
        let samples = record.steps[model.id] ?? []
        func points(_ part: ArraySlice<MetricSample>) -> [(x: Double, y: Double)] {
            CurveThinning.thin(part.map { (x($0), value($0) ?? .nan) })
        }
        let color = color(of: model)
        switch regime(of: model) {
        case .active:
            return [.init(label: model.id, points: points(samples[...]), color: color)]
        case .frozen:
            return [.init(label: model.id + " (frozen)", points: points(samples[...]), color: color, dashed: true)]
        case .frozenLive(let step):
            let split = samples.firstIndex { $0.step >= step } ?? samples.count
            // The frozen part starts at the last active point, so the curve stays joined.
            let frozenStart = Swift.max(0, split - 1)
            return [.init(label: model.id, points: points(samples[..<split]), color: color),
                    .init(label: "\(model.id) (frozen from step \(step))", points: points(samples[frozenStart...]), color: color, dashed: true)]
        }
    }

    // MARK: page

    /// The whole page.
    package func html() -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>spectop report: \(HTMLText.escape(title))</title>
            <style>\(HTMLReport.css)</style>
            </head>
            <body>

            """
        out += runSection()
        out += scalingSection()
        out += curvesSection()
        out += spectraSection()
        out += claimsSection()
        out += """
            <footer><p>Written by <code>spectop report</code> from \(HTMLText.escape(record.file)). The numbers are defined in \
            docs/METHOD.md; every curve with more than \(CurveThinning.maxPoints) measurements is thinned to each interval's \
            smallest and largest value (at most \(CurveThinning.maxPoints) points per model), so spikes stay visible.</p></footer>
            </body>
            </html>

            """
        return out
    }

    var title: String {
        record.runCount > 1 ? "\(record.runCount) records" : record.runName
    }

    /// What wrote the record: spectop's engine and its BLAS core, or another writer as its `tool` field names it.
    var writer: String {
        var parts: [String] = []
        if let tool = record.toolVersion, !tool.isEmpty {
            // The probe's header names its PyTorch and device apart from its tool.
            let platform = [record.torch.map { "torch \($0)" }, record.device].compactMap { $0 }
            parts.append(platform.isEmpty ? tool : "\(tool) on \(platform.joined(separator: ", "))")
        }
        if let blas = record.blas {
            parts.append("spectop's engine on OpenBLAS (\(blas) core)")
        } else if record.runCount > 1 {
            parts.append("\(record.runCount) records (BLAS cores or writers differ)")
        }
        return parts.isEmpty ? "not said by the record" : parts.joined(separator: ", ")
    }

    var endDescription: String {
        guard let reason = record.endReason else {
            return record.writesEndLine ? "no end line: still running, or cut off"
                : "none: TensorBoard and Lightning logs carry no end line, so each model ends at its last logged step"
        }
        switch reason {
        case "steps": return "finished (every model reached its step budget)"
        case "quit": return "quit by the user"
        case "signal": return "stopped by a signal"
        default: return reason
        }
    }

    static func number(_ value: Double?) -> String { NumberFormat.scientific(value) }

    func runSection() -> String {
        let header = record.header
        var rows: [(String, String)] = [("record", record.file), ("written by", writer)]
        if let preset = record.preset { rows.append(("preset", preset)) }
        var data = record.dataName ?? "not said"
        if let info = header.data {
            var details: [String] = []
            if let train = info.train { details.append("\(train) training samples") }
            if let probe = info.probe { details.append("probe set of \(probe)") }
            if let outputs = info.outputs { details.append("\(outputs) output\(outputs == 1 ? "" : "s")") }
            if let loss = info.loss { details.append("\(loss) loss") }
            if !details.isEmpty { data += " (" + details.joined(separator: ", ") + ")" }
        }
        rows.append(("data set", data))
        if let seed = record.seed { rows.append(("seed", String(seed))) }
        if let started = header.started { rows.append(("started", started)) }
        let lastStep = record.steps.values.compactMap { $0.last?.step }.max() ?? 0
        let budget = record.models.map(\.stepBudget).max() ?? 0
        rows.append(("steps", "measured up to step \(lastStep)" + (budget > 0 ? " of \(budget)" : "")))
        rows.append(("models", "\(record.models.count): \(record.models.filter { $0.mode == .active }.count) active, \(record.models.filter { $0.mode == .frozen }.count) frozen"))
        rows.append(("end", endDescription))

        var out = "<header id=\"run\"><h1>spectop report: \(HTMLText.escape(title))</h1>\n<table class=\"facts\">"
        for (key, value) in rows { out += "<tr><th>\(key)</th><td>\(HTMLText.escape(value))</td></tr>" }
        out += "</table>\n<table class=\"models\"><thead><tr><th>model</th><th>mode</th><th>parameters</th><th>trainable</th>"
        out += "<th>width × depth</th><th>batch</th><th>last step</th><th>final loss</th><th>min χ_pos</th><th>status</th></tr></thead><tbody>"
        for model in record.models {
            let samples = record.steps[model.id] ?? []
            let mode: String
            switch regime(of: model) {
            case .active: mode = "active"
            case .frozen: mode = "frozen"
            case .frozenLive(let step): mode = "active, frozen from step \(step)"
            }
            let status = record.divergedModels.contains(model.id) ? "stopped (diverged or failed)" : samples.isEmpty ? "no measurements" : "ok"
            let parameters = model.parameterCount > 0 ? NumberFormat.count(model.parameterCount) : "not said"
            let trainable = model.trainableParameterCount.map(NumberFormat.count) ?? model.trainable
            let shape = model.width > 0 ? "\(model.width) × \(model.depth)" : "–"
            let batch = model.batchSize > 0 ? String(model.batchSize) : "–"
            let last: String = samples.last.map { "\($0.step)" + (model.stepBudget > 0 ? " / \(model.stepBudget)" : "") } ?? "–"
            let minimum = samples.compactMap(\.chiPos).filter(\.isFinite).min()
            let cells: [String] = [model.id, mode, parameters, trainable, shape, batch, last,
                                   HTMLReport.number(ClaimsEvaluator.finalLoss(samples)), HTMLReport.number(minimum), status]
            out += "<tr>" + cells.map { "<td>\(HTMLText.escape($0))</td>" }.joined() + "</tr>"
        }
        out += "</tbody></table>\n"
        if !record.warnings.isEmpty {
            out += "<ul class=\"warnings\">" + record.warnings.map { "<li>\(HTMLText.escape($0))</li>" }.joined() + "</ul>\n"
        }
        return out + "</header>\n"
    }

    /// A legend for `series` (each label once).
    func legend(_ series: [SVGChart.Series]) -> String {
        var seen = Set<String>()
        var out = "<ul class=\"legend\">"
        for s in series where seen.insert(s.label).inserted {
            let swatch: String
            switch s.style {
            case .line:
                swatch = "<svg width=\"30\" height=\"10\"><line x1=\"1\" y1=\"5\" x2=\"29\" y2=\"5\" stroke=\"\(s.color)\" stroke-width=\"2.5\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/></svg>"
            case .points, .hollowPoints:
                swatch = "<svg width=\"14\" height=\"12\"><circle cx=\"7\" cy=\"6\" r=\"4.5\" fill=\"\(s.style == .hollowPoints ? "white" : s.color)\" stroke=\"\(s.color)\" stroke-width=\"1.6\"/></svg>"
            }
            out += "<li>\(swatch) \(HTMLText.escape(s.label))</li>"
        }
        return out + "</ul>"
    }

    // MARK: scaling (Fig. 1)

    func scalingSection() -> String {
        var out = "<section id=\"scaling\"><h2>Scaling: the paper's Fig. 1 for these runs</h2>\n<div class=\"row\">"
        out += "<figure>" + finalLossChart() + "</figure>"
        out += "<figure>" + computeChart() + "</figure>"
        return out + "</div></section>\n"
    }

    /// Final loss against parameter count: every usable model a point (frozen
    /// hollow), the active models' power law as `claims` fits it (claim 6).
    func finalLossChart() -> String {
        let usable = measuredModels.filter { !record.divergedModels.contains($0.id) }
        var series: [SVGChart.Series] = []
        var notes: [String] = []
        let unsized = usable.filter { $0.parameterCount <= 0 }.map(\.id)
        if !unsized.isEmpty { notes.append("left out: the record does not give the parameter count of " + unsized.joined(separator: ", ")) }
        for model in usable where model.parameterCount > 0 {
            guard let loss = ClaimsEvaluator.finalLoss(record.steps[model.id] ?? []) else { continue }
            switch regime(of: model) {
            case .active: series.append(.init(label: model.id, points: [(Double(model.parameterCount), loss)], color: color(of: model), style: .points))
            case .frozen: series.append(.init(label: model.id + " (frozen)", points: [(Double(model.parameterCount), loss)], color: color(of: model), style: .hollowPoints))
            case .frozenLive: notes.append("\(model.id) was frozen during the run and is left out, as claims 2 and 6 leave it out")
            }
        }
        let diverged = record.models.filter { record.divergedModels.contains($0.id) }.map(\.id)
        if !diverged.isEmpty { notes.append("left out (stopped): " + diverged.joined(separator: ", ")) }
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        var annotations: [String] = []
        var fitSeries: [SVGChart.Series] = []
        if let fit = claims.lossFit, let low = xs.filter({ $0 > 0 }).min(), let high = xs.max(), high > low {
            let grid = (0...48).map { k in low * Foundation.pow(high / low, Double(k) / 48) }
            fitSeries.append(.init(label: "power law, active models (claim 6)", points: grid.map { ($0, fit.predict($0)) }, color: "#333333"))
            annotations.append("L ∝ N^\(String(format: "%.3f", fit.exponent)), R² = \(String(format: "%.3f", fit.rSquared))")
            annotations.append("fitted over \(fit.pointCount) active models")
        } else {
            annotations.append("no power law: needs two or more active sizes")
        }
        let chart = SVGChart(title: "final probe loss against model size",
                             x: ChartAxis(title: "parameters N", values: xs),
                             y: ChartAxis(title: "final probe loss L", values: ys),
                             series: fitSeries + series, annotations: annotations)
        var out = chart.svg() + "<figcaption>" + legend(fitSeries + series)
        for note in notes { out += "<p class=\"note\">\(HTMLText.escape(note))</p>" }
        return out + "</figcaption>"
    }

    /// χ_pos against training compute 6·N·D, one curve per model, coloured by
    /// size; against the step when the record does not give every batch size.
    func computeChart() -> String {
        let models = measuredModels
        let perStep = models.map { TrainingCompute.flopsPerStep($0) }
        let byCompute = !perStep.isEmpty && perStep.allSatisfy { $0 != nil }
        var series: [SVGChart.Series] = []
        for (model, flops) in zip(models, perStep) {
            let x: (MetricSample) -> Double = byCompute ? { Double($0.step) * flops! } : { Double($0.step) }
            series += curveSeries(model, x: x) { $0.chiPos }
        }
        let values = series.flatMap { $0.points }
        // Step 0 has no compute yet; a log axis leaves it out, as the compare view's does.
        let xValues = values.map(\.x).filter { $0 > 0 }
        let note = byCompute
            ? "compute = 6 × trainable parameters × samples seen (step × batch); step 0 is left out"
            : "the record does not give every model's batch size, so the x axis is the training step, not compute"
        let chart = SVGChart(title: byCompute ? "spectral position against compute" : "spectral position against step",
                             x: ChartAxis(title: byCompute ? "training compute 6·N·D (FLOPs)" : "training step", values: xValues),
                             y: ChartAxis(title: "spectral position χ_pos", values: values.map(\.y)),
                             series: series)
        return chart.svg() + "<figcaption>" + legend(series) + "<p class=\"note\">\(HTMLText.escape(note))</p></figcaption>"
    }

    // MARK: curves

    func curvesSection() -> String {
        let models = measuredModels
        var charts: [(String, String, (MetricSample) -> Double?)] = [
            ("loss", "probe loss L", { $0.loss }),
            ("chi-net", "network scale χ_net = Tr Θ", { $0.chiNet }),
            ("chi-pos", "spectral position χ_pos", { $0.chiPos }),
        ]
        let hasCross = models.contains { (record.steps[$0.id] ?? []).contains { $0.cross?.chiPos != nil } }
        if hasCross { charts.append(("cross-chi-pos", "cross-batch χ_pos^{AB}", { $0.cross?.chiPos ?? nil })) }
        let estimated = models.contains { (record.steps[$0.id] ?? []).contains(where: \.traceIsEstimate) }
        var out = "<section id=\"curves\"><h2>Training curves</h2>\n<div class=\"row\">"
        var legendSeries: [SVGChart.Series] = []
        for (id, title, value) in charts {
            let series = models.flatMap { curveSeries($0, value) }
            if legendSeries.isEmpty { legendSeries = series }
            let values = series.flatMap { $0.points.map(\.y) }
            // χ_pos^{AB} lies in [−1, 1] and may be negative (interference): linear, with 0 in view.
            let y = id == "cross-chi-pos" ? ChartAxis(title: title, values: values + [0], scale: .linear)
                                          : ChartAxis(title: title + (id == "chi-net" && estimated ? " (partly ~ Hutchinson estimates)" : ""), values: values)
            let chart = SVGChart(title: title + " against step",
                                 x: ChartAxis(title: "training step", values: series.flatMap { $0.points.map(\.x) }),
                                 y: y, series: series)
            out += "<figure id=\"curve-\(id)\">" + chart.svg() + "</figure>"
        }
        out += "</div>" + legend(legendSeries)
        out += "<p class=\"note\">Frozen models (only the readout trains) are dashed in the colour of their active twin; a model frozen during the run turns dashed at its freeze step."
        if !hasCross { out += " No cross-batch χ_pos is recorded." }
        if estimated { out += " χ_net is a Hutchinson estimate for some measurements (the ~ in the monitor)." }
        return out + "</p></section>\n"
    }

    // MARK: spectra

    /// The spectra shown per model: the first, the middle and the last recorded.
    package static func chosenSpectra(_ spectra: [SpectrumSample]) -> [SpectrumSample] {
        guard !spectra.isEmpty else { return [] }
        let indices = [0, (spectra.count - 1) / 2, spectra.count - 1]
        var seen = Set<Int>()
        return indices.filter { seen.insert($0).inserted }.map { spectra[$0] }
    }

    func spectraSection() -> String {
        var out = "<section id=\"spectra\"><h2>eNTK spectra</h2>\n"
        out += "<p class=\"note\">Eigenvalue histogram over log10-spaced bins (blue, left axis), the residual weight Σw_k of each bin "
        out += "(orange, right axis: where the error signal sits), and λ_eff = χ_pos·χ_net (red), at each model's first, middle and last "
        out += "recorded spectrum. A matrix-free spectrum is an estimate: its counts carry ~95% error bars and its numbers a ~.</p>\n"
        var any = false
        for model in measuredModels {
            let chosen = HTMLReport.chosenSpectra(record.spectra[model.id] ?? [])
            guard !chosen.isEmpty else { continue }
            any = true
            out += "<div class=\"model-spectra\"><h3>\(HTMLText.escape(model.id))</h3><div class=\"row\">"
            for spectrum in chosen {
                let figure = SpectrumFigure(model: model.id, spectrum: spectrum)
                out += "<figure class=\"spectrum-figure\" data-step=\"\(spectrum.step)\" data-method=\"\(spectrum.method.rawValue)\">"
                out += figure.svg() ?? "<p class=\"note\">every eigenvalue is ≈ 0: no histogram to draw</p>"
                out += "<figcaption><strong>\(HTMLText.escape(figure.caption))</strong><br>"
                out += figure.facts.map(HTMLText.escape).joined(separator: "<br>") + "</figcaption></figure>"
            }
            out += "</div></div>\n"
        }
        if !any { out += "<p class=\"note\">This record has no spectrum (the run measured none, or none is due yet).</p>\n" }
        return out + "</section>\n"
    }

    // MARK: claims

    func claimsSection() -> String {
        var out = "<section id=\"claims\"><h2>The paper's claims</h2>\n"
        out += "<p class=\"note\">The same evaluation as <code>spectop claims</code>: a claim holds when every numbered condition passes (docs/USAGE.md).</p>\n"
        out += "<table class=\"claims\"><thead><tr><th>claim</th><th>verdict</th><th>conditions and numbers</th></tr></thead><tbody>"
        for row in claims.rows {
            out += "<tr class=\"claim\" data-claim=\"\(row.number)\" data-verdict=\"\(row.verdict.rawValue)\">"
            out += "<td>\(row.number). \(HTMLText.escape(row.title))</td><td class=\"verdict \(HTMLReport.verdictClass(row.verdict))\">\(row.verdict.rawValue)</td><td>"
            if let reason = row.reason { out += "<p>\(HTMLText.escape(reason))</p>" }
            if !row.conditions.isEmpty {
                out += "<ul class=\"conditions\">"
                for condition in row.conditions {
                    let values = condition.values.map { "\($0.name) \(ClaimsEvaluator.format($0.value))" }.joined(separator: ", ")
                    out += "<li class=\"condition\" data-condition=\"\(HTMLText.escape(condition.number))\" data-pass=\"\(condition.pass)\">"
                    out += "<span class=\"\(condition.pass ? "pass" : "fail")\">\(condition.pass ? "pass" : "FAIL")</span> "
                    out += "\(HTMLText.escape(condition.number)) \(HTMLText.escape(condition.description)) <span class=\"values\">(\(HTMLText.escape(values)))</span></li>"
                }
                out += "</ul>"
            }
            for note in row.notes { out += "<p class=\"note\">\(HTMLText.escape(note))</p>" }
            out += "</td></tr>"
        }
        out += "</tbody></table>\n"
        let notes = claims.notes + (ClaimsEvaluator.endNote(record).map { [$0] } ?? [])
        if !notes.isEmpty { out += "<ul class=\"notes\">" + notes.map { "<li>\(HTMLText.escape($0))</li>" }.joined() + "</ul>\n" }
        return out + "</section>\n"
    }

    static func verdictClass(_ verdict: ClaimsReport.Verdict) -> String {
        switch verdict {
        case .holds: return "holds"
        case .fails: return "fails"
        case .notApplicable: return "na"
        }
    }

    static let css = """
        body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1260px;color:#222;background:#fff;line-height:1.35}
        h1{font-size:1.5em;margin:0 0 .5em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}h3{font-size:1.05em;margin:.8em 0 .3em}
        table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;font-size:.9em}
        table.facts th{background:#f4f4f4;width:9em}table.models td:nth-child(n+3){font-variant-numeric:tabular-nums}
        .row{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:.85em;max-width:600px}
        .legend{list-style:none;padding:0;margin:.3em 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85em}.legend svg{vertical-align:middle}
        .note{color:#555;font-size:.85em}.warnings li{color:#8a5a00}
        svg text{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;fill:#222}.chart-title{font-size:13px;font-weight:bold}
        .tick-label{font-size:11px}.axis-title{font-size:12px}.annotation{font-size:12px}.marker-label{font-size:11px}
        .plot{fill:#fff;stroke:#888}.grid{stroke:#e6e6e6}.tick{stroke:#666}
        .verdict.holds{color:#1a7f37;font-weight:bold}.verdict.fails{color:#c62828;font-weight:bold}.verdict.na{color:#777}
        .pass{color:#1a7f37}.fail{color:#c62828;font-weight:bold}.conditions{margin:0;padding-left:1.1em}.values{color:#555}
        footer{margin-top:2em;border-top:1px solid #ccc}
        """
}
