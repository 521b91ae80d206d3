/// One terminal cell: a single one-column character with its colour role and
/// attributes.
///
/// The character is stored as a `Unicode.Scalar` rather than a `Character`:
/// every glyph spectop draws is one scalar and one column wide, and a scalar
/// compares and converts to `wchar_t` cheaply when the backend diffs frames.
public struct Cell: Sendable, Hashable {
    public var character: Unicode.Scalar
    public var role: ColorRole
    public var attributes: CellAttributes

    public init(_ character: Unicode.Scalar = " ", role: ColorRole = .text, attributes: CellAttributes = []) {
        self.character = character
        self.role = role
        self.attributes = attributes
    }

    /// An empty cell in the text role.
    public static let blank = Cell()
}
