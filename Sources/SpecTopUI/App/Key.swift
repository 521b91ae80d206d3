/// A key press, independent of ncurses so the state machine can be tested
/// without a terminal.
public enum Key: Sendable, Hashable {
    case character(Character)
    case enter
    case escape
    case tab
    case backTab
    case up
    case down
    case left
    case right
    case home
    case end
    case pageUp
    case pageDown
    /// Ctrl-C when the terminal passes it as a key rather than SIGINT.
    case controlC
    case backspace

    /// The name shown in the help overlay and footer (ASCII, so it reads
    /// under any locale).
    public var label: String {
        switch self {
        case .character(" "): return "space"
        case .character(let c): return String(c)
        case .enter: return "Enter"
        case .escape: return "Esc"
        case .tab: return "Tab"
        case .backTab: return "S-Tab"
        case .up: return "Up"
        case .down: return "Down"
        case .left: return "Left"
        case .right: return "Right"
        case .home: return "Home"
        case .end: return "End"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .controlC: return "Ctrl-C"
        case .backspace: return "Backspace"
        }
    }
}
