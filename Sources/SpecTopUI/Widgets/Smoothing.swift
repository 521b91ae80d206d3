import Foundation

/// TensorBoard's smoothing (`s` cycles it): an exponential moving average of
/// the plotted points, debiased so the first points are not pulled to zero.
/// It only changes the lines drawn; every number shown stays the raw value.
public enum Smoothing: Double, Sendable, Cycling {
    case off = 0
    case light = 0.6
    case medium = 0.9
    case strong = 0.99

    /// `off`, `EMA 0.6`, …
    public var label: String { self == .off ? "off" : "EMA " + NumberFormat.fixed(rawValue, decimals: rawValue == 0.99 ? 2 : 1) }

    /// `values` smoothed in the coordinates `scale` draws them in (log10 on a
    /// log axis, so a loss falling over decades is averaged as it looks).
    /// Points that cannot be drawn (NaN, ±inf, not positive on a log axis)
    /// stay gaps and do not enter the average.
    public func apply(_ values: [Double], scale: AxisScale) -> [Double] {
        guard self != .off else { return values }
        let weight = rawValue
        var average = 0.0
        var correction = 1.0  // weight^k after k drawable points: the debiasing term
        return values.map { value in
            guard let coordinate = scale.transform(value) else { return .nan }
            average = weight * average + (1 - weight) * coordinate
            correction *= weight
            return scale.value(at: average / (1 - correction))
        }
    }
}
