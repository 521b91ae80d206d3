/// Why a theme could not be used, naming the file and line so the user can fix it.
public struct ThemeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The theme file (or the theme name when no file was found).
    public var source: String
    /// 1-based line of the problem; nil when it is not about one line.
    public var line: Int?
    public var message: String

    public init(source: String, line: Int?, message: String) {
        self.source = source; self.line = line; self.message = message
    }

    public var description: String {
        if let line { return "theme \(source), line \(line): \(message); using the default theme" }
        return "theme \(source): \(message); using the default theme"
    }
}
