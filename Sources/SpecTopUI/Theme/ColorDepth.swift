/// How many colours the terminal can show, after honouring NO_COLOR.
public enum ColorDepth: Sendable, Hashable, CaseIterable {
    /// Monochrome: roles are shown with attributes only.
    case none
    case ansi8
    case ansi16
    case ansi256

    /// The depth for a terminal reporting `colors` colours. Any value of
    /// NO_COLOR (https://no-color.org), even empty, turns colour off.
    public static func detect(hasColors: Bool, colors: Int, noColor: String?) -> ColorDepth {
        guard hasColors, noColor == nil else { return .none }
        if colors >= 256 { return .ansi256 }
        if colors >= 16 { return .ansi16 }
        if colors >= 8 { return .ansi8 }
        return .none
    }
}
