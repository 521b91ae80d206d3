import Foundation
import SpecTopRecord
import SpecTopUI

/// One eNTK spectrum as inline SVG: the eigenvalue histogram over log10-spaced
/// bins (counts, with their ~95% error bars where the spectrum is a
/// matrix-free estimate), the residual weight Σ w_k per bin on a second axis,
/// and a marker at λ_eff — the monitor's spectrum view for a page.
package struct SpectrumFigure: Sendable {
    package var model: String
    package var spectrum: SpectrumSample

    package init(model: String, spectrum: SpectrumSample) { self.model = model; self.spectrum = spectrum }

    package static let countColor = "#4e79a7", weightColor = "#f28e2b", markerColor = "#d62728"

    /// "step 500 · exact, m = 256" or "step 500 · ~ matrix-free estimate, m = 4096".
    package var caption: String {
        let how = spectrum.isEstimate ? "~ matrix-free estimate" : "exact"
        return "step \(spectrum.step) · \(how), m = \(spectrum.modeCount)"
    }

    /// The lines under the figure: λ_eff and r_eff (with `~` and ± where
    /// estimated), the ≈0 bin, and for an estimate the top modes listed and
    /// the residual weight outside them.
    package var facts: [String] {
        let s = spectrum
        let estimate = s.isEstimate ? "~" : ""
        var facts: [String] = []
        facts.append("λ_eff = \(NumberFormat.scientific(s.lambdaEff))")
        var rEff = "r_eff = \(estimate)\(NumberFormat.fixed(s.rEff, decimals: 3))"
        if let u = s.rEffUncertainty, u.isFinite, u > 0 { rEff += " ± " + (u < 1e-3 ? NumberFormat.scientific(u) : NumberFormat.fixed(u, decimals: 3)) }
        facts.append(rEff)
        facts.append("χ_pos (exact) = \(NumberFormat.scientific(s.chiPosExact))")
        if s.histogram.nearZeroCount > 0 {
            facts.append("≈0 bin (below 1e-12·λ₁): \(s.histogram.nearZeroCount) eigenvalues, weight \(NumberFormat.fixed(s.histogram.nearZeroWeight, decimals: 3))")
        }
        if s.isEstimate {
            facts.append("top \(s.eigenvalues.count) modes exact; residual weight outside them (rest_weight) \(NumberFormat.fixed(s.restWeight, decimals: 3))")
        }
        return facts
    }

    package static let width = 380.0, height = 240.0
    package static let left = 56.0, right = 52.0, top = 14.0, bottom = 46.0

    /// The figure, or nil when the histogram has no bins (every eigenvalue ≈ 0).
    package func svg() -> String? {
        let histogram = spectrum.histogram
        guard !histogram.counts.isEmpty, histogram.log10Edges.count == histogram.counts.count + 1,
              let lowEdge = histogram.log10Edges.first, let highEdge = histogram.log10Edges.last,
              lowEdge.isFinite, highEdge.isFinite else { return nil }
        let w = SpectrumFigure.width, h = SpectrumFigure.height, l = SpectrumFigure.left, t = SpectrumFigure.top
        let pw = w - l - SpectrumFigure.right, ph = h - t - SpectrumFigure.bottom
        let c = SVGChart.coordinate
        // The x axis is the eigenvalue on a log scale: the bins are log10-spaced.
        let x = ChartAxis(title: "eigenvalue λ", scale: .log, plottedLow: lowEdge, plottedHigh: highEdge)
        let tops = histogram.counts.indices.map { k in
            Double(histogram.counts[k]) + (k < histogram.countUncertainty.count ? Swift.max(0, histogram.countUncertainty[k]) : 0)
        }
        var y = ChartAxis(title: "eigenvalues per bin", values: tops, scale: .linear, includeZero: true)
        y.minimumStep = 1
        let weightMax = Swift.max(1e-12, histogram.residualWeights.filter(\.isFinite).max() ?? 0)
        let weightAxis = ChartAxis(title: "residual weight Σw_k", values: [0, weightMax <= 0.5 ? weightMax : 1], scale: .linear, includeZero: true)
        func px(_ coordinate: Double) -> Double { l + Swift.min(1, Swift.max(0, x.fraction(ofPlotted: coordinate))) * pw }
        func py(_ f: Double) -> Double { t + (1 - Swift.min(1, Swift.max(0, f))) * ph }

        var out = "<svg class=\"spectrum\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\">"
        out += "<title>\(HTMLText.escape(model)) \(HTMLText.escape(caption))</title>"
        out += "<rect class=\"plot\" x=\"\(c(l))\" y=\"\(c(t))\" width=\"\(c(pw))\" height=\"\(c(ph))\"/>"
        for (k, count) in histogram.counts.enumerated() {
            let x0 = px(histogram.log10Edges[k]), x1 = px(histogram.log10Edges[k + 1])
            let barTop = py(y.fraction(ofPlotted: Double(count)))
            out += "<rect class=\"bin\" x=\"\(c(x0 + 0.5))\" y=\"\(c(barTop))\" width=\"\(c(Swift.max(0.5, x1 - x0 - 1)))\" height=\"\(c(t + ph - barTop))\" fill=\"\(SpectrumFigure.countColor)\" fill-opacity=\"0.55\"/>"
            if k < histogram.countUncertainty.count, histogram.countUncertainty[k].isFinite, histogram.countUncertainty[k] > 0 {
                let u = histogram.countUncertainty[k], mid = (x0 + x1) / 2
                let y0 = py(y.fraction(ofPlotted: Swift.max(0, Double(count) - u))), y1 = py(y.fraction(ofPlotted: Double(count) + u))
                out += "<path class=\"error-bar\" d=\"M\(c(mid)) \(c(y0))V\(c(y1))M\(c(mid - 3)) \(c(y0))h6M\(c(mid - 3)) \(c(y1))h6\" stroke=\"#333\" fill=\"none\"/>"
            }
            if k < histogram.residualWeights.count, histogram.residualWeights[k].isFinite, histogram.residualWeights[k] > 0 {
                let mid = (x0 + x1) / 2, half = Swift.max(1, (x1 - x0) * 0.2)
                let weightTop = py(weightAxis.fraction(ofPlotted: histogram.residualWeights[k]))
                out += "<rect class=\"weight\" x=\"\(c(mid - half))\" y=\"\(c(weightTop))\" width=\"\(c(2 * half))\" height=\"\(c(t + ph - weightTop))\" fill=\"\(SpectrumFigure.weightColor)\"/>"
            }
        }
        if let lambda = spectrum.lambdaEff, lambda > 0, lambda.isFinite {
            let coordinate = Foundation.log10(lambda)
            if coordinate >= lowEdge - 1e-9 && coordinate <= highEdge + 1e-9 {
                let mx = px(coordinate)
                out += "<line class=\"lambda-eff\" x1=\"\(c(mx))\" y1=\"\(c(t))\" x2=\"\(c(mx))\" y2=\"\(c(t + ph))\" stroke=\"\(SpectrumFigure.markerColor)\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
                out += "<text class=\"marker-label\" x=\"\(c(mx + 3))\" y=\"\(c(t + 12))\" fill=\"\(SpectrumFigure.markerColor)\">\(spectrum.isEstimate ? "~" : "")λ_eff</text>"
            }
        }
        let chart = SVGChart(title: "", x: x, y: y, series: [])
        out += chart.axisSVG(in: (l, t, pw, ph, h), x, horizontal: true)
        out += chart.axisSVG(in: (l, t, pw, ph, h), y, horizontal: false)
        out += chart.axisSVG(in: (l, t, pw, ph, h), weightAxis, horizontal: false, rightSide: true)
        return out + "</svg>"
    }
}
