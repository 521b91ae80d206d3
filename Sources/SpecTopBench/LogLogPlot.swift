import SpecTopApp
import SpecTopReaders
import Foundation

/// A small log–log scatter plot in plain ASCII, for the cost curves of
/// `spectop bench` (a terminal or a log file: no colour, no box drawing, so it
/// survives any pipe and font).
///
/// Each series draws its points with its own glyph; two series in one cell
/// draw `overlapGlyph`. An optional marker draws a vertical line of its glyph
/// at one x (the crossover) in the cells no point occupies. Both axes are
/// log10-scaled over the range of all points, the marker included; a range
/// of one value is widened by half a decade each way so the point sits in
/// the middle.
struct LogLogPlot: Sendable, Equatable {
    struct Series: Sendable, Equatable {
        var name: String
        var glyph: Character
        var points: [Point]
        init(name: String, glyph: Character, points: [(Double, Double)]) {
            self.name = name
            self.glyph = glyph
            self.points = points.map { Point(x: $0.0, y: $0.1) }
        }
    }

    struct Point: Sendable, Equatable {
        var x: Double
        var y: Double
    }

    struct Marker: Sendable, Equatable {
        var x: Double
        var glyph: Character
        var name: String
    }

    /// The cell of a point: column from the left, row from the top.
    struct Cell: Sendable, Hashable {
        var column: Int
        var row: Int
    }

    var xLabel: String
    var yLabel: String
    var series: [Series]
    var marker: Marker?
    /// Plot area in character cells (the axes and labels come on top).
    var columns = 60
    var rows = 15
    static let overlapGlyph: Character = "@"

    private static func drawable(_ value: Double) -> Bool { value > 0 && value.isFinite }

    /// log10 of the smallest and largest value, widened when they coincide.
    private static func range(_ values: [Double]) -> (low: Double, high: Double)? {
        let logs = values.filter(drawable).map { Foundation.log10($0) }
        guard let low = logs.min(), let high = logs.max() else { return nil }
        return high > low ? (low, high) : (low - 0.5, high + 0.5)
    }

    /// The points a log–log plot can show; only they set the ranges.
    private var drawablePoints: [Point] {
        series.flatMap(\.points).filter { Self.drawable($0.x) && Self.drawable($0.y) }
    }

    private var xRange: (low: Double, high: Double)? {
        guard !drawablePoints.isEmpty else { return nil }
        return Self.range(drawablePoints.map(\.x) + (marker.map { [$0.x] } ?? []))
    }

    private var yRange: (low: Double, high: Double)? {
        Self.range(drawablePoints.map(\.y))
    }

    private static func position(_ value: Double, in range: (low: Double, high: Double), cells: Int) -> Int {
        let t = (Foundation.log10(value) - range.low) / (range.high - range.low)
        return min(cells - 1, max(0, Int((t * Double(cells - 1)).rounded())))
    }

    /// Where a point lands; nil for a value that is not positive and finite
    /// (a log axis has no place for it).
    func cell(x: Double, y: Double) -> Cell? {
        guard Self.drawable(x), Self.drawable(y), let xr = xRange, let yr = yRange else { return nil }
        return Cell(column: Self.position(x, in: xr, cells: columns), row: rows - 1 - Self.position(y, in: yr, cells: rows))
    }

    /// The plot area alone, `rows` strings of `columns` characters.
    func grid() -> [String] {
        var cells = Array(repeating: Array(repeating: Character(" "), count: columns), count: rows)
        for s in series {
            for p in s.points {
                guard let c = cell(x: p.x, y: p.y) else { continue }
                let current = cells[c.row][c.column]
                cells[c.row][c.column] = current == " " || current == s.glyph ? s.glyph : Self.overlapGlyph
            }
        }
        if let marker, Self.drawable(marker.x), let xr = xRange {
            let column = Self.position(marker.x, in: xr, cells: columns)
            for row in 0..<rows where cells[row][column] == " " { cells[row][column] = marker.glyph }
        }
        return cells.map { String($0) }
    }

    /// Three significant digits, exponent without "+" or leading zeros
    /// (1.02e5), so the tick labels stay short.
    /// Whole numbers from 100 to 99,999 are written out (1328, 25600).
    static func tick(_ value: Double) -> String {
        if value >= 100 && value < 1e5 { return String(format: "%.0f", value) }
        let text = String(format: "%.3g", value)
        guard let e = text.firstIndex(of: "e") else { return text }
        let mantissa = text[..<e]
        let exponent = text[text.index(after: e)...]
        let negative = exponent.hasPrefix("-")
        let digits = exponent.drop { $0 == "+" || $0 == "-" || $0 == "0" }
        return "\(mantissa)e\(negative ? "-" : "")\(digits.isEmpty ? "0" : digits)"
    }

    /// The whole plot: y label, y ticks at the top, middle and bottom rows,
    /// the area, the x axis with ticks at both ends and the middle, the x
    /// label, and one legend line.
    func render() -> [String] {
        guard let xr = xRange, let yr = yRange else { return ["(no points to plot)"] }
        let yTicks: [Int: String] = [
            0: Self.tick(Foundation.pow(10, yr.high)),
            (rows - 1) / 2: Self.tick(Foundation.pow(10, (yr.low + yr.high) / 2)),
            rows - 1: Self.tick(Foundation.pow(10, yr.low)),
        ]
        let gutter = max(yLabel.count, yTicks.values.map(\.count).max() ?? 0)
        func pad(_ text: String) -> String { String(repeating: " ", count: gutter - text.count) + text }
        var lines = [pad(yLabel)]
        for (row, text) in grid().enumerated() {
            let prefix = yTicks[row].map { pad($0) + " +" } ?? pad("") + " |"
            lines.append(prefix + text)
        }

        // Ticks at the middle and last columns; the corner is the first one's.
        let middle = (columns - 1) / 2
        var axis = Array(repeating: Character("-"), count: columns)
        for column in [middle, columns - 1] { axis[column] = "+" }
        lines.append(pad("") + " +" + String(axis))
        // Tick labels: left-aligned at the first column, centred in the
        // middle, right-aligned at the last; the label of the axis after them.
        var labels = Array(repeating: Character(" "), count: columns)
        func put(_ text: String, at start: Int) {
            for (k, ch) in text.enumerated() where start + k >= 0 && start + k < columns { labels[start + k] = ch }
        }
        let low = Self.tick(Foundation.pow(10, xr.low)), mid = Self.tick(Foundation.pow(10, (xr.low + xr.high) / 2))
        let high = Self.tick(Foundation.pow(10, xr.high))
        put(low, at: 0)
        put(mid, at: middle - mid.count / 2)
        put(high, at: columns - high.count)
        lines.append(pad("") + "  " + String(labels) + "  " + xLabel)

        var legend = series.map { "\($0.glyph) \($0.name)" }
        if series.count > 1 { legend.append("\(Self.overlapGlyph) both") }
        if let marker { legend.append("\(marker.glyph) \(marker.name) (\(Self.tick(marker.x)))") }
        lines.append(pad("") + "  " + legend.joined(separator: "   "))
        return lines
    }
}
