/// Text from a record (model ids, run names, notes, messages) made safe to put
/// into the report's HTML and inline SVG, as element text or a quoted
/// attribute value: a model named `<script>` must show as that text, never
/// become markup.
package enum HTMLText {
    /// `&`, `<`, `>`, `"` and `'` as character references; C0 and C1 control
    /// characters and DEL (which HTML forbids, and which a terminal would
    /// obey) as a visible `\u{1b}` escape; a tab or newline as a space.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out += " "
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
