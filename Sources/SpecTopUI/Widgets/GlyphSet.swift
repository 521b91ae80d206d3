/// The characters and labels the widgets draw with: block eighths, braille and
/// Greek letters on a UTF-8 terminal, plain ASCII everywhere else, so nothing
/// prints as mojibake under `LANG=C`.
public struct GlyphSet: Sendable, Equatable {
    /// True for the Unicode set (block eighths, braille, box drawing, Greek).
    public let isUnicode: Bool
    /// Vertical fill of a cell in eighths: index 0 is 1/8, index 7 a full cell.
    public let verticalEighths: [Unicode.Scalar]
    /// Horizontal fill of a cell in eighths, left-aligned; index 7 is full.
    public let horizontalEighths: [Unicode.Scalar]
    public let horizontalLine: Unicode.Scalar
    public let verticalLine: Unicode.Scalar
    public let topLeft: Unicode.Scalar
    public let topRight: Unicode.Scalar
    public let bottomLeft: Unicode.Scalar
    public let bottomRight: Unicode.Scalar
    /// Points at λ_eff's bin under a histogram.
    public let marker: Unicode.Scalar
    /// Marks the selected model in lists and legends.
    public let pointer: Unicode.Scalar
    /// Per-series plot glyphs (the compare view's ASCII fallback and scatter plots).
    public let seriesGlyphs: [Unicode.Scalar]
    /// Dot for fitted lines on plots.
    public let fitDot: Unicode.Scalar
    /// True when charts may use braille cells (2x4 dots per cell).
    public internal(set) var braille: Bool
    public let chiNet: String
    public let chiPos: String
    public let chiLoss: String
    public let lambdaEff: String
    /// Multiplication sign for amplification (`×1.84`).
    public let times: String
    /// Label of the near-zero eigenvalue bin.
    public let approxZero: String
    public let ellipsis: String
    /// Superscript two for R².
    public let rSquared: String
    public let proportional: String

    /// UTF-8 terminals.
    public static let unicode = GlyphSet(
        isUnicode: true,
        verticalEighths: ["\u{2581}", "\u{2582}", "\u{2583}", "\u{2584}", "\u{2585}", "\u{2586}", "\u{2587}", "\u{2588}"],
        horizontalEighths: ["\u{258F}", "\u{258E}", "\u{258D}", "\u{258C}", "\u{258B}", "\u{258A}", "\u{2589}", "\u{2588}"],
        horizontalLine: "\u{2500}", verticalLine: "\u{2502}",
        topLeft: "\u{250C}", topRight: "\u{2510}", bottomLeft: "\u{2514}", bottomRight: "\u{2518}",
        marker: "\u{25B2}", pointer: "\u{25B6}",
        seriesGlyphs: ["\u{25CF}", "\u{25A0}", "\u{25B2}", "\u{25C6}", "\u{25CB}", "\u{25A1}", "\u{25B3}", "\u{25C7}", "+", "x", "*", "#"],
        fitDot: "\u{00B7}", braille: true,
        chiNet: "\u{03C7}_net", chiPos: "\u{03C7}_pos", chiLoss: "\u{03C7}_loss", lambdaEff: "\u{03BB}_eff",
        times: "\u{00D7}", approxZero: "\u{2248}0", ellipsis: "\u{2026}", rSquared: "R\u{00B2}", proportional: "\u{221D}")

    /// Any other locale, or `--ascii`.
    public static let ascii = GlyphSet(
        isUnicode: false,
        verticalEighths: ["_", ".", "-", "~", "=", "+", "*", "#"],
        horizontalEighths: [".", ".", ":", ":", "=", "=", "#", "#"],
        horizontalLine: "-", verticalLine: "|",
        topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+",
        marker: "^", pointer: ">",
        seriesGlyphs: ["*", "o", "+", "x", "#", "@", "%", "&", "=", "~", "$", "s"],
        fitDot: ".", braille: false,
        chiNet: "chi_net", chiPos: "chi_pos", chiLoss: "chi_loss", lambdaEff: "lam_eff",
        times: "x", approxZero: "~0", ellipsis: "~", rSquared: "R^2", proportional: "~")

    /// The set for a terminal whose locale reports `codeset` (from
    /// `nl_langinfo(CODESET)` after `setlocale(LC_ALL, "")`).
    public static func detect(codeset: String?, forceASCII: Bool = false) -> GlyphSet {
        guard !forceASCII, let codeset else { return .ascii }
        let normalised = codeset.uppercased().filter { $0 != "-" }
        return normalised == "UTF8" ? .unicode : .ascii
    }

    /// The glyph for `eighths` (1...8) of vertical fill; nil for 0.
    public func vertical(_ eighths: Int) -> Unicode.Scalar? {
        guard eighths > 0 else { return nil }
        return verticalEighths[min(eighths, 8) - 1]
    }

    /// The glyph for `eighths` (1...8) of horizontal fill; nil for 0.
    public func horizontal(_ eighths: Int) -> Unicode.Scalar? {
        guard eighths > 0 else { return nil }
        return horizontalEighths[min(eighths, 8) - 1]
    }

    /// The plot glyph of the `index`-th series (wraps around).
    public func seriesGlyph(_ index: Int) -> Unicode.Scalar {
        seriesGlyphs[((index % seriesGlyphs.count) + seriesGlyphs.count) % seriesGlyphs.count]
    }
}
