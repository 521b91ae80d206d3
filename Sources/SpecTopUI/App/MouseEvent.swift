/// A mouse event at a cell, independent of ncurses so the controller can be
/// tested without a terminal.
public struct MouseEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case click, doubleClick, wheelUp, wheelDown
    }

    public var kind: Kind
    public var x: Int
    public var y: Int

    public init(_ kind: Kind, x: Int, y: Int) {
        self.kind = kind; self.x = x; self.y = y
    }
}
