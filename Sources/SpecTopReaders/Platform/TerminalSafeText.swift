/// Makes user-supplied text safe to print on a terminal.
///
/// Config values, CSV headers, file names and record fields end up in error
/// messages and in `claims` output. Printed raw, an ESC or OSC sequence in
/// them could clear the screen, retitle the window or (OSC 52) write the
/// clipboard. Every C0 and C1 control character and DEL is shown as a visible
/// escape instead; `line` also folds line breaks so a message stays one line.
package enum TerminalSafeText {
    /// `text` with control characters escaped (`\e`, `\u{9b}`) and newlines,
    /// tabs and carriage returns kept only as single spaces: one line.
    package static func line(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\t" {
                pendingSpace = true
                continue
            }
            if pendingSpace {
                if let last = out.unicodeScalars.last, last != " " { out.unicodeScalars.append(" ") }
                pendingSpace = false
            }
            appendEscaped(scalar, to: &out)
        }
        return out
    }

    /// `text` with control characters escaped but line breaks kept (for
    /// multi-line reports such as the claims table).
    package static func lines(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar == "\n" { out.unicodeScalars.append(scalar) } else { appendEscaped(scalar, to: &out) }
        }
        return out
    }

    /// True when `scalar` would be interpreted by a terminal rather than shown.
    package static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, to out: inout String) {
        guard isControl(scalar) else {
            out.unicodeScalars.append(scalar)
            return
        }
        if scalar == "\u{1B}" {
            out += "\\e"
        } else if scalar == "\t" {
            out += "\\t"
        } else {
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        }
    }
}
