/// The one table from the scalar names other loggers use to spectop's step
/// fields (docs/USAGE.md, "Names in TensorBoard and Lightning logs", prints
/// the same table). A name is split at its last `/` into a prefix
/// (`train/`, `analysis/`, `spectop/`, any other) and a key; the key is
/// looked up here. Nothing is guessed: a key not in the table is kept as a
/// user scalar under its full name and `spectop check` lists it.
package enum ForeignNames {
    /// The step-line fields a foreign scalar can fill.
    package enum Field: String, Sendable, CaseIterable {
        case loss, chiLoss = "chi_loss", chiNet = "chi_net", chiPos = "chi_pos", gradSq = "grad_sq"
        case chiNetStderr = "chi_net_stderr", rows, window
        case crossLoss = "cross_loss", crossGradDot = "cross_grad_dot", crossChiLoss = "cross_chi_loss"
        case crossChiNet = "cross_chi_net", crossChiPos = "cross_chi_pos", crossRows = "cross_rows"

        /// A measured quantity (a step line is made only for a step that has one).
        var isMeasurement: Bool { ![.rows, .window, .crossRows, .chiNetStderr].contains(self) }
    }

    /// Whose spelling a key is: spectop's own (the record's fields, the probe's
    /// `log_to` default), the paper authors' tool's (zincware/perspic, whose
    /// `chi_loss` and `chi_net` are batch-normalised: n·χ_loss and χ_net/n, with
    /// n its `batch_size`), or both.
    package enum Scheme: String, Sendable { case spectop, perspic, both }

    package struct Entry: Sendable {
        package var key: String
        package var field: Field
        package var scheme: Scheme
        package var meaning: String
    }

    /// The table. Order is the documentation's order.
    package static let table: [Entry] = [
        Entry(key: "loss", field: .loss, scheme: .both, meaning: "L, the probe-set loss"),
        Entry(key: "chi_loss", field: .chiLoss, scheme: .both, meaning: "χ_loss = ‖g‖² (perspic: n·χ_loss)"),
        Entry(key: "chi_net", field: .chiNet, scheme: .both, meaning: "χ_net = Tr Θ (perspic: χ_net/n)"),
        Entry(key: "chi_pos", field: .chiPos, scheme: .spectop, meaning: "χ_pos"),
        Entry(key: "chi_coup", field: .chiPos, scheme: .perspic, meaning: "χ_pos"),
        Entry(key: "grad_sq", field: .gradSq, scheme: .spectop, meaning: "‖∇L‖² = gᵀΘg"),
        Entry(key: "grad_norm_squared", field: .gradSq, scheme: .perspic, meaning: "‖∇L‖² = gᵀΘg"),
        Entry(key: "chi_net_stderr", field: .chiNetStderr, scheme: .spectop, meaning: "a Hutchinson χ_net's standard error"),
        Entry(key: "rows", field: .rows, scheme: .spectop, meaning: "n, the rows the loss averages over"),
        Entry(key: "batch_size", field: .rows, scheme: .perspic, meaning: "n, the rows the loss averages over"),
        Entry(key: "window", field: .window, scheme: .spectop, meaning: "the log-schedule window's centre step"),
        // perspic's `logarithmic_windows` is the schedule spectop's log schedule copies (docs/METHOD.md):
        // its `window_center` is the centre of the window the step belongs to, later windows winning, as `window`.
        Entry(key: "window_center", field: .window, scheme: .perspic, meaning: "the log-schedule window's centre step"),
        Entry(key: "cross_loss", field: .crossLoss, scheme: .both, meaning: "the loss on batch B"),
        Entry(key: "cross_grad_dot", field: .crossGradDot, scheme: .spectop, meaning: "δL(A,B) = ∇L_Bᵀ∇L_A"),
        Entry(key: "cross_grad_sq", field: .crossGradDot, scheme: .spectop, meaning: "δL(A,B) (the probe's log_to name)"),
        Entry(key: "cross_grad_dot_product", field: .crossGradDot, scheme: .perspic, meaning: "δL(A,B)"),
        Entry(key: "cross_chi_loss", field: .crossChiLoss, scheme: .both, meaning: "χ_loss^AB (perspic: √(|A||B|)·χ_loss^AB)"),
        Entry(key: "cross_chi_net", field: .crossChiNet, scheme: .both, meaning: "χ_net^AB (perspic: χ_net^AB/√(|A||B|))"),
        Entry(key: "cross_chi_pos", field: .crossChiPos, scheme: .spectop, meaning: "χ_pos^AB"),
        Entry(key: "cross_chi_coup", field: .crossChiPos, scheme: .perspic, meaning: "χ_pos^AB"),
        Entry(key: "cross_rows", field: .crossRows, scheme: .spectop, meaning: "|B|"),
        Entry(key: "cross_batch_size", field: .crossRows, scheme: .perspic, meaning: "|B|"),
    ]

    /// Keys every user of these tools logs that are no step field, kept as
    /// user scalars (charts in the panels, `user:` columns in the CSV), with why.
    package static let keptAsScalars: [(key: String, reason: String)] = [
        ("analysis_step", "perspic's count of measurements; the step comes from the log's own step"),
        ("window_id", "perspic's index of the step's window, counted from 0; the window itself is window_center"),
        ("window_width", "the steps in perspic's window: a schedule setting, which a step line does not carry"),
        ("epoch", "Lightning's epoch"),
        ("hp_metric", "Lightning's hyper-parameter metric"),
        ("lambda_eff", "a spectrum line needs its eigenvalues, which a scalar log does not carry"),
        ("r_eff", "a spectrum line needs its eigenvalues, which a scalar log does not carry"),
        ("r_eff_uncertainty", "a spectrum line needs its eigenvalues, which a scalar log does not carry"),
        ("effective_rank", "a spectrum line needs its eigenvalues, which a scalar log does not carry"),
        ("chi_pos_exact", "a spectrum line needs its eigenvalues, which a scalar log does not carry"),
    ]

    private static let byKey: [String: Entry] = Dictionary(table.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })

    /// Keys only perspic writes: a step that has one under a prefix is read in
    /// perspic's scheme (normalised χ_loss and χ_net) under that prefix.
    static let perspicOnlyKeys: Set<String> = Set(table.filter { $0.scheme == .perspic }.map(\.key)).union(["analysis_step"])

    /// The entry for `key` (no prefix), nil when it names no step field.
    package static func entry(_ key: String) -> Entry? { byKey[key] }

    /// `train/chi_net` → (`train/`, `chi_net`); `chi_net` → (``, `chi_net`).
    package static func split(_ tag: String) -> (prefix: Substring, key: Substring) {
        // On the UTF-8 view: `/` is one byte, and Character-wise search is what a 1 GB log spends its time on.
        guard let slash = tag.utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("", tag[...]) }
        let after = tag.utf8.index(after: slash)
        return (tag[..<after], tag[after...])
    }

    /// Why a kept-as-scalar key is not a step field, nil for a key no table knows.
    package static func reasonKept(_ key: String) -> String? { keptAsScalars.first { $0.key == key }?.reason }
}
