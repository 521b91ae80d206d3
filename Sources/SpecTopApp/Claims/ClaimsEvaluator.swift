import Foundation
import SpectralCore

/// The paper's claims, checked on a recorded run (README, "Claims").
/// A report, not a test: every claim gets a verdict and the numbers behind it.
struct ClaimsReport: Sendable {
    enum Verdict: String, Sendable {
        case holds, fails
        case notApplicable = "n/a"
    }

    struct Row: Sendable {
        var number: Int
        var title: String
        var verdict: Verdict
        var details: String
    }

    var rows: [Row]
    var notes: [String]
    /// The active models' final-loss fit (the same numbers as the scaling view).
    var lossFit: PowerLawFit?

    func verdict(_ number: Int) -> Verdict? { rows.first { $0.number == number }?.verdict }
}

/// Evaluates the claims with METHOD.md's definitions as they are.
enum ClaimsEvaluator {
    /// Final loss: the last probe loss recorded for a model. The scaling view
    /// uses the same value, so both show the same fit.
    static func finalLoss(_ samples: [MetricSample]) -> Double? {
        samples.last(where: { $0.loss.isFinite })?.loss
    }

    /// χ_pos "at the start" and "at the end": medians over the first and the
    /// last 5 % of the metric samples (at least 3), so one noisy step does not
    /// decide the verdict.
    static func windows(_ samples: [MetricSample]) -> (early: Double, late: Double)? {
        let values = samples.compactMap(\.chiPos).filter { $0.isFinite }
        guard values.count >= 6 else { return nil }
        let k = max(3, values.count / 20)
        return (median(Array(values.prefix(k))), median(Array(values.suffix(k))))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// "Well below": the late χ_pos is less than half the early one.
    static let fallRatio = 0.5
    /// Frozen χ_net counts as constant within this relative change.
    static let constantTolerance = 1e-6
    /// A power law "fits" with at least this R² (and a negative exponent).
    static let minimumRSquared = 0.9

    static func evaluate(_ record: RunRecord) -> ClaimsReport {
        var notes = record.warnings
        let diverged = record.divergedModels
        for id in diverged.sorted() { notes.append("\(id) diverged and is left out of every claim") }
        let usable = record.models.filter { !diverged.contains($0.id) && !(record.steps[$0.id] ?? []).isEmpty }
        let active = usable.filter { $0.mode == .active }.sorted { $0.parameterCount < $1.parameterCount }
        let frozen = usable.filter { $0.mode == .frozen }.sorted { $0.parameterCount < $1.parameterCount }
        func name(_ m: RunRecord.ModelInfo) -> String { m.id }
        func fmt(_ x: Double?) -> String { x.map { String(format: "%.3g", $0) } ?? "–" }
        var rows: [ClaimsReport.Row] = []

        // 1. χ_pos falls for every active model.
        do {
            var parts: [String] = []
            var allFall = true
            var evaluated = 0
            for m in active {
                guard let w = windows(record.steps[m.id] ?? []), w.early > 0 else { parts.append("\(name(m)) too few steps"); continue }
                evaluated += 1
                let ratio = w.late / w.early
                if !(ratio < fallRatio) { allFall = false }
                parts.append("\(name(m)) end/start \(fmt(ratio))")
            }
            rows.append(.init(number: 1, title: "spectral position falls during training",
                              verdict: evaluated == 0 ? .notApplicable : (allFall && evaluated == active.count ? .holds : .fails),
                              details: parts.isEmpty ? "no active models" : parts.joined(separator: ", ")))
        }

        let finalLosses = active.map { finalLoss(record.steps[$0.id] ?? []) ?? .nan }

        // 2. Final loss decreases with size.
        do {
            let details = zip(active, finalLosses).map { "\($0.id) \(fmt($1))" }.joined(separator: ", ")
            let verdict: ClaimsReport.Verdict
            if active.count < 2 { verdict = .notApplicable }
            else { verdict = strictlyDecreasing(finalLosses) ? .holds : .fails }
            rows.append(.init(number: 2, title: "larger models reach lower loss", verdict: verdict,
                              details: active.count < 2 ? "needs two or more active sizes" : "final loss: " + details))
        }

        // 3. Spectral reach grows with size.
        do {
            let minima = active.map { (record.steps[$0.id] ?? []).compactMap(\.chiPos).filter(\.isFinite).min() ?? .nan }
            let rEffs = active.map { m -> Double? in (record.spectra[m.id] ?? []).compactMap(\.rEff).max() }
            let haveREff = rEffs.allSatisfy { $0 != nil }
            var details = "min chi_pos: " + zip(active, minima).map { "\($0.id) \(fmt($1))" }.joined(separator: ", ")
            if haveREff { details += "; max r_eff: " + zip(active, rEffs).map { "\($0.id) \(fmt($1))" }.joined(separator: ", ") }
            let verdict: ClaimsReport.Verdict
            if active.count < 2 { verdict = .notApplicable }
            else {
                let chiOK = strictlyDecreasing(minima)
                let rOK = !haveREff || strictlyIncreasing(rEffs.map { $0! })
                verdict = chiOK && rOK ? .holds : .fails
            }
            rows.append(.init(number: 3, title: "spectral reach grows with size", verdict: verdict,
                              details: active.count < 2 ? "needs two or more active sizes" : details))
        }

        // 4. Frozen models stall.
        do {
            var parts: [String] = []
            var holds = true
            var evaluated = 0
            for f in frozen {
                let samples = record.steps[f.id] ?? []
                let nets = samples.map(\.chiNet).filter(\.isFinite)
                guard let first = nets.first, first > 0 else { continue }
                evaluated += 1
                let change = nets.map { abs($0 - first) / first }.max() ?? 0
                let partner = active.first { $0.width == f.width && $0.depth == f.depth && $0.id.hasPrefix(f.id.replacingOccurrences(of: "frozen", with: "")) }
                    ?? active.first { $0.width == f.width && $0.depth == f.depth }
                let frozenLoss = finalLoss(samples)
                let activeLoss = partner.flatMap { finalLoss(record.steps[$0.id] ?? []) }
                let constant = change < constantTolerance
                let above = frozenLoss != nil && activeLoss != nil && frozenLoss! > activeLoss!
                if !constant || !above { holds = false }
                parts.append("\(f.id) chi_net change \(fmt(change)), loss \(fmt(frozenLoss)) vs active \(fmt(activeLoss))")
            }
            rows.append(.init(number: 4, title: "frozen models stall", verdict: evaluated == 0 ? .notApplicable : (holds ? .holds : .fails),
                              details: parts.isEmpty ? "no frozen models" : parts.joined(separator: ", ")))
        }

        // 5. Feature learning amplifies χ_net while χ_pos falls, at least at the larger sizes.
        do {
            var parts: [String] = []
            var amplified: [Bool] = []
            for m in active {
                let samples = record.steps[m.id] ?? []
                let nets = samples.map(\.chiNet).filter(\.isFinite)
                guard let first = nets.first, first > 0, let last = nets.last, let w = windows(samples) else { continue }
                let amplification = last / first
                let falls = w.late < w.early
                amplified.append(amplification > 1 && falls)
                parts.append("\(m.id) x\(fmt(amplification))")
            }
            let larger = amplified.suffix(max(1, amplified.count / 2))
            let verdict: ClaimsReport.Verdict = amplified.isEmpty ? .notApplicable : (larger.allSatisfy { $0 } ? .holds : .fails)
            rows.append(.init(number: 5, title: "feature learning amplifies chi_net", verdict: verdict,
                              details: parts.isEmpty ? "no active models" : "amplification " + parts.joined(separator: ", ")))
        }

        // 6. Scaling law.
        let fit = PowerLawFit(x: active.map { Double($0.parameterCount) }, y: finalLosses)
        do {
            let verdict: ClaimsReport.Verdict
            var details: String
            if active.count < 3 || fit == nil {
                verdict = .notApplicable
                details = "needs three or more active sizes"
            } else {
                verdict = fit!.exponent < 0 && fit!.rSquared >= minimumRSquared ? .holds : .fails
                details = String(format: "loss ~ params^%.3f, R^2 %.3f over %d sizes", fit!.exponent, fit!.rSquared, fit!.pointCount)
                if let frozenFit = PowerLawFit(x: frozen.map { Double($0.parameterCount) }, y: frozen.map { finalLoss(record.steps[$0.id] ?? []) ?? .nan }) {
                    details += String(format: "; frozen: exponent %.3f, R^2 %.3f", frozenFit.exponent, frozenFit.rSquared)
                }
            }
            rows.append(.init(number: 6, title: "final loss follows a power law in size", verdict: verdict, details: details))
        }
        return ClaimsReport(rows: rows, notes: notes, lossFit: fit)
    }

    static func strictlyDecreasing(_ values: [Double]) -> Bool {
        values.allSatisfy(\.isFinite) && zip(values, values.dropFirst()).allSatisfy { $0 > $1 }
    }

    static func strictlyIncreasing(_ values: [Double]) -> Bool {
        values.allSatisfy(\.isFinite) && zip(values, values.dropFirst()).allSatisfy { $0 < $1 }
    }

    /// The report as a table for a terminal or a log.
    static func render(_ report: ClaimsReport, record: RunRecord) -> String {
        var out = "spectop claims: \(record.file)"
        if let preset = record.preset { out += " (preset \(preset))" }
        out += "\n"
        let width = report.rows.map { $0.title.count }.max() ?? 30
        for row in report.rows {
            let title = row.title.padding(toLength: width, withPad: " ", startingAt: 0)
            let verdict = row.verdict.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            out += "\(row.number)  \(title)  \(verdict)  \(row.details)\n"
        }
        for note in report.notes { out += "note: \(note)\n" }
        if record.endReason == nil { out += "note: the run has no end line yet (still running or interrupted)\n" }
        return out
    }
}
