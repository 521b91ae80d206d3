import Foundation
import SpecTopRecord

/// A record's spectra as tidy CSV (`spectop export --spectra`): enough to
/// redraw any histogram the monitor shows, and the top modes behind it.
///
/// One row per model, step and item, `kind` saying which:
/// - `bin`: one histogram bin — `log10_low`/`log10_high` its edges (log10 of
///   the eigenvalue, as in the record), `value` the eigenvalue count,
///   `uncertainty` the count's ~95% half-width (empty when exact), `weight`
///   the residual weight Σ w_k in the bin, `marker` 1 on λ_eff's bin;
/// - `near_zero`: the ≈0 bin below 10⁻¹² λ_1 — `value` its count, `weight` its weight;
/// - `mode`: one listed eigenvalue, `index` k from 1 — `value` λ_k, `weight`
///   w_k (all m for an exact spectrum, the top k for a matrix-free one).
/// Every row repeats the spectrum's summary: method, m, λ_eff, r_eff with its
/// uncertainty, and the weight outside the listed modes.
package enum SpectraExport {
    package static let columns = ["model", "step", "method", "mode_count", "lambda_eff", "r_eff", "r_eff_uncertainty", "rest_weight",
                                  "kind", "index", "log10_low", "log10_high", "value", "uncertainty", "weight", "marker"]

    /// The rows of one spectrum, `model` already made inert.
    package static func rows(model: String, _ spectrum: SpectrumSample) -> [[String]] {
        let number = CSVExport.number
        let summary = [model, String(spectrum.step), spectrum.method.rawValue, String(spectrum.modeCount), number(spectrum.lambdaEff),
                       number(spectrum.rEff), number(spectrum.rEffUncertainty), number(spectrum.restWeight)]
        let h = spectrum.histogram
        var rows: [[String]] = []
        for (bin, count) in h.counts.enumerated() {
            let low = bin < h.log10Edges.count ? number(h.log10Edges[bin]) : ""
            let high = bin + 1 < h.log10Edges.count ? number(h.log10Edges[bin + 1]) : ""
            let uncertainty = bin < h.countUncertainty.count ? number(h.countUncertainty[bin]) : ""
            let weight = bin < h.residualWeights.count ? number(h.residualWeights[bin]) : ""
            rows.append(summary + ["bin", String(bin), low, high, String(count), uncertainty, weight, h.markerBin == bin ? "1" : "0"])
        }
        rows.append(summary + ["near_zero", "", "", "", String(h.nearZeroCount), "", number(h.nearZeroWeight), ""])
        for (k, lambda) in spectrum.eigenvalues.enumerated() {
            let weight = k < spectrum.weights.count ? number(spectrum.weights[k]) : ""
            rows.append(summary + ["mode", String(k + 1), "", "", number(lambda), "", weight, ""])
        }
        return rows
    }

    /// Writes every model's spectra, in model then step order, through `emit` a chunk at a time.
    package static func write(_ record: RunRecord, chunkBytes: Int = 1 << 20, emit: (String) throws -> Void) rethrows {
        var buffer = columns.joined(separator: ",") + "\n"
        for id in CSVExport.modelIDs(record) {
            for spectrum in record.spectra[id] ?? [] {
                for row in rows(model: CSVExport.inert(id), spectrum) {
                    buffer += row.map(CSVExport.quote).joined(separator: ",") + "\n"
                    if buffer.utf8.count >= chunkBytes {
                        try emit(buffer)
                        buffer = ""
                    }
                }
            }
        }
        if !buffer.isEmpty { try emit(buffer) }
    }

    /// The whole CSV as one string (tests, small records).
    package static func text(_ record: RunRecord) -> String {
        var out = ""
        write(record) { out += $0 }
        return out
    }

    /// How many spectra a record holds.
    package static func count(_ record: RunRecord) -> Int { record.spectra.values.reduce(0) { $0 + $1.count } }
}
