import Foundation
import SpecTopUI

/// One axis of a report chart: what it shows, its scale, its range in plotted
/// coordinates (log10 of the value on a log axis) and its labelled ticks.
///
/// The scale follows the data: log where the positive values span more than
/// `logSpanDecades` decades (loss over a run, parameter counts of a sweep,
/// compute), linear otherwise and wherever a value is zero or negative (the
/// cross-batch χ_pos in [−1, 1]).
package struct ChartAxis: Sendable {
    package struct Tick: Sendable, Equatable {
        /// In plotted coordinates.
        package var coordinate: Double
        /// Empty for an unlabelled minor tick.
        package var label: String
    }

    /// The quantity and its unit, as the axis title shows it.
    package var title: String
    package var scale: AxisScale
    /// The range shown, in plotted coordinates.
    package var low: Double
    package var high: Double
    /// The smallest spacing of linear ticks: 1 for counts, so no tick reads 0.2 eigenvalues.
    package var minimumStep = 0.0

    /// More than this many decades between the smallest and largest value: log scale.
    package static let logSpanDecades = 1.5

    /// The scale for `values`: log when every finite one is positive and
    /// they span more than `logSpanDecades` decades.
    package static func scale(for values: [Double]) -> AxisScale {
        let finite = values.filter(\.isFinite)
        guard let smallest = finite.min(), let largest = finite.max(), smallest > 0 else { return .linear }
        return Foundation.log10(largest) - Foundation.log10(smallest) > logSpanDecades ? .log : .linear
    }

    /// An axis over `values` (non-finite ones, and on a log axis non-positive
    /// ones, are left out: they are drawn as gaps). `scale` nil picks it with
    /// `scale(for:)`; `fixed` gives the range in value units instead;
    /// `includeZero` keeps 0 in a linear range (counts, weights).
    package init(title: String, values: [Double], scale: AxisScale? = nil, fixed: ClosedRange<Double>? = nil, includeZero: Bool = false) {
        self.title = title
        let scale = scale ?? ChartAxis.scale(for: values)
        self.scale = scale
        if let fixed {
            low = scale.transform(fixed.lowerBound) ?? 0
            high = scale.transform(fixed.upperBound) ?? 1
            if !(high > low) { high = low + 1 }
            return
        }
        var plotted = values.compactMap { scale.transform($0) }
        if includeZero && scale == .linear { plotted.append(0) }
        guard var smallest = plotted.min(), var largest = plotted.max() else {
            low = 0; high = 1
            return
        }
        switch scale {
        case .log:
            // Whole decades, so the ends carry labels.
            smallest = Foundation.floor(smallest)
            largest = Foundation.ceil(largest)
            if largest <= smallest { largest = smallest + 1 }
        case .linear:
            if largest <= smallest {
                // One value: a small range around it.
                let pad = smallest == 0 ? 1 : Swift.abs(smallest) * 0.1
                smallest -= pad; largest += pad
            }
            // Divided before subtracting: ends near ±1.7e308 would overflow the span.
            let step = ChartAxis.niceStep(largest / 5 - smallest / 5)
            if step.isFinite && step > 0 {
                let roundedLow = Foundation.floor(smallest / step) * step, roundedHigh = Foundation.ceil(largest / step) * step
                if roundedLow.isFinite { smallest = roundedLow }
                if roundedHigh.isFinite { largest = roundedHigh }
            }
        }
        low = smallest
        high = largest
    }

    /// A linear axis over an explicit plotted range (the histogram's log10 edges use `.log` with this).
    package init(title: String, scale: AxisScale, plottedLow: Double, plottedHigh: Double) {
        self.title = title; self.scale = scale; low = plottedLow; high = plottedHigh > plottedLow ? plottedHigh : plottedLow + 1
    }

    /// Where plotted coordinate `coordinate` lies from `low` (0) to `high` (1),
    /// safe for ends near ±1.7e308.
    package func fraction(ofPlotted coordinate: Double) -> Double {
        let span = high - low
        if span.isFinite { return (coordinate - low) / span }
        return (coordinate / 2 - low / 2) / (high / 2 - low / 2)
    }

    /// Where `value` lies (0 … 1 inside the range); nil when it cannot be drawn.
    package func fraction(of value: Double) -> Double? {
        scale.transform(value).map(fraction(ofPlotted:))
    }

    /// 1, 2 or 5 times a power of ten, the nearest at or above `rough`.
    package static func niceStep(_ rough: Double) -> Double {
        guard rough.isFinite, rough > 0 else { return 1 }
        let power = Foundation.pow(10, Foundation.floor(Foundation.log10(rough)))
        let mantissa = rough / power
        return (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * power
    }

    /// The ticks: on a log axis every decade (every second, fifth … when there
    /// are many) labelled, with unlabelled 2…9 between when few decades show,
    /// or 1-2-5 labels when less than two decades do; on a linear axis about
    /// five labelled ticks at round values.
    package var ticks: [Tick] {
        switch scale {
        case .log: return logTicks()
        case .linear: return linearTicks()
        }
    }

    private func linearTicks() -> [Tick] {
        var step = ChartAxis.niceStep(high / 5 - low / 5)
        if high - low >= 2 * minimumStep { step = Swift.max(step, minimumStep) }
        guard step.isFinite, step > 0 else { return [Tick(coordinate: low, label: ChartAxis.label(low, step: 1)), Tick(coordinate: high, label: ChartAxis.label(high, step: 1))] }
        var ticks: [Tick] = []
        var k = Foundation.ceil(low / step - 1e-9)
        while k * step <= high + step * 1e-9 && ticks.count < 20 {
            let value = k * step
            ticks.append(Tick(coordinate: value, label: ChartAxis.label(Swift.abs(value) < step * 1e-9 ? 0 : value, step: step)))
            k += 1
        }
        return ticks
    }

    private func logTicks() -> [Tick] {
        let first = Int(Foundation.ceil(low - 1e-9)), last = Int(Foundation.floor(high + 1e-9))
        let decades = last - first
        var ticks: [Tick] = []
        if decades >= 2 {
            let stride = Swift.max(1, Int(Foundation.ceil(Double(decades) / 8)))
            for k in first...last {
                let labelled = (k - first) % stride == 0
                ticks.append(Tick(coordinate: Double(k), label: labelled ? ChartAxis.power(k) : ""))
                if decades <= 6 && k < last {
                    for m in 2...9 { ticks.append(Tick(coordinate: Double(k) + Foundation.log10(Double(m)), label: "")) }
                }
            }
            return ticks
        }
        // Less than two decades: 1, 2 and 5 times each power of ten inside the range.
        for k in (Int(Foundation.floor(low)) - 1)...(Int(Foundation.ceil(high)) + 1) {
            for m in [1.0, 2.0, 5.0] {
                let coordinate = Double(k) + Foundation.log10(m)
                if coordinate >= low - 1e-9 && coordinate <= high + 1e-9 {
                    ticks.append(Tick(coordinate: coordinate, label: ChartAxis.label(Foundation.pow(10, coordinate), step: Foundation.pow(10, Double(k)))))
                }
            }
        }
        if ticks.count < 2 {
            ticks = [Tick(coordinate: low, label: ChartAxis.label(Foundation.pow(10, low), step: Foundation.pow(10, Foundation.floor(low) - 1))),
                     Tick(coordinate: high, label: ChartAxis.label(Foundation.pow(10, high), step: Foundation.pow(10, Foundation.floor(high) - 1)))]
        }
        return ticks
    }

    /// 10^k as plain digits between 0.001 and 10000, else `1e-7`, `1e5`.
    package static func power(_ k: Int) -> String {
        switch k {
        case 0...4: return "1" + String(repeating: "0", count: k)
        case -3 ... -1: return "0." + String(repeating: "0", count: -k - 1) + "1"
        default: return "1e\(k)"
        }
    }

    /// A tick value with as many decimals as the tick spacing needs (`0.25`,
    /// `1500`), or in scientific notation when it is very large or small.
    package static func label(_ value: Double, step: Double) -> String {
        guard value.isFinite else { return NumberFormat.missing }
        if value == 0 { return "0" }
        let magnitude = Swift.abs(value)
        if magnitude >= 1e6 || magnitude < 1e-3 { return NumberFormat.axis(value) }
        let decimals = Swift.max(0, Swift.min(6, Int(-Foundation.floor(Foundation.log10(step) + 1e-9))))
        return String(format: "%.\(decimals)f", value)
    }
}
