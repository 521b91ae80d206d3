/// What every quantity on the monitor's screen means and what to look for:
/// one table for the second page of `?` and the README's glossary (a test
/// holds the README to `markdown`), so the two cannot drift apart.
public enum Glossary {
    public struct Entry: Sendable, Equatable {
        /// The name as the screen shows it (Unicode) and in the ASCII glyph set.
        public var term: String
        public var asciiTerm: String
        /// One line: what it is, and what to look for.
        public var meaning: String
    }

    public static let entries: [Entry] = [
        Entry(term: "loss", asciiTerm: "loss",
              meaning: "the loss on the fixed probe set; falls as the model learns"),
        Entry(term: "χ_loss", asciiTerm: "chi_loss",
              meaning: "‖∂L/∂f‖², how hard the loss pulls on the outputs; n×χ_loss is its normalised form"),
        Entry(term: "χ_net", asciiTerm: "chi_net",
              meaning: "Tr Θ, the network's scale: constant in a frozen model, rising in an active one (feature learning)"),
        Entry(term: "χ_net/n", asciiTerm: "chi_net/n",
              meaning: "χ_net per probe row (key n): compares across probe sizes; the product with n×χ_loss is unchanged"),
        Entry(term: "χ_pos", asciiTerm: "chi_pos",
              meaning: "spectral position in [0, 1]: high while the error sits in the top eigenmodes, falling as learning reaches the tail"),
        Entry(term: "cross χ_pos", asciiTerm: "cross chi_pos",
              meaning: "the same between the probe and a second batch B, in [-1, 1]; below 0 a step on the probe raises B's loss (interference)"),
        Entry(term: "λ_eff", asciiTerm: "lam_eff",
              meaning: "χ_pos × χ_net, the eigenvalue the error effectively sees; the ▲ under the histogram"),
        Entry(term: "r_eff", asciiTerm: "r_eff",
              meaning: "the share of eigenvalues at or above λ_eff: how far into the spectrum the error reaches"),
        Entry(term: "reach", asciiTerm: "reach",
              meaning: "the smallest χ_pos so far; larger models reach lower"),
        Entry(term: "amp", asciiTerm: "amp",
              meaning: "χ_net now / χ_net at the start (or at a live freeze): ×1 frozen, growing when features learn"),
        Entry(term: "~", asciiTerm: "~",
              meaning: "an estimate: a Hutchinson χ_net, or a matrix-free spectrum beyond its exact top eigenvalues"),
        Entry(term: "±", asciiTerm: "+-",
              meaning: "an estimate's uncertainty: χ_net's standard error, r_eff's and the counts' ~95% half-width"),
    ]

    /// The README's glossary table.
    public static var markdown: String {
        (["| on screen | meaning |", "|---|---|"] + entries.map { "| `\($0.term)` | \($0.meaning) |" }).joined(separator: "\n") + "\n"
    }

    /// An entry's term and meaning in the glyph set's alphabet.
    static func text(_ entry: Entry, unicode: Bool) -> (term: String, meaning: String) {
        guard !unicode else { return (entry.term, entry.meaning) }
        var meaning = entry.meaning
        for (symbol, ascii) in [("χ_", "chi_"), ("λ_", "lam_"), ("‖", "|"), ("∂", "d"), ("²", "^2"), ("×", "x"), ("Θ", "Theta"), ("▲", "^"), ("±", "+-")] {
            meaning = meaning.replacingOccurrences(of: symbol, with: ascii)
        }
        return (entry.asciiTerm, meaning)
    }
}
