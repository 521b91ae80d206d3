import Foundation

/// Finds and loads a theme by name or path. Errors come back as values beside
/// a usable theme (the default), so the monitor can show them and carry on.
public enum ThemeLoader {
    /// A theme ready to use, and the problem that made it fall back, if any.
    public struct Result: Sendable {
        public var theme: Theme
        public var error: ThemeError?
    }

    /// Loads `nameOrPath`:
    /// - a path (contains `/` or ends in `.theme`): that file;
    /// - a name: `$XDG_CONFIG_HOME/spectop/themes/NAME.theme` (or
    ///   `~/.config/...`) when that file exists, else the built-in theme.
    public static func load(_ nameOrPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Result {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".theme") {
            return loadFile(atPath: nameOrPath)
        }
        if let path = userThemePath(named: nameOrPath, environment: environment), FileManager.default.fileExists(atPath: path) {
            return loadFile(atPath: path)
        }
        if let theme = Theme.builtin(named: nameOrPath) {
            return Result(theme: theme, error: nil)
        }
        let known = Theme.builtinNames.joined(separator: ", ")
        return Result(theme: .default, error: ThemeError(source: nameOrPath, line: nil, message: "no such theme (built in: \(known))"))
    }

    /// Parses the theme file at `path`; the theme is named after the file.
    public static func loadFile(atPath path: String) -> Result {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Result(theme: .default, error: ThemeError(source: path, line: nil, message: "cannot read the file"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return Result(theme: .default, error: ThemeError(source: path, line: nil, message: "not UTF-8 text"))
        }
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        switch Theme.parse(text, name: name, source: path) {
        case .success(let theme): return Result(theme: theme, error: nil)
        case .failure(let error): return Result(theme: .default, error: error)
        }
    }

    /// Where a user theme called `name` lives, following the XDG base directory spec.
    public static func userThemePath(named name: String, environment: [String: String]) -> String? {
        let base: String
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            base = xdg
        } else if let home = environment["HOME"], !home.isEmpty {
            base = home + "/.config"
        } else {
            return nil
        }
        return base + "/spectop/themes/" + name + ".theme"
    }
}
