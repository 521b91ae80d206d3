import Foundation

/// The paper's claims, checked on a recorded run (docs/USAGE.md, "Recording, replay and claims").
/// A report, not a test: every claim gets a verdict, every condition it
/// checks, and the numbers behind each, so a `fails` can be explained.
package struct ClaimsReport: Sendable {
    package enum Verdict: String, Sendable {
        case holds, fails
        case notApplicable = "n/a"
    }

    /// One number a condition looked at, named by the model (or size) it belongs to.
    package struct Value: Sendable, Equatable {
        package var name: String
        package var value: Double?
        package init(name: String, value: Double?) { self.name = name; self.value = value }
    }

    /// One checked condition of a claim: a claim holds when all of its hold.
    package struct Condition: Sendable {
        /// "3.2": the claim's number, then the condition's.
        package var number: String
        package var description: String
        package var values: [Value]
        package var pass: Bool
        package init(number: String, description: String, values: [Value], pass: Bool) {
            self.number = number; self.description = description; self.values = values; self.pass = pass
        }
    }

    package struct Row: Sendable {
        package var number: Int
        package var title: String
        package var verdict: Verdict
        /// Empty exactly when the claim is n/a.
        package var conditions: [Condition]
        /// Why the claim is n/a.
        package var reason: String?
        /// What the verdict left out and why (too few steps, no twin, a live freeze).
        package var notes: [String] = []

        package init(number: Int, title: String, verdict: Verdict, conditions: [Condition], reason: String? = nil, notes: [String] = []) {
            self.number = number; self.title = title; self.verdict = verdict; self.conditions = conditions; self.reason = reason; self.notes = notes
        }

        /// One line: the reason for n/a, else every condition with its numbers.
        package var details: String {
            var parts = conditions.map { ClaimsEvaluator.describe($0) }
            if let reason { parts.insert(reason, at: 0) }
            return (parts + notes).joined(separator: "; ")
        }

        package func condition(_ number: String) -> Condition? { conditions.first { $0.number == number } }
    }

    package var rows: [Row]
    package var notes: [String]
    /// The active models' final-loss fit (the same numbers as the scaling view).
    package var lossFit: PowerLawFit?
    /// Per size, how often the cross-batch χ_pos^{AB} was negative (interference), where recorded.
    package var interference: [Interference] = []

    /// One size's cross-batch measurements: how many, and the share below zero.
    package struct Interference: Sendable, Equatable {
        package var size: Int
        package var models: [String]
        package var measurements: Int
        package var negative: Int
        package var fraction: Double { measurements > 0 ? Double(negative) / Double(measurements) : 0 }
    }

    package func verdict(_ number: Int) -> Verdict? { rows.first { $0.number == number }?.verdict }
    package func row(_ number: Int) -> Row? { rows.first { $0.number == number } }
    package var failingClaims: [Int] { rows.filter { $0.verdict == .fails }.map(\.number) }
}

