import Foundation

/// How a chart maps values to height. METHOD.md's display conventions draw
/// loss, χ_net and χ_pos on a log scale by default.
public enum AxisScale: String, Sendable, Hashable {
    case log
    case linear

    /// The other scale (the `y` key).
    public var toggled: AxisScale { self == .log ? .linear : .log }

    /// The plotted coordinate of `value`: log10 on a log scale. nil when the
    /// value cannot be drawn (NaN, infinite, or not positive on a log scale),
    /// which the widgets draw as a gap, never as zero.
    @inline(__always)
    public func transform(_ value: Double) -> Double? {
        guard value.isFinite else { return nil }
        switch self {
        case .linear: return value
        case .log: return value > 0 ? Foundation.log10(value) : nil
        }
    }

    /// The value at plotted coordinate `coordinate` (inverse of `transform`).
    public func value(at coordinate: Double) -> Double {
        self == .log ? Foundation.pow(10, coordinate) : coordinate
    }

    /// Short label shown in chart titles.
    public var label: String { self == .log ? "log" : "lin" }
}
