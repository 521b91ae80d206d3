import SpecTopRecord

/// The paper's claims on what the monitor shows (`v` to this view): the same
/// conditions as `spectop claims`, evaluated on every model's history as it
/// stands — live, in replay at the cursor, in watch as lines arrive — with a
/// verdict per claim and the numbers of each condition.
public struct ClaimsView: Sendable {
    public var snapshot: EngineSnapshot
    public var state: MonitorState

    /// Smallest body the claim lines stay readable in.
    public static let minimumSize = (width: 50, height: 12)

    public init(snapshot: EngineSnapshot, state: MonitorState) {
        self.snapshot = snapshot; self.state = state
    }

    /// The report the view draws.
    package var report: ClaimsReport { ClaimsEvaluator.evaluate(snapshot.models) }

    /// The verdict as the screen shows it.
    static func mark(_ verdict: ClaimsReport.Verdict, glyphs: GlyphSet) -> (text: String, role: ColorRole) {
        switch verdict {
        case .holds: return (glyphs.isUnicode ? "✓ holds" : "+ holds", .active)
        case .fails: return (glyphs.isUnicode ? "✗ fails" : "x fails", .warning)
        case .notApplicable: return ("  n/a", .muted)
        }
    }

    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        buffer.fill(area, with: .blank)
        guard area.width >= 20, area.height >= 3 else { return }
        let report = self.report
        var y = area.y
        let x = area.x + 1, width = area.width - 2
        func line(_ text: String, role: ColorRole = .text, attributes: CellAttributes = [], indent: Int = 0) {
            // Long conditions wrap; what does not fit the view is left out, the claims first.
            for row in WrappedText.rows(text, width: max(1, width - indent), maxRows: 3, ellipsis: glyphs.ellipsis) where y < area.maxY {
                buffer.put(row, x: x + indent, y: y, role: role, attributes: attributes, maxWidth: width - indent)
                y += 1
            }
        }
        let source: String
        switch state.mode {
        case .live: source = "as the run goes"
        case .replay: source = "at the replay's cursor"
        case .watch: source = "as the records grow"
        }
        line("the paper's claims on what is on screen, \(source) (spectop claims on a record checks the same conditions)",
             role: .muted)
        y += 1
        for row in report.rows where y < area.maxY {
            let mark = ClaimsView.mark(row.verdict, glyphs: glyphs)
            buffer.put(mark.text, x: x, y: y, role: mark.role, attributes: .bold)
            buffer.put("\(row.number)  \(row.title)", x: x + 9, y: y, role: .text, attributes: .bold, maxWidth: width - 9)
            y += 1
            if let reason = row.reason { line(reason, role: .muted, indent: 12) }
            // Failing conditions first, so their numbers are on screen whatever the height.
            for condition in row.conditions.sorted(by: { !$0.pass && $1.pass }) {
                line(ClaimsEvaluator.describe(condition), role: condition.pass ? .muted : .warning, indent: 12)
            }
            for note in row.notes { line("(" + note + ")", role: .muted, indent: 12) }
        }
        if y < area.maxY - 1 && !report.notes.isEmpty {
            y += 1
            for note in report.notes { line("note: " + note, role: .muted) }
        }
    }
}
