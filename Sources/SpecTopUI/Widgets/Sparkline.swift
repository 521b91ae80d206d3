/// A sparkline quantised to eighths of a cell, one or more rows tall.
///
/// Values that cannot be drawn (NaN, not yet measured, or not positive on a
/// log scale) leave their column blank: absent, never zero. A constant series
/// is drawn at half height and a zero span is never divided by.
public struct Sparkline: Sendable {
    public var values: [Double]
    public var scale: AxisScale
    public var role: ColorRole
    /// Columns whose value is below zero take this role (nil: `role`).
    public var negativeRole: ColorRole?

    public init(values: [Double], scale: AxisScale = .log, role: ColorRole = .text) {
        self.values = values
        self.scale = scale
        self.role = role
    }

    /// Draws into `area`, clearing it first so every cell of the area is owned.
    public func render(into buffer: inout CellBuffer, area: Rect, glyphs: GlyphSet) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", role: role))
        let heights = Sparkline.levels(values, scale: scale, columns: area.width, rows: area.height)
        let negative = negativeRole.map { _ in Sparkline.resample(values, scale: scale, columns: area.width).map { $0 < 0 } } ?? []
        for (column, level) in heights.enumerated() {
            guard let level else { continue }
            let columnRole = column < negative.count && negative[column] ? negativeRole ?? role : role
            for row in 0..<area.height {
                let fill = min(8, max(0, level - 8 * row))
                guard let glyph = glyphs.vertical(fill) else { break }
                buffer.put(glyph, x: area.x + column, y: area.maxY - 1 - row, role: columnRole)
            }
        }
    }

    /// The fill of each column in eighths (1...8·rows), nil where absent.
    /// The lowest drawable value gets one eighth, so it stays distinguishable
    /// from a gap.
    public static func levels(_ values: [Double], scale: AxisScale, columns: Int, rows: Int) -> [Int?] {
        guard columns > 0, rows > 0 else { return [] }
        let points = resample(values, scale: scale, columns: columns)
        var low = Double.infinity, high = -Double.infinity
        // ±inf (a diverging model) is drawn as absent like NaN: it has no height.
        for point in points where point.isFinite {
            low = min(low, point); high = max(high, point)
        }
        guard low <= high else { return points.map { _ in nil } }
        let total = 8 * rows
        // Relative to the larger end: a span of 1e-13 at 1e300 is flat, and so
        // is one between two values near zero.
        let flat = (high - low) <= 1e-12 * max(1, Swift.abs(high), Swift.abs(low))
        return points.map { point -> Int? in
            guard point.isFinite else { return nil }
            if flat { return max(1, total / 2) }
            return AxisFraction.cell(AxisFraction.of(point, low: low, high: high), cells: total).map { 1 + $0 }
        }
    }

    /// The transformed values resampled to at most `columns` points: one per
    /// column while they fit, else the mean of each column's bucket over the
    /// drawable values, transformed once (NaN where a bucket has none). The
    /// mean is taken before the log so a frame costs one log per column, not
    /// one per point.
    public static func resample(_ values: [Double], scale: AxisScale, columns: Int) -> [Double] {
        guard columns > 0 else { return [] }
        if values.count <= columns {
            return values.map { scale.transform($0) ?? .nan }
        }
        var result = [Double](repeating: .nan, count: columns)
        let n = values.count
        let positiveOnly = scale == .log
        values.withUnsafeBufferPointer { points in
            for column in 0..<columns {
                let start = column * n / columns, end = (column + 1) * n / columns
                var sum = 0.0, count = 0
                for index in start..<end {
                    let value = points[index]
                    guard value.isFinite, !positiveOnly || value > 0 else { continue }
                    sum += value; count += 1
                }
                if count > 0 { result[column] = scale.transform(sum / Double(count)) ?? .nan }
            }
        }
        return result
    }
}
