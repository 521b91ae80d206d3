/// The colour a theme gives a role.
public enum ThemeColor: Sendable, Hashable {
    /// The terminal's own foreground or background (written `default`): keeps
    /// light and dark terminals readable without painting over them.
    case terminalDefault
    case rgb(RGBColor)
}
