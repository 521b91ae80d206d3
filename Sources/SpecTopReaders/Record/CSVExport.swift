import Foundation
import SpecTopRecord

/// A record as CSV (`spectop export`): every metric of every step line, with
/// the spectrum's summary numbers on the steps that have one.
///
/// Long form (default): one row per model and step, the columns `columns`.
/// Wide form: one row per step, one column per model and metric, named
/// `MODEL:metric`. RFC 4180 quoting; an empty cell is a value the record does
/// not have (no spectrum at that step, chi_pos undefined, NaN or Inf). Model
/// ids that a spreadsheet would take for a formula get a leading `'` (`inert`).
package enum CSVExport {
    /// The metrics, in column order (after `model` in the long form).
    package static let metrics = ["step", "wall", "loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "chi_net_estimate", "chi_net_stderr",
                          "lambda_eff", "r_eff", "chi_pos_exact", "effective_rank",
                          "rows", "chi_loss_normalized", "chi_net_normalized",
                          "cross_loss", "cross_grad_dot", "cross_chi_loss", "cross_chi_net", "cross_chi_pos", "cross_rows",
                          "cross_chi_loss_normalized", "cross_chi_net_normalized"]
    package static var columns: [String] { ["model"] + metrics }

    /// One model's step: its metric line, its spectrum, or both.
    package struct Row {
        package var step: Int
        package var sample: MetricSample?
        package var spectrum: SpectrumSample?
        /// The user's scalars at this step (`probe.log`), the later value of a name logged twice.
        package var scalars: [String: Double] = [:]

        /// The cells of `metrics` (step included), then one per user scalar name.
        package func cells(userNames: [String]) -> [String] {
            cells + userNames.map { number(scalars[$0]) }
        }

        /// The cells of `metrics` (step included) for this row.
        package var cells: [String] {
            let s = sample, p = spectrum
            return [String(step), number(s?.wall), number(s?.loss), number(s?.chiLoss), number(s?.chiNet), number(s?.chiPos ?? nil),
                    number(s?.gradSq), s.map { $0.traceIsEstimate ? "true" : "false" } ?? "", number(s?.chiNetStandardError ?? nil),
                    number(p?.lambdaEff ?? nil), number(p?.rEff ?? nil), number(p?.chiPosExact ?? nil), number(p?.effectiveRank)]
                + normalisedCells + crossCells
        }

        /// n and the normalised factors (METHOD.md, *Normalised factors*); empty when n is unknown.
        private var normalisedCells: [String] {
            guard let s = sample, s.rows > 0 else { return ["", "", ""] }
            return [String(s.rows), number(s.normalizedChiLoss), number(s.normalizedChiNet)]
        }

        /// The cross-batch measurement, when the step line has one.
        private var crossCells: [String] {
            guard let s = sample, let c = s.cross else { return Array(repeating: "", count: 8) }
            return [number(c.loss), number(c.gradDot), number(c.chiLoss), number(c.chiNet), number(c.chiPos), c.rows > 0 ? String(c.rows) : "",
                    number(c.normalizedChiLoss(rowsA: s.rows)), number(c.normalizedChiNet(rowsA: s.rows))]
        }
    }

    /// A model's rows in step order: step lines in record order, each with the
    /// spectrum of its step; a spectrum without a step line gets its own row.
    package static func rows(_ record: RunRecord, model: String) -> [Row] {
        let samples = record.steps[model] ?? []
        var spectra: [Int: SpectrumSample] = [:]
        for spectrum in record.spectra[model] ?? [] { spectra[spectrum.step] = spectrum }
        var scalars: [Int: [String: Double]] = [:]
        for line in record.scalars[model] ?? [] {
            for value in line.values { scalars[line.step, default: [:]][value.name] = value.value }
        }
        var rows = samples.map { Row(step: $0.step, sample: $0, spectrum: nil) }
        var used = Set<Int>()
        for index in rows.indices where !used.contains(rows[index].step) {
            // A repeated step (a writer restarted) gets the spectrum and scalars once, on its first line.
            rows[index].spectrum = spectra[rows[index].step]
            rows[index].scalars = scalars[rows[index].step] ?? [:]
            used.insert(rows[index].step)
        }
        // Steps with a spectrum or user scalars but no step line get rows of their own.
        let orphans = Set(spectra.keys).union(scalars.keys).subtracting(used).sorted()
            .map { Row(step: $0, sample: nil, spectrum: spectra[$0], scalars: scalars[$0] ?? [:]) }
        guard !orphans.isEmpty else { return rows }
        // Stable merge by step keeps the record's order among equal steps.
        return (rows.enumerated().map { ($0.element, $0.offset) } + orphans.enumerated().map { ($0.element, rows.count + $0.offset) })
            .sorted { ($0.0.step, $0.1) < ($1.0.step, $1.1) }.map(\.0)
    }

    /// The user scalar names of every model, in order of first appearance (models in export order).
    package static func userNames(_ record: RunRecord) -> [String] {
        var names: [String] = [], seen = Set<String>()
        for id in modelIDs(record) {
            for line in record.scalars[id] ?? [] {
                for value in line.values where seen.insert(value.name).inserted { names.append(value.name) }
            }
        }
        return names
    }

    /// Every model, in header order (then models only the step lines name).
    package static func modelIDs(_ record: RunRecord) -> [String] {
        var ids = record.models.map(\.id)
        let known = Set(ids)
        ids += Set(record.spectra.keys).union(record.scalars.keys).subtracting(known).sorted()
        return ids
    }

    /// Writes the CSV through `emit`, a chunk at a time, so a long record
    /// never needs the whole text in memory.
    package static func write(_ record: RunRecord, wide: Bool, chunkBytes: Int = 1 << 20, emit: (String) throws -> Void) rethrows {
        var buffer = ""
        func line(_ cells: [String]) throws {
            buffer += cells.map(quote).joined(separator: ",") + "\n"
            if buffer.utf8.count >= chunkBytes {
                try emit(buffer)
                buffer = ""
            }
        }
        let models = modelIDs(record)
        let users = userNames(record)
        if wide {
            let perModel = Array(metrics.dropFirst()) + users.map { "user:" + $0 }  // the step is the row's key
            try line(["step"] + models.flatMap { id in perModel.map { inert("\(id):\($0)") } })
            // Each model's rows by step; the first row of a step wins (a repeated step is rare).
            var byStep: [[Int: [String]]] = []
            var steps = Set<Int>()
            for id in models {
                var table: [Int: [String]] = [:]
                for row in rows(record, model: id) where table[row.step] == nil {
                    table[row.step] = Array(row.cells(userNames: users).dropFirst())
                    steps.insert(row.step)
                }
                byStep.append(table)
            }
            let empty = Array(repeating: "", count: perModel.count)
            for step in steps.sorted() {
                try line([String(step)] + byStep.flatMap { $0[step] ?? empty })
            }
        } else {
            try line(columns + users.map { inert("user:" + $0) })
            for id in models {
                for row in rows(record, model: id) { try line([inert(id)] + row.cells(userNames: users)) }
            }
        }
        if !buffer.isEmpty { try emit(buffer) }
    }

    /// The whole CSV as one string (tests, small records).
    package static func text(_ record: RunRecord, wide: Bool) -> String {
        var out = ""
        write(record, wide: wide) { out += $0 }
        return out
    }

    /// A text cell a spreadsheet will not run: a model id from a record that
    /// begins with `=`, `+`, `-`, `@`, a tab or a carriage return would be
    /// read as a formula (CSV injection), so it gets a leading `'`, as OWASP
    /// advises. Numbers are never text cells and stay as they are.
    package static func inert(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return text }
        return "'" + text
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
    package static func quote(_ field: String) -> String {
        // Scalars, not Characters: "\r\n" is one Character equal to neither.
        guard field.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Shortest round-trip form, as in the record; empty for nil, NaN and Inf.
    package static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return JSONLine.number(value)
    }
}
