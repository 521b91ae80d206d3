/// Keeps a long curve to a few hundred points so a report of a 100,000-step
/// run stays a few hundred kilobytes, without hiding its spikes: the x range
/// is cut into `maxPoints / 2` intervals of equal point count, and each keeps
/// its points with the smallest and the largest y (in x order). A point whose
/// y cannot be drawn (NaN: χ_pos undefined) is kept once per interval, so a
/// gap in the curve stays a gap.
package enum CurveThinning {
    /// The report's limit per curve, said on the page.
    package static let maxPoints = 300

    package static func thin(_ points: [(x: Double, y: Double)], maxPoints: Int = CurveThinning.maxPoints) -> [(x: Double, y: Double)] {
        guard points.count > maxPoints, maxPoints >= 2 else { return points }
        let buckets = maxPoints / 2
        var kept: [(x: Double, y: Double)] = []
        kept.reserveCapacity(maxPoints)
        for bucket in 0..<buckets {
            let start = bucket * points.count / buckets, end = (bucket + 1) * points.count / buckets
            guard start < end else { continue }
            var lowest: Int?, highest: Int?, gap: Int?
            for index in start..<end {
                let y = points[index].y
                guard y.isFinite else {
                    if gap == nil { gap = index }
                    continue
                }
                if lowest.map({ y < points[$0].y }) ?? true { lowest = index }
                if highest.map({ y > points[$0].y }) ?? true { highest = index }
            }
            for index in Set([lowest, highest, gap].compactMap { $0 }).sorted() { kept.append(points[index]) }
        }
        return kept
    }
}
