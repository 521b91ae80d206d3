import Foundation

/// A minimal JSON value writer for record lines: key order as given (so
/// `type` comes first and lines stay readable with `tail -f`), non-finite
/// numbers as null, numbers in Swift's shortest round-trip form.
public struct JSONLine {
    private var text = "{"
    private var first = true

    public init() {}

    private mutating func key(_ name: String) {
        if !first { text += "," }
        first = false
        text += JSONLine.quote(name) + ":"
    }

    public mutating func add(_ name: String, _ value: String) { key(name); text += JSONLine.quote(value) }
    public mutating func add(_ name: String, _ value: Int) { key(name); text += String(value) }
    public mutating func add(_ name: String, _ value: Bool) { key(name); text += value ? "true" : "false" }
    public mutating func add(_ name: String, _ value: Double?) { key(name); text += JSONLine.number(value) }
    public mutating func add(_ name: String, numbers: [Double]) {
        key(name)
        text += "[" + numbers.map { JSONLine.number($0) }.joined(separator: ",") + "]"
    }
    /// Inserts pre-encoded JSON (an object or array).
    public mutating func add(_ name: String, raw: String) { key(name); text += raw }

    public var line: String { text + "}" }

    public static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // DEL and C1 too: `claims --json` prints ids from files on a
                // terminal, where a raw U+009B would start a control sequence.
                if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
