/// One row of the key table: the keys, what they do, and how the help overlay
/// and footer describe them.
public struct KeyBinding: Sendable {
    public var keys: [Key]
    public var action: MonitorAction
    /// The help overlay's description.
    public var summary: String
    /// The footer's short description; nil keeps the binding out of the footer.
    public var footer: String?

    public init(_ keys: [Key], _ action: MonitorAction, _ summary: String, footer: String? = nil) {
        self.keys = keys; self.action = action; self.summary = summary; self.footer = footer
    }

    /// The keys as shown to the user: `q/Ctrl-C`.
    public var keyLabel: String { keys.map(\.label).joined(separator: "/") }
}
