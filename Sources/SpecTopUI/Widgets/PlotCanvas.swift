/// A dot grid for charts: 2x4 braille dots per cell on a Unicode terminal, one
/// glyph per cell otherwise. Each cell takes the colour of the last series
/// that drew into it.
public struct PlotCanvas: Sendable {
    public let columns: Int
    public let rows: Int
    public let braille: Bool
    private var bits: [UInt8]
    private var glyphs: [Unicode.Scalar?]
    private var roles: [ColorRole]

    public init(columns: Int, rows: Int, braille: Bool) {
        self.columns = max(0, columns)
        self.rows = max(0, rows)
        self.braille = braille
        let count = self.columns * self.rows
        bits = Array(repeating: 0, count: count)
        glyphs = Array(repeating: nil, count: count)
        roles = Array(repeating: .text, count: count)
    }

    /// Dots across.
    public var dotWidth: Int { columns * (braille ? 2 : 1) }
    /// Dots down.
    public var dotHeight: Int { rows * (braille ? 4 : 1) }

    /// Sets the dot at (x, y), y counted from the top; outside dots are ignored.
    public mutating func set(x: Int, y: Int, role: ColorRole, glyph: Unicode.Scalar) {
        guard x >= 0, y >= 0, x < dotWidth, y < dotHeight else { return }
        if braille {
            let index = (y / 4) * columns + x / 2
            bits[index] |= PlotCanvas.brailleBit(column: x % 2, row: y % 4)
            roles[index] = role
        } else {
            let index = y * columns + x
            glyphs[index] = glyph
            roles[index] = role
        }
    }

    /// A straight line of dots from (x0, y0) to (x1, y1) (Bresenham).
    public mutating func line(x0: Int, y0: Int, x1: Int, y1: Int, role: ColorRole, glyph: Unicode.Scalar) {
        var x = x0, y = y0
        let dx = Swift.abs(x1 - x0), dy = -Swift.abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var error = dx + dy
        // Bound the walk so a pathological coordinate can never hang a frame.
        var guardSteps = dx - dy + 2
        while guardSteps > 0 {
            set(x: x, y: y, role: role, glyph: glyph)
            if x == x1 && y == y1 { break }
            let doubled = 2 * error
            if doubled >= dy { error += dy; x += sx }
            if doubled <= dx { error += dx; y += sy }
            guardSteps -= 1
        }
    }

    /// Copies the dots into `area` (top-left aligned); empty cells are left alone.
    public func render(into buffer: inout CellBuffer, area: Rect) {
        for row in 0..<min(rows, area.height) {
            for column in 0..<min(columns, area.width) {
                let index = row * columns + column
                if braille {
                    guard bits[index] != 0, let scalar = Unicode.Scalar(0x2800 + UInt32(bits[index])) else { continue }
                    buffer.put(scalar, x: area.x + column, y: area.y + row, role: roles[index])
                } else if let glyph = glyphs[index] {
                    buffer.put(glyph, x: area.x + column, y: area.y + row, role: roles[index])
                }
            }
        }
    }

    /// The bit of braille dot (column 0...1, row 0...3) in U+2800's pattern.
    static func brailleBit(column: Int, row: Int) -> UInt8 {
        switch (column, row) {
        case (0, 3): return 0x40
        case (1, 3): return 0x80
        case (0, _): return UInt8(1 << row)
        default: return UInt8(1 << (row + 3))
        }
    }
}
