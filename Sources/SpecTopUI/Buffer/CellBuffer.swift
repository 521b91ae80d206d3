/// An in-memory screen: a grid of cells that widgets draw into and the
/// terminal backend diffs and flushes. Widgets never call the terminal.
///
/// Writes outside the grid are dropped and counted in `outOfBoundsWrites`, so a
/// test can prove that a layout stays inside the screen.
public struct CellBuffer: Sendable, Equatable {
    public private(set) var width: Int
    public private(set) var height: Int
    /// Row-major, `width * height` cells.
    public private(set) var cells: [Cell]
    /// When true every character written is forced to printable ASCII, so a
    /// non-UTF-8 terminal never shows mojibake, whatever strings come in.
    public var asciiOnly: Bool
    /// Writes that fell outside the grid (a layout bug, never visible).
    public private(set) var outOfBoundsWrites = 0

    /// A `width` x `height` buffer filled with `filler`.
    public init(width: Int, height: Int, filler: Cell = .blank, asciiOnly: Bool = false) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.asciiOnly = asciiOnly
        cells = Array(repeating: filler, count: self.width * self.height)
    }

    /// The whole buffer as a rectangle.
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// Resizes and refills the buffer (used on every frame, so it reuses storage).
    public mutating func reset(width: Int, height: Int, filler: Cell = .blank) {
        let w = max(0, width), h = max(0, height)
        if w * h == cells.count {
            for i in cells.indices { cells[i] = filler }
        } else {
            cells = Array(repeating: filler, count: w * h)
        }
        self.width = w
        self.height = h
        outOfBoundsWrites = 0
    }

    /// The cell at column `x`, row `y`; a blank cell outside the grid.
    public subscript(x: Int, y: Int) -> Cell {
        get {
            guard x >= 0, y >= 0, x < width, y < height else { return .blank }
            return cells[y * width + x]
        }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { outOfBoundsWrites += 1; return }
            var cell = newValue
            cell.character = CellBuffer.displayable(cell.character, asciiOnly: asciiOnly) ?? "?"
            cells[y * width + x] = cell
        }
    }

    /// Sets one cell.
    public mutating func put(_ character: Unicode.Scalar, x: Int, y: Int, role: ColorRole = .text, attributes: CellAttributes = []) {
        self[x, y] = Cell(character, role: role, attributes: attributes)
    }

    /// Writes `text` from (x, y) rightwards, at most `maxWidth` columns (and
    /// never past the buffer's right edge). Zero-width scalars are dropped and
    /// wide or unprintable ones become `?`, so one scalar is one column.
    /// Returns the number of columns written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, role: ColorRole = .text, attributes: CellAttributes = [], maxWidth: Int = Int.max) -> Int {
        guard y >= 0, y < height else {
            if !text.isEmpty && maxWidth > 0 { outOfBoundsWrites += 1 }
            return 0
        }
        var column = x
        // Compared before adding, so the default Int.max never overflows.
        let limit = maxWidth >= width - x ? width : x + max(0, maxWidth)
        for scalar in text.unicodeScalars {
            guard column < limit else { break }
            guard let shown = CellBuffer.displayable(scalar, asciiOnly: asciiOnly) else { continue }
            if column >= 0 {
                cells[y * width + column] = Cell(shown, role: role, attributes: attributes)
            } else {
                outOfBoundsWrites += 1
            }
            column += 1
        }
        return column - x
    }

    /// Fills `rect` (clipped to the buffer) with `cell`.
    public mutating func fill(_ rect: Rect, with cell: Cell = .blank) {
        let x0 = max(0, rect.x), x1 = min(width, rect.maxX)
        let y0 = max(0, rect.y), y1 = min(height, rect.maxY)
        guard x0 < x1, y0 < y1 else { return }
        for row in y0..<y1 {
            for column in x0..<x1 { cells[row * width + column] = cell }
        }
    }

    /// Adds `attributes` to every cell of `rect` (clipped), keeping characters.
    public mutating func addAttributes(_ attributes: CellAttributes, in rect: Rect) {
        let x0 = max(0, rect.x), x1 = min(width, rect.maxX)
        let y0 = max(0, rect.y), y1 = min(height, rect.maxY)
        guard x0 < x1, y0 < y1 else { return }
        for row in y0..<y1 {
            for column in x0..<x1 { cells[row * width + column].attributes.formUnion(attributes) }
        }
    }

    /// Row `y` as text (characters only).
    public func line(_ y: Int) -> String {
        guard y >= 0, y < height else { return "" }
        var view = String.UnicodeScalarView()
        for column in 0..<width { view.append(cells[y * width + column].character) }
        return String(view)
    }

    /// Every row as text, top to bottom.
    public var lines: [String] { (0..<height).map(line) }

    /// The whole screen as text, rows separated by newlines (for tests and dumps).
    public var text: String { lines.joined(separator: "\n") }

    /// The scalar as it will be shown: nil for zero-width scalars (combining
    /// marks, joiners, variation selectors), `?` for control and wide ones.
    static func displayable(_ scalar: Unicode.Scalar, asciiOnly: Bool) -> Unicode.Scalar? {
        let value = scalar.value
        if value >= 0x20 && value < 0x7F { return scalar }
        if value < 0x20 || (value >= 0x7F && value <= 0x9F) { return "?" }
        if asciiOnly { return "?" }
        // Fast path for what the widgets draw every frame (Greek, arrows and
        // maths, box drawing, blocks, shapes, braille): one column, no lookup.
        switch value {
        case 0x0370...0x03FF, 0x2190...0x22FF, 0x2500...0x25FF, 0x2800...0x28FF: return scalar
        default: break
        }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return nil
        default: break
        }
        if (0xFE00...0xFE0F).contains(value) { return nil }
        if isWide(value) { return "?" }
        return scalar
    }

    /// East Asian wide and fullwidth ranges plus emoji: two columns on a
    /// terminal, which would shift the rest of the row.
    private static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return true
        default:
            return false
        }
    }
}
