/// A named mapping from colour roles to colours, parsed from a small text file
/// (`role = #rrggbb` lines, `#` comments); see `themes/` for examples.
public struct Theme: Sendable, Equatable {
    public var name: String
    /// Every role has a colour: keys a file leaves out come from the default theme.
    public private(set) var colors: [ColorRole: ThemeColor]

    public init(name: String, colors: [ColorRole: ThemeColor]) {
        self.name = name
        var complete = colors
        for role in ColorRole.allCases where complete[role] == nil {
            complete[role] = Theme.builtinDefaultColors[role] ?? .terminalDefault
        }
        self.colors = complete
    }

    /// The colour of `role`.
    public func color(for role: ColorRole) -> ThemeColor {
        colors[role] ?? .terminalDefault
    }

    /// True when no role has a colour of its own: the backend then marks the
    /// roles with attributes instead, as on a terminal without colour.
    public var isMonochrome: Bool {
        colors.values.allSatisfy { $0 == .terminalDefault }
    }

    /// The built-in default theme.
    public static let `default`: Theme = builtin(named: "default") ?? Theme(name: "default", colors: [:])

    /// The names of the themes compiled into the binary, in `t` order.
    public static var builtinNames: [String] { BuiltinThemes.names }

    /// A built-in theme by name; nil if there is none.
    public static func builtin(named name: String) -> Theme? {
        guard let text = BuiltinThemes.text(named: name) else { return nil }
        switch parse(text, name: name, source: "\(name).theme (built in)") {
        case .success(let theme): return theme
        // A broken built-in theme is a programmer error the theme tests catch.
        case .failure(let error): fatalError("\(error)")
        }
    }

    /// Parses theme text. Unknown keys are ignored (newer roles in older
    /// binaries); a line without `=` or with a colour that is neither
    /// `#rrggbb` nor `default` is an error naming `source` and the line.
    public static func parse(_ text: String, name: String, source: String) -> Result<Theme, ThemeError> {
        parseColors(text, source: source).map { Theme(name: name, colors: $0) }
    }

    /// The role colours a theme text sets, without falling back.
    private static func parseColors(_ text: String, source: String) -> Result<[ColorRole: ThemeColor], ThemeError> {
        var colors: [ColorRole: ThemeColor] = [:]
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingSpaces()
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let equals = line.firstIndex(of: "=") else {
                return .failure(ThemeError(source: source, line: lineNumber, message: "expected \"role = #rrggbb\", found \"\(line)\""))
            }
            let key = String(line[..<equals]).trimmingSpaces().lowercased()
            let value = stripTrailingComment(String(line[line.index(after: equals)...]).trimmingSpaces())
            guard !key.isEmpty else {
                return .failure(ThemeError(source: source, line: lineNumber, message: "missing role name before \"=\""))
            }
            let color: ThemeColor
            if value.lowercased() == "default" {
                color = .terminalDefault
            } else if let rgb = RGBColor(hex: value) {
                color = .rgb(rgb)
            } else {
                return .failure(ThemeError(source: source, line: lineNumber, message: "bad colour \"\(value)\" for \(key) (expected #rrggbb or default)"))
            }
            guard let role = ColorRole(rawValue: key) else { continue }
            colors[role] = color
        }
        return .success(colors)
    }

    /// The default theme's colours, parsed without falling back (it defines every role).
    private static let builtinDefaultColors: [ColorRole: ThemeColor] = {
        guard case .success(let colors) = parseColors(BuiltinThemes.defaultText, source: "default.theme") else { return [:] }
        return colors
    }()

    /// A value without its trailing comment: `#f0a030  # amber` gives `#f0a030`.
    private static func stripTrailingComment(_ value: String) -> String {
        guard let space = value.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return value }
        let rest = value[space...].trimmingSpaces()
        // Anything after the colour other than a comment stays, so it is reported.
        return rest.hasPrefix("#") ? String(value[..<space]) : value
    }
}
