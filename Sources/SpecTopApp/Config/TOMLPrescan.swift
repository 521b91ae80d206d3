import SpecTopReaders
/// Rejects characters that TOML forbids outside strings and comments before
/// the text reaches toml++, whose parser aborts the process (an assertion,
/// even in release builds) on some of them, e.g. `[` followed by U+FFFD.
/// Also checks that a table header starts with a key (toml++ asserts on
/// `[}a]`) and that no array element starts with `}` (it asserts on
/// `a = [1, }]`). Found by the fuzz test in RecordTests.
package enum TOMLPrescan {
    /// Throws a `file:line:column` syntax error for the first such character.
    package static func check(_ text: String, file: String) throws {
        enum Mode { case code, comment, basic, literal, multiBasic, multiLiteral }
        var mode = Mode.code
        var line = 1, column = 0
        var lineHasContent = false
        var valueDepth = 0  // open `[` of array values (headers do not count)
        var lastSignificant: Unicode.Scalar = "\n"  // last non-blank code character
        func isKeyStart(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-" || c == "\"" || c == "'"
        }
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func starts(with s: String) -> Bool {
            let pattern = Array(s.unicodeScalars)
            guard i + pattern.count <= scalars.count else { return false }
            return Array(scalars[i..<(i + pattern.count)]) == pattern
        }
        func fail(_ scalar: Unicode.Scalar) -> ConfigError {
            let name = String(format: "U+%04X", scalar.value)
            return ConfigError("\(file):\(line):\(column): TOML syntax error: unexpected character \(name)")
        }
        while i < scalars.count {
            let c = scalars[i]
            column += 1
            if c == "\n" {
                line += 1
                column = 0
                lineHasContent = false
                if mode == .comment || mode == .basic || mode == .literal { mode = .code }
                i += 1
                continue
            }
            // Control characters are invalid everywhere in TOML except tab (and CR before LF).
            if c.value < 0x20 && c != "\t" && c != "\r" || c.value == 0x7F { throw fail(c) }
            switch mode {
            case .code:
                if c.value > 0x7E { throw fail(c) }
                let startsLine = !lineHasContent
                if c != " " && c != "\t" { lineHasContent = true }
                if c == "[" && valueDepth == 0 && startsLine {
                    // A table header: `[` or `[[`, optional blanks, then a key.
                    var j = i + 1
                    if j < scalars.count && scalars[j] == "[" { j += 1 }
                    while j < scalars.count && (scalars[j] == " " || scalars[j] == "\t") { j += 1 }
                    if j >= scalars.count || !isKeyStart(scalars[j]) {
                        throw ConfigError("\(file):\(line):\(column + j - i): TOML syntax error: expected a table name after '['")
                    }
                    column += j - i - 1
                    i = j
                    continue
                }
                if c == "}" && valueDepth > 0 && (lastSignificant == "[" || lastSignificant == ",") {
                    throw ConfigError("\(file):\(line):\(column): TOML syntax error: expected a value in the array, saw '}'")
                }
                if c == "[" { valueDepth += 1 } else if c == "]" && valueDepth > 0 { valueDepth -= 1 }
                if c != " " && c != "\t" && c != "\r" && c != "#" { lastSignificant = c }
                if c == "#" { mode = .comment }
                else if starts(with: "\"\"\"") { mode = .multiBasic; i += 3; column += 2; continue }
                else if starts(with: "'''") { mode = .multiLiteral; i += 3; column += 2; continue }
                else if c == "\"" { mode = .basic }
                else if c == "'" { mode = .literal }
            case .comment:
                break
            case .basic:
                if c == "\\" { i += 2; column += 1; continue }
                if c == "\"" { mode = .code }
            case .literal:
                if c == "'" { mode = .code }
            case .multiBasic:
                if c == "\\" { i += 2; column += 1; continue }
                if starts(with: "\"\"\"") { mode = .code; i += 3; column += 2; continue }
            case .multiLiteral:
                if starts(with: "'''") { mode = .code; i += 3; column += 2; continue }
            }
            i += 1
        }
    }
}

import Foundation
