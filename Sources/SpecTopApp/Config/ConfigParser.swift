import SpecTopReaders
import SpectralCore
import TOMLKit

/// Reads experiment files (TOML, via TOMLKit) into `ExperimentConfig` and
/// writes them back.
package enum ConfigParser {
    /// Parses `text`; `file` names the source in messages.
    package static func parse(_ text: String, file: String) throws -> ExperimentConfig {
        try TOMLPrescan.check(text, file: file)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(file):\(error.source.begin.line):\(error.source.begin.column): TOML syntax error: \(error.description)")
        } catch {
            throw ConfigError("\(file): TOML syntax error: \(error)")
        }
        var config = ExperimentConfig()
        for key in table.keys {
            let value = table[key]!
            if ConfigKey.sections.contains(key) {
                guard let section = value.table else {
                    throw ConfigError("\(file): '\(key)' must be a table ([\(key)]), got \(describe(value))")
                }
                for inner in section.keys {
                    try assign(&config, section: key, key: inner, value: section[inner]!, file: file)
                }
            } else {
                try assign(&config, section: "", key: key, value: value, file: file)
            }
        }
        return config
    }

    /// The closest known key to `name` (edit distance), for "did you mean".
    package static func suggestion(for name: String, section: String) -> String? {
        let candidates = ConfigKey.all.map { (key: $0, distance: editDistance(name, $0.name)) }
        guard let best = candidates.min(by: { a, b in
            a.distance != b.distance ? a.distance < b.distance : (a.key.section == section && b.key.section != section)
        }), best.distance <= max(2, name.count / 2) else { return nil }
        return best.key.section.isEmpty ? best.key.name : "[\(best.key.section)] \(best.key.name)"
    }

    package static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    private static func describe(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a number"
        case .bool: return "a boolean"
        case .array: return "a list"
        case .table: return "a table"
        default: return "a \(value.type)"
        }
    }

    private static func assign(_ config: inout ExperimentConfig, section: String, key: String,
                               value: TOMLValueConvertible, file: String) throws {
        guard let spec = ConfigKey.named(key, in: section) else {
            let hint = suggestion(for: key, section: section).map { "; did you mean \($0)?" } ?? ""
            let place = section.isEmpty ? "at the top level" : "in [\(section)]"
            throw ConfigError("\(file): unknown key '\(key)' \(place)\(hint)")
        }
        func wrongType() -> ConfigError {
            ConfigError("\(file): \(spec.qualifiedName) must be \(article(spec.kind)), got \(describe(value))")
        }
        let converted: ConfigValue
        switch spec.kind {
        case .integer:
            guard let v = value.int else { throw wrongType() }
            converted = .integer(v)
        case .float:
            guard let v = value.double ?? value.int.map(Double.init) else { throw wrongType() }
            converted = .float(v)
        case .string:
            guard let v = value.string else { throw wrongType() }
            converted = .string(v)
        case .bool:
            guard let v = value.bool else { throw wrongType() }
            converted = .bool(v)
        case .integerList:
            guard let array = value.array else { throw wrongType() }
            converted = .integers(try array.map { element in guard let i = element.int else { throw wrongType() }; return i })
        case .stringList:
            if let v = value.string {
                converted = .strings([v])
            } else {
                guard let array = value.array else { throw wrongType() }
                converted = .strings(try array.map { element in guard let s = element.string else { throw wrongType() }; return s })
            }
        case .floatList:
            if let v = value.double ?? value.int.map(Double.init) {
                converted = .floats([v])
            } else {
                guard let array = value.array else { throw wrongType() }
                converted = .floats(try array.map { element in
                    guard let d = element.double ?? element.int.map(Double.init) else { throw wrongType() }
                    return d
                })
            }
        }
        do { try spec.write(&config, converted) } catch { throw ConfigError("\(file): \(error.description)") }
    }

    private static func article(_ kind: ConfigKey.Kind) -> String {
        switch kind {
        case .integer: return "an integer"
        case .float: return "a number"
        case .string: return "a string"
        case .bool: return "true or false"
        case .integerList: return "a list of integers"
        case .stringList: return "a string or a list of strings"
        case .floatList: return "a number or a list of numbers"
        }
    }

    /// The TOML literal of a key's current value in `config`.
    package static func literal(_ key: ConfigKey, in config: ExperimentConfig) -> String {
        // A TOML basic string with every control character (C0, DEL, C1) as
        // \uXXXX: the printed file reads back to the same value, and a name
        // holding ESC or BEL never reaches the terminal raw.
        func quoted(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case _ where TerminalSafeText.isControl(scalar):
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        func number(_ x: Double) -> String {
            if x == x.rounded(), abs(x) < 1e15 { return String(format: "%.1f", x) }
            return "\(x)"
        }
        func list(_ items: [String]) -> String { items.count == 1 ? items[0] : "[" + items.joined(separator: ", ") + "]" }
        switch key.read(config) {
        case .integer(let v): return "\(v)"
        case .float(let v): return number(v)
        case .string(let v): return quoted(v)
        case .bool(let v): return v ? "true" : "false"
        case .integers(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .floats(let v): return list(v.map(number))
        case .strings(let v): return list(v.map(quoted))
        }
    }

    /// The whole configuration as a commented TOML file that parses back to
    /// the same value (`spectop run --print-config`).
    package static func render(_ config: ExperimentConfig) -> String {
        var lines = ["# spectop experiment file (README: \"Experiment files\")."]
        for section in [""] + ConfigKey.sections {
            if !section.isEmpty { lines.append(""); lines.append("[\(section)]") }
            for key in ConfigKey.all where key.section == section {
                let assignment = "\(key.name) = \(literal(key, in: config))"
                let padding = String(repeating: " ", count: max(1, 28 - assignment.count))
                lines.append(assignment + padding + "# " + key.help)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
