/// What the terminal reported between frames.
enum TerminalInput: Equatable {
    case key(Key)
    /// The window size changed (KEY_RESIZE).
    case resize
    /// A click, double click or wheel turn at a cell.
    case mouse(MouseEvent)
}