/// Evaluates the claims with METHOD.md's definitions as they are.
package enum ClaimsEvaluator {
    /// Final loss: the last probe loss recorded for a model. The scaling view
    /// uses the same value, so both show the same fit.
    package static func finalLoss(_ samples: [MetricSample]) -> Double? {
        samples.last(where: { $0.loss.isFinite })?.loss
    }

    /// χ_pos "at the start" and "at the end": medians over the first and the
    /// last 5 % of the metric samples (at least 3), so one noisy step does not
    /// decide the verdict.
    package static func windows(_ samples: [MetricSample]) -> (early: Double, late: Double)? {
        windows(of: samples.compactMap(\.chiPos))
    }

    /// The early and late medians of `values` (finite ones, at least `minimumChiPosSamples`).
    static func windows(of values: [Double]) -> (early: Double, late: Double)? {
        let values = values.filter { $0.isFinite }
        guard values.count >= minimumChiPosSamples else { return nil }
        let k = max(3, values.count / 20)
        return (median(Array(values.prefix(k))), median(Array(values.suffix(k))))
    }

    package static let minimumChiPosSamples = 6

    /// `windows` on the cross-batch χ_pos^{AB}, where recorded.
    package static func crossWindows(_ samples: [MetricSample]) -> (early: Double, late: Double)? {
        windows(of: samples.compactMap { $0.cross?.chiPos ?? nil })
    }

    package static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// "Well below": the late χ_pos is less than half the early one.
    package static let fallRatio = 0.5
    /// Frozen χ_net counts as constant within this relative change.
    package static let constantTolerance = 1e-6
    /// A power law "fits" with at least this R² (and a negative exponent).
    package static let minimumRSquared = 0.9

    /// A model as one claim sees it: all of its samples, or the part before or
    /// after a live freeze.
    package struct Subject {
        package var info: RunRecord.ModelInfo
        package var samples: [MetricSample]
        /// The finite r_eff of its spectra (claim 3).
        package var rEffs: [Double]
        package var id: String { info.id }
        package var size: Int { info.parameterCount }
    }

    /// What the claims need of one model: its samples in step order, its
    /// spectra's r_eff at their steps, where a live freeze split it, and
    /// whether it stopped (diverged or failed).
    package struct Model {
        package var info: RunRecord.ModelInfo
        package var samples: [MetricSample]
        package var rEffs: [(step: Int, value: Double)]
        package var freezeStep: Int?
        package var stopped: Bool

        package init(info: RunRecord.ModelInfo, samples: [MetricSample], rEffs: [(step: Int, value: Double)], freezeStep: Int?, stopped: Bool) {
            self.info = info; self.samples = samples; self.rEffs = rEffs; self.freezeStep = freezeStep; self.stopped = stopped
        }
    }

    /// The claims on a whole record (`spectop claims`).
    package static func evaluate(_ record: RunRecord) -> ClaimsReport {
        let models = record.models.map { m in
            Model(info: m, samples: record.steps[m.id] ?? [],
                  rEffs: (record.spectra[m.id] ?? []).compactMap { s in s.rEff.flatMap { $0.isFinite ? (s.step, $0) : nil } },
                  freezeStep: record.freezeStep(of: m.id), stopped: record.divergedModels.contains(m.id))
        }
        return evaluate(models, notes: record.warnings)
    }

    /// The claims on what the monitor shows (the claims view): each model's
    /// history, as many points as it keeps (all of a run up to 1,024
    /// measurements, then every other one), and its largest r_eff so far.
    package static func evaluate(_ snapshots: [ModelSnapshot]) -> ClaimsReport {
        let models = snapshots.map { m -> Model in
            let h = m.history
            let samples = h.steps.indices.map { k in
                var sample = MetricSample(step: h.steps[k], loss: h.loss[k], chiLoss: .nan, chiNet: h.chiNet[k],
                                          chiPos: h.chiPos[k].isNaN ? nil : h.chiPos[k], gradSq: .nan, wall: h.wall[k])
                if k < h.crossChiPos.count, !h.crossChiPos[k].isNaN {
                    sample.cross = CrossBatchSample(loss: .nan, gradDot: .nan, chiLoss: .nan, chiNet: .nan, chiPos: h.crossChiPos[k])
                }
                return sample
            }
            var info = RunRecord.ModelInfo(id: m.id, width: m.width, depth: m.depth, parameterCount: m.parameterCount,
                                           trainableParameterCount: m.trainableParameterCount, stepBudget: m.stepBudget,
                                           trainable: m.mode == .frozen ? "readout" : "all", mode: m.mode)
            info.batchSize = m.batchSize
            return Model(info: info, samples: samples, rEffs: m.maxREff.map { [(m.step, $0)] } ?? [],
                         freezeStep: m.mode == .active && m.featuresFrozen ? m.freezeStep : nil,
                         stopped: m.status == .diverged || m.status == .failed)
        }
        return evaluate(models, notes: [])
    }

    /// The models of one size, for the size claims: one value per size (the
    /// median when a size has several models, e.g. several seeds).
    package struct SizeGroup {
        package var size: Int
        package var members: [Subject]
        package var name: String { members.count == 1 ? members[0].id : "\(size) params (median of \(members.count))" }
    }

    /// The models with a size, grouped by it. A record that gives no parameter count (0: a
    /// TensorBoard or Lightning log) has no size: it takes no part in a comparison of sizes.
    package static func groups(_ subjects: [Subject]) -> [SizeGroup] {
        Dictionary(grouping: subjects.filter { $0.size > 0 }, by: \.size).map { SizeGroup(size: $0.key, members: $0.value) }.sorted { $0.size < $1.size }
    }

    /// Why a size claim cannot compare `subjects` (grouped as `groups`), or nil when it can.
    package static func tooFewSizes(_ groups: [SizeGroup], of subjects: [Subject], needed: Int = 2) -> String? {
        guard groups.count < needed else { return nil }
        let sized = groups.reduce(0) { $0 + $1.members.count }
        let unsized = subjects.count - sized
        if subjects.isEmpty { return "no active models" }
        var why: [String] = []
        if groups.count == 1 {
            let which = unsized > 0 ? " with a size" : ""
            why.append(sized == 1 ? "the one active model\(which) has \(groups[0].size) parameters"
                                  : "all \(sized) active models\(which) have \(groups[0].size) parameters")
        } else if groups.count > 1 {
            why.append("the active models have \(groups.count) sizes")
        }
        if unsized > 0 {
            why.append(sized == 0 ? "no record gives a parameter count: TensorBoard and Lightning logs carry none"
                                  : "\(unsized) \(unsized == 1 ? "model's record gives" : "models' records give") no parameter count")
        }
        return "needs \(needed == 2 ? "two" : "three") or more active sizes (\(why.joined(separator: "; ")))"
    }

    package static func evaluate(_ models: [Model], notes warnings: [String]) -> ClaimsReport {
        var notes = warnings
        let diverged = Set(models.filter(\.stopped).map(\.info.id))
        for id in diverged.sorted() { notes.append("\(id) diverged and is left out of every claim") }
        let byID = Dictionary(models.map { ($0.info.id, $0) }, uniquingKeysWith: { first, _ in first })
        let usable = models.map(\.info).filter { !diverged.contains($0.id) && !(byID[$0.id]?.samples.isEmpty ?? true) }
            .sorted { ($0.parameterCount, $0.id) < ($1.parameterCount, $1.id) }
        // A live freeze (`F`) turns an active model into a frozen one from the
        // event's step on: that step is the first trained and measured frozen.
        let freezeSteps = Dictionary(uniqueKeysWithValues: usable.compactMap { m in byID[m.id]?.freezeStep.map { (m.id, $0) } })
        func subject(_ m: RunRecord.ModelInfo, _ keep: (Int) -> Bool = { _ in true }) -> Subject {
            Subject(info: m, samples: (byID[m.id]?.samples ?? []).filter { keep($0.step) },
                    rEffs: (byID[m.id]?.rEffs ?? []).filter { keep($0.step) }.map(\.value))
        }
        // Per-model dynamics (claims 1, 5): every active model, up to its freeze.
        var dynamics: [Subject] = []
        // Size comparisons of final values (claims 2, 3, 6, and the twins of 4):
        // models that stayed active to the end. A model frozen mid-run ends
        // with values of neither regime, so it is left out of these.
        var throughout: [Subject] = []
        var frozen: [Subject] = []
        for m in usable {
            if m.mode == .frozen {
                frozen.append(subject(m))
            } else if let step = freezeSteps[m.id] {
                let before = subject(m) { $0 < step }
                if !before.samples.isEmpty { dynamics.append(before) }
                var after = subject(m) { $0 >= step }
                after.info.mode = .frozen
                if !after.samples.isEmpty { frozen.append(after) }
                notes.append("\(m.id) was frozen at step \(step): claims 1 and 5 use its steps before, claim 4 its steps from then on; claims 2, 3 and 6 leave it out")
            } else {
                dynamics.append(subject(m))
                throughout.append(subject(m))
            }
        }
        let rows = [claimOne(dynamics), claimTwo(throughout), claimThree(throughout), claimFour(frozen, twins: throughout),
                    claimFive(dynamics)]
        let (six, fit) = claimSix(throughout, frozen: frozen.filter { freezeSteps[$0.id] == nil })
        // Active models only: a frozen twin has the same size and another regime.
        let interference = interference(dynamics)
        if !interference.isEmpty {
            notes.append("interference (cross-batch chi_pos < 0): " + interference.map { group in
                "\(String(format: "%.0f", 100 * group.fraction))% of \(group.measurements) at \(group.size) params (\(group.models.joined(separator: ", ")))"
            }.joined(separator: "; "))
        }
        if let note = normalisedNote(dynamics) { notes.append(note) }
        return ClaimsReport(rows: rows + [six], notes: notes, lossFit: fit, interference: interference)
    }

    /// Per size, the cross-batch measurements and how many were negative, over every model that has them.
    package static func interference(_ subjects: [Subject]) -> [ClaimsReport.Interference] {
        var bySize: [Int: ClaimsReport.Interference] = [:]
        for subject in subjects {
            let values = subject.samples.compactMap { $0.cross?.chiPos }.filter(\.isFinite)
            guard !values.isEmpty else { continue }
            var group = bySize[subject.size] ?? .init(size: subject.size, models: [], measurements: 0, negative: 0)
            if !group.models.contains(subject.id) { group.models.append(subject.id) }
            group.measurements += values.count
            group.negative += values.filter { $0 < 0 }.count
            bySize[subject.size] = group
        }
        return bySize.values.sorted { $0.size < $1.size }
    }

    /// The active models' last normalised factors (n·χ_loss, χ_net/n), which
    /// compare across probe sizes where the raw ones do not; nil when no step line says n.
    static func normalisedNote(_ active: [Subject]) -> String? {
        let parts = active.compactMap { m -> String? in
            guard let last = m.samples.last(where: { $0.rows > 0 }), let loss = last.normalizedChiLoss, let net = last.normalizedChiNet,
                  loss.isFinite, net.isFinite else { return nil }
            return "\(m.id) \(format(loss)), \(format(net)) (n = \(last.rows))"
        }
        guard !parts.isEmpty else { return nil }
        return "last normalised factors n·chi_loss, chi_net/n: " + parts.joined(separator: "; ")
    }

    // 1. χ_pos falls for every active model.
    package static func claimOne(_ active: [Subject]) -> ClaimsReport.Row {
        let title = "spectral position falls during training"
        let measured = active.compactMap { m in windows(m.samples).map { (m, $0) } }
        guard !measured.isEmpty else {
            return .init(number: 1, title: title, verdict: .notApplicable, conditions: [],
                         reason: active.isEmpty ? "no active models" : "no active model has \(minimumChiPosSamples) or more chi_pos samples")
        }
        var conditions: [ClaimsReport.Condition] = []
        let short = active.filter { m in !measured.contains { $0.0.id == m.id } }
        conditions.append(.init(number: "1.1", description: "every active model has \(minimumChiPosSamples)+ chi_pos samples",
                                values: active.map { m in .init(name: m.id, value: Double(m.samples.compactMap(\.chiPos).filter(\.isFinite).count)) },
                                pass: short.isEmpty))
        // An early median of 0 has no ratio: shown as "–" and failing.
        let ratios = measured.map { ClaimsReport.Value(name: $0.0.id, value: $0.1.early > 0 ? $0.1.late / $0.1.early : nil) }
        conditions.append(.init(number: "1.2", description: "late/early median chi_pos below \(fallRatio)", values: ratios,
                                pass: ratios.allSatisfy { ($0.value ?? .nan) < fallRatio }))
        // The paper's mini-batch form, where the run recorded it: the same rule on χ_pos^{AB}.
        let cross = active.compactMap { m in crossWindows(m.samples).map { (m, $0) } }
        if !cross.isEmpty {
            let crossRatios = cross.map { ClaimsReport.Value(name: $0.0.id, value: $0.1.early > 0 ? $0.1.late / $0.1.early : nil) }
            conditions.append(.init(number: "1.3", description: "late/early median cross-batch chi_pos below \(fallRatio)", values: crossRatios,
                                    pass: crossRatios.allSatisfy { ($0.value ?? .nan) < fallRatio }))
        }
        return row(1, title, conditions)
    }

    // 2. Final loss decreases with size.
    package static func claimTwo(_ active: [Subject]) -> ClaimsReport.Row {
        let title = "larger models reach lower loss"
        let sizes = groups(active)
        if let reason = tooFewSizes(sizes, of: active) { return .init(number: 2, title: title, verdict: .notApplicable, conditions: [], reason: reason) }
        let values = perSize(sizes) { finalLoss($0.samples) }
        return row(2, title, [.init(number: "2.1", description: "final loss strictly decreases with size", values: values,
                                    pass: strictlyDecreasing(values.map { $0.value ?? .nan }))])
    }

    // 3. Spectral reach grows with size.
    package static func claimThree(_ active: [Subject]) -> ClaimsReport.Row {
        let title = "spectral reach grows with size"
        let sizes = groups(active)
        if let reason = tooFewSizes(sizes, of: active) { return .init(number: 3, title: title, verdict: .notApplicable, conditions: [], reason: reason) }
        let minima = perSize(sizes) { $0.samples.compactMap(\.chiPos).filter(\.isFinite).min() }
        var conditions: [ClaimsReport.Condition] = [
            .init(number: "3.1", description: "min chi_pos strictly decreases with size", values: minima,
                  pass: strictlyDecreasing(minima.map { $0.value ?? .nan })),
        ]
        var notes: [String] = []
        // r_eff needs the exact spectrum: compared only when every model has one.
        if active.allSatisfy({ m in !m.rEffs.isEmpty }) {
            let maxima = perSize(sizes) { $0.rEffs.max() }
            conditions.append(.init(number: "3.2", description: "max r_eff strictly increases with size", values: maxima,
                                    pass: strictlyIncreasing(maxima.map { $0.value ?? .nan })))
        } else {
            notes.append("r_eff not compared: not every active model has a spectrum with r_eff")
        }
        var result = row(3, title, conditions)
        result.notes = notes
        return result
    }

    // 4. Frozen models stall.
    /// A frozen model and its twin, as claim 4.2 names their ratio: `w8-frozen vs w8-active`, the
    /// `RUN/` prefix said once where both share it (`sweep/w8-frozen vs w8-active`), so a slash
    /// only ever separates a run from its model.
    package static func pairName(_ frozen: String, _ active: String) -> String {
        if let slash = frozen.lastIndex(of: "/") {
            let run = frozen[...slash]
            if active.hasPrefix(run) { return "\(frozen) vs \(active.dropFirst(run.count))" }
        }
        return "\(frozen) vs \(active)"
    }

    package static func claimFour(_ frozen: [Subject], twins active: [Subject]) -> ClaimsReport.Row {
        let title = "frozen models stall"
        var changes: [ClaimsReport.Value] = [], ratios: [ClaimsReport.Value] = []
        var constant = true, above = true
        var notes: [String] = []
        for f in frozen {
            let nets = f.samples.map(\.chiNet).filter(\.isFinite)
            guard let first = nets.first, first > 0 else {
                notes.append("\(f.id) has no positive chi_net")
                continue
            }
            // The twin: the active model of the same size, preferring the one
            // named like it (w64-frozen and w64-active).
            let sameSize = active.filter { $0.size == f.size && $0.id != f.id }
            guard let twin = sameSize.first(where: { $0.id == f.id.replacingOccurrences(of: "frozen", with: "active") }) ?? sameSize.first else {
                notes.append("\(f.id) has no active model of its size (\(f.size) params) to compare with")
                continue
            }
            let change = nets.map { abs($0 - first) / first }.max() ?? 0
            changes.append(.init(name: f.id, value: change))
            if !(change < constantTolerance) { constant = false }
            let frozenLoss = finalLoss(f.samples), activeLoss = finalLoss(twin.samples)
            let ratio = frozenLoss.flatMap { l in activeLoss.flatMap { $0 > 0 ? l / $0 : nil } }
            ratios.append(.init(name: pairName(f.id, twin.id), value: ratio))
            if !(frozenLoss != nil && activeLoss != nil && frozenLoss! > activeLoss!) { above = false }
        }
        guard !changes.isEmpty else {
            let reason = frozen.isEmpty ? "no frozen models" : "no frozen model has an active twin of the same size"
            return .init(number: 4, title: title, verdict: .notApplicable, conditions: [], reason: reason, notes: notes)
        }
        var result = row(4, title, [
            .init(number: "4.1", description: "frozen chi_net relative change below \(constantTolerance)", values: changes, pass: constant),
            .init(number: "4.2", description: "frozen final loss above its active twin's (ratio > 1)", values: ratios, pass: above),
        ])
        result.notes = notes
        return result
    }

    // 5. Feature learning amplifies χ_net while χ_pos falls, at least at the larger sizes.
    package static func claimFive(_ active: [Subject]) -> ClaimsReport.Row {
        let title = "feature learning amplifies chi_net"
        let sizes = groups(active)
        if let reason = tooFewSizes(sizes, of: active) { return .init(number: 5, title: title, verdict: .notApplicable, conditions: [], reason: reason) }
        let larger = sizes.suffix(max(1, sizes.count / 2)).flatMap(\.members)
        var amplifications: [ClaimsReport.Value] = [], falls: [ClaimsReport.Value] = []
        var notes: [String] = []
        for m in larger {
            let nets = m.samples.map(\.chiNet).filter(\.isFinite)
            guard let first = nets.first, first > 0, let last = nets.last, let w = windows(m.samples) else {
                notes.append("\(m.id) has too few samples")
                continue
            }
            amplifications.append(.init(name: m.id, value: last / first))
            falls.append(.init(name: m.id, value: w.early > 0 ? w.late / w.early : nil))
        }
        guard !amplifications.isEmpty else {
            return .init(number: 5, title: title, verdict: .notApplicable, conditions: [],
                         reason: "the larger active models have too few samples", notes: notes)
        }
        var result = row(5, title, [
            .init(number: "5.1", description: "larger half of the sizes: chi_net end/start above 1", values: amplifications,
                  pass: amplifications.allSatisfy { ($0.value ?? .nan) > 1 }),
            .init(number: "5.2", description: "larger half of the sizes: late/early median chi_pos below 1", values: falls,
                  pass: falls.allSatisfy { ($0.value ?? .nan) < 1 }),
        ])
        result.notes = notes
        return result
    }

    // 6. Scaling law.
    package static func claimSix(_ active: [Subject], frozen: [Subject]) -> (ClaimsReport.Row, PowerLawFit?) {
        let title = "final loss follows a power law in size"
        let fit = PowerLawFit(x: active.map { Double($0.size) }, y: active.map { finalLoss($0.samples) ?? .nan })
        let sizes = groups(active)
        if let reason = tooFewSizes(sizes, of: active, needed: 3) ?? (fit == nil ? "no power law can be fitted to the final losses" : nil) {
            return (.init(number: 6, title: title, verdict: .notApplicable, conditions: [], reason: reason), fit)
        }
        let f = fit!
        let points = ClaimsReport.Value(name: "sizes", value: Double(f.pointCount))
        var result = row(6, title, [
            .init(number: "6.1", description: "exponent of loss ~ params^k below 0", values: [.init(name: "k", value: f.exponent), points],
                  pass: f.exponent < 0),
            .init(number: "6.2", description: "R^2 of the fit at least \(minimumRSquared)", values: [.init(name: "R^2", value: f.rSquared)],
                  pass: f.rSquared >= minimumRSquared),
        ])
        if let frozenFit = PowerLawFit(x: frozen.map { Double($0.size) }, y: frozen.map { finalLoss($0.samples) ?? .nan }) {
            result.notes.append(String(format: "frozen: exponent %.3f, R^2 %.3f", frozenFit.exponent, frozenFit.rSquared))
        }
        return (result, fit)
    }

    /// A row whose verdict follows from its conditions.
    package static func row(_ number: Int, _ title: String, _ conditions: [ClaimsReport.Condition]) -> ClaimsReport.Row {
        .init(number: number, title: title, verdict: conditions.allSatisfy(\.pass) ? .holds : .fails, conditions: conditions, reason: nil)
    }

    /// One value per size: the model's own, or the median of the finite values of a size's models.
    package static func perSize(_ sizes: [SizeGroup], _ value: (Subject) -> Double?) -> [ClaimsReport.Value] {
        sizes.map { group in
            let values = group.members.compactMap(value).filter(\.isFinite)
            return .init(name: group.name, value: values.count == group.members.count && !values.isEmpty ? median(values) : nil)
        }
    }

    package static func strictlyDecreasing(_ values: [Double]) -> Bool {
        values.allSatisfy(\.isFinite) && zip(values, values.dropFirst()).allSatisfy { $0 > $1 }
    }

    package static func strictlyIncreasing(_ values: [Double]) -> Bool {
        values.allSatisfy(\.isFinite) && zip(values, values.dropFirst()).allSatisfy { $0 < $1 }
    }

    package static func format(_ x: Double?) -> String { x.map { String(format: "%.3g", $0) } ?? "–" }

    /// "3.1 min chi_pos strictly decreases with size: pass (w8 0.1, w32 0.05)".
    package static func describe(_ condition: ClaimsReport.Condition) -> String {
        let values = condition.values.map { "\($0.name) \(format($0.value))" }.joined(separator: ", ")
        return "\(condition.number) \(condition.description): \(condition.pass ? "pass" : "FAIL") (\(values))"
    }

    /// The report as a table for a terminal or a log: one line per claim, then
    /// each condition it checked and what it left out.
    package static func render(_ report: ClaimsReport, record: RunRecord) -> String {
        var out = "spectop claims: \(record.file)"
        if let preset = record.preset { out += " (preset \(preset))" }
        out += "\n"
        let width = report.rows.map { $0.title.count }.max() ?? 30
        for row in report.rows {
            let title = row.title.padding(toLength: width, withPad: " ", startingAt: 0)
            var line = "\(row.number)  \(title)  \(row.verdict.rawValue)"
            if let reason = row.reason { line += "  \(reason)" }
            out += line + "\n"
            for condition in row.conditions { out += "     \(describe(condition))\n" }
            for note in row.notes { out += "     (\(note))\n" }
        }
        for note in report.notes { out += "note: \(note)\n" }
        if let note = endNote(record) { out += "note: \(note)\n" }
        return out
    }

    /// What the claims say of a record without an `end` line; nil with one.
    /// A TensorBoard or Lightning log never has one, so its lack says nothing.
    package static func endNote(_ record: RunRecord) -> String? {
        guard record.endReason == nil else { return nil }
        return record.writesEndLine ? unfinishedNote : endlessLogNote
    }

    package static let unfinishedNote = "the run has no end line yet (still running or interrupted)"
    package static let endlessLogNote = "TensorBoard and Lightning logs carry no end line: the claims use each model's last logged step (training may have gone on since)"

    /// The report as one JSON object (`claims --json`), for scripts and CI.
    package static func json(_ report: ClaimsReport, record: RunRecord) -> String {
        func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }
        let claims = report.rows.map { row -> String in
            var json = JSONLine()
            json.add("number", row.number)
            json.add("title", row.title)
            json.add("verdict", row.verdict.rawValue)
            if let reason = row.reason { json.add("reason", reason) }
            json.add("conditions", raw: array(row.conditions.map { condition in
                var c = JSONLine()
                c.add("number", condition.number)
                c.add("description", condition.description)
                var values = JSONLine()
                for value in condition.values { values.add(value.name, value.value) }
                c.add("values", raw: values.line)
                c.add("pass", condition.pass)
                return c.line
            }))
            json.add("notes", raw: array(row.notes.map(JSONLine.quote)))
            return json.line
        }
        var json = JSONLine()
        json.add("file", record.file)
        if let preset = record.preset { json.add("preset", preset) }
        json.add("finished", record.endReason != nil)
        json.add("claims", raw: array(claims))
        json.add("notes", raw: array((report.notes + (endNote(record).map { [$0] } ?? [])).map(JSONLine.quote)))
        if !report.interference.isEmpty {
            json.add("interference", raw: array(report.interference.map { group in
                var g = JSONLine()
                g.add("size", group.size)
                g.add("models", raw: array(group.models.map(JSONLine.quote)))
                g.add("measurements", group.measurements)
                g.add("negative", group.negative)
                g.add("fraction", group.fraction)
                return g.line
            }))
        }
        if let fit = report.lossFit {
            var f = JSONLine()
            f.add("exponent", fit.exponent)
            f.add("r_squared", fit.rSquared)
            f.add("points", fit.pointCount)
            json.add("loss_fit", raw: f.line)
        }
        return json.line + "\n"
    }
}
