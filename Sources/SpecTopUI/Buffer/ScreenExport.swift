import Foundation

/// The screen as a file (`w` in the monitor): plain text, and an SVG with the
/// theme's colours, so a frame can go into a paper, a slide or an issue.
public enum ScreenExport {
    /// Every row, trailing spaces removed.
    public static func text(_ buffer: CellBuffer) -> String {
        buffer.lines.map { line in
            var trimmed = line
            while trimmed.last == " " { trimmed.removeLast() }
            return trimmed
        }.joined(separator: "\n") + "\n"
    }

    /// One `<text>` per row, a `<tspan>` per run of cells with the same role
    /// and attributes, on the theme's background (white where the theme keeps
    /// the terminal's own, black text likewise).
    public static func svg(_ buffer: CellBuffer, theme: Theme) -> String {
        let cellWidth = 8.4, cellHeight = 17.0
        func hex(_ color: ThemeColor, fallback: String) -> String {
            if case .rgb(let rgb) = color { return rgb.description } else { return fallback }
        }
        let background = hex(theme.color(for: .background), fallback: "#ffffff")
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Double(buffer.width) * cellWidth))" height="\(Int(Double(buffer.height) * cellHeight))" \
            font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">
            <rect width="100%" height="100%" fill="\(background)"/>

            """
        for y in 0..<buffer.height {
            out += "<text x=\"0\" y=\"\(String(format: "%.1f", Double(y + 1) * cellHeight - 4))\" xml:space=\"preserve\">"
            var x = 0
            while x < buffer.width {
                let first = buffer[x, y]
                var run = ""
                while x < buffer.width, buffer[x, y].role == first.role, buffer[x, y].attributes == first.attributes {
                    run.unicodeScalars.append(buffer[x, y].character)
                    x += 1
                }
                let fill = hex(theme.color(for: first.role), fallback: "#000000")
                let weight = first.attributes.contains(.bold) ? " font-weight=\"bold\"" : ""
                out += "<tspan fill=\"\(fill)\"\(weight)>\(escape(run))</tspan>"
            }
            out += "</text>\n"
        }
        return out + "</svg>\n"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(scalar.value < 0x20 ? " " : scalar)
            }
        }
        return out
    }

    /// Writes `spectop-screen-<date>-<time>.txt` and `.svg` into `directory`,
    /// never over an existing file (`-2`, `-3`… when the name is taken).
    /// Returns the text file's path, or throws with the reason.
    public static func save(_ buffer: CellBuffer, theme: Theme, in directory: String, now: Date = Date()) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let base = (directory as NSString).appendingPathComponent("spectop-screen-\(formatter.string(from: now))")
        var n = 1
        while true {
            let stem = n == 1 ? base : "\(base)-\(n)"
            let textPath = stem + ".txt"
            let fd = open(textPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd < 0 {
                if errno == EEXIST { n += 1; continue }
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: textPath,
                                                                    NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
            let data = Array(text(buffer).utf8)
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == data.count else { throw CocoaError(.fileWriteOutOfSpace) }
            let svgPath = stem + ".svg"
            if !FileManager.default.fileExists(atPath: svgPath) {
                try Data(svg(buffer, theme: theme).utf8).write(to: URL(fileURLWithPath: svgPath), options: .withoutOverwriting)
            }
            return textPath
        }
    }
}
