/// Where a value lies on an axis, safe for any two Doubles as its ends.
///
/// `(value - low) / (high - low)` overflows when the ends have opposite signs
/// near ±1.7e308 (the span is inf, the fraction 0 or NaN), and converting such
/// a NaN to `Int` traps. Records from other writers can hold any finite
/// number, so every widget maps values to cells through here.
enum AxisFraction {
    /// The fraction of the way from `low` (0) to `high` (1) that `value` lies;
    /// NaN when any input is not finite or the axis has no width.
    static func of(_ value: Double, low: Double, high: Double) -> Double {
        let span = high - low
        if span.isFinite { return (value - low) / span }
        // Halved, no difference of finite Doubles can overflow.
        return (value / 2 - low / 2) / (high / 2 - low / 2)
    }

    /// The value `fraction` of the way from `low` to `high` (the inverse of `of`).
    static func value(at fraction: Double, low: Double, high: Double) -> Double {
        let span = high - low
        if span.isFinite { return low + fraction * span }
        return low * (1 - fraction) + high * fraction
    }

    /// `fraction` of the way across `cells` cells (0 … cells − 1), rounded and
    /// clamped to them; nil for NaN or an empty axis.
    static func cell(_ fraction: Double, cells: Int) -> Int? {
        guard cells > 0, !fraction.isNaN else { return nil }
        let position = (min(1, max(0, fraction)) * Double(cells - 1)).rounded()
        return Int(position)
    }
}
