import Foundation
import SpecTopRecord

/// Compact number formats shared by every view, so a value reads the same in a
/// panel, a chart label and the spectrum view.
///
/// Written by hand rather than with `String(format:)` because a frame formats
/// dozens of numbers and must render in well under 2 ms. Every formatter takes
/// any Double — NaN, ±inf, subnormals, 1e308 — and never converts a value to
/// `Int` unless it fits (a diverging model sends all of these).
public enum NumberFormat {
    /// Placeholder for a value that is not (yet) defined.
    public static let missing = "-"

    /// Three significant digits in compact scientific notation: `3.21e-2`,
    /// `1.52e2`, `0`; `-` for nil.
    public static func scientific(_ value: Double?) -> String {
        guard let value else { return missing }
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value == 0 { return "0" }
        let (mantissa, decomposedExponent) = decompose(Swift.abs(value))
        var exponent = decomposedExponent
        var hundredths = Int((mantissa * 100).rounded())
        if hundredths >= 1000 { hundredths /= 10; exponent += 1 }
        if hundredths < 100 { hundredths *= 10; exponent -= 1 }
        let sign = value < 0 ? "-" : ""
        return "\(sign)\(hundredths / 100).\(twoDigits(hundredths % 100))e\(exponent)"
    }

    /// A count with a metric suffix and three significant digits: `950`,
    /// `12.3k`, `1.05M`.
    /// χ_net as the sample has it: plain when exact; `~1.21e4` when a
    /// Hutchinson estimate, with its relative standard error when known
    /// (`~1.21e4 ±3%`), so an estimate never reads as an exact value.
    public static func chiNet(_ sample: MetricSample?) -> String {
        guard let sample else { return missing }
        let value = scientific(sample.chiNet)
        guard sample.traceIsEstimate else { return value }
        return "~" + value + (relativeError(sample).map { " " + $0 } ?? "")
    }

    /// `±3%` for an estimated χ_net with a standard error; nil when there is none.
    public static func relativeError(_ sample: MetricSample) -> String? {
        guard let error = sample.chiNetStandardError, error.isFinite, error >= 0,
              sample.chiNet.isFinite, sample.chiNet != 0 else { return nil }
        let percent = Swift.abs(error / sample.chiNet) * 100
        guard percent < 1000 else { return "±>999%" }
        return "±" + (percent < 1 ? fixed(percent, decimals: 1) : String(Int(percent.rounded()))) + "%"
    }

    /// A short duration: `0.85 ms`, `2.1 ms`, `5.1 s` (ASCII, so it reads under any locale).
    public static func seconds(_ value: Double) -> String {
        guard value.isFinite, value >= 0 else { return missing }
        if value < 1e-3 { return fixed(value * 1000, decimals: 2) + " ms" }
        if value < 1 { return fixed(value * 1000, decimals: value < 0.1 ? 1 : 0) + " ms" }
        return value < 100 ? fixed(value, decimals: 1) + " s" : duration(value)
    }

    /// Memory in binary units: `412M`, `1.5G`.
    public static func bytes(_ value: Int) -> String {
        let mib = Double(max(0, value)) / 1_048_576
        return mib < 1024 ? "\(Int(mib.rounded()))M" : fixed(mib / 1024, decimals: 1) + "G"
    }

    public static func count(_ value: Int) -> String {
        let magnitude = Double(value.magnitude)
        let sign = value < 0 ? "-" : ""
        guard magnitude >= 1000 else { return "\(value)" }
        let units: [(Double, String)] = [(1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T")]
        var index = 0
        while index + 1 < units.count && magnitude >= units[index + 1].0 * 0.9995 { index += 1 }
        let scaled = magnitude / units[index].0
        let decimals = scaled < 9.995 ? 2 : (scaled < 99.95 ? 1 : 0)
        return sign + fixed(scaled, decimals: decimals) + units[index].1
    }

    /// `value` with exactly `decimals` decimals (`1.84`); scientific from a
    /// million on; `-` for nil or non-finite.
    public static func fixed(_ value: Double?, decimals: Int) -> String {
        guard let value, value.isFinite else { return missing }
        let scale = Foundation.pow(10, Double(decimals))
        // Past a million, plain digits overflow a value column (and past 2^53
        // an Int): a diverging amplification of 9.2e16 reads as `9.20e16`.
        guard Swift.abs(value) < 1e6, Swift.abs(value) * scale < 9e15 else { return scientific(value) }
        let total = Int((Swift.abs(value) * scale).rounded())
        let unit = Int(scale)
        let sign = value < 0 && total != 0 ? "-" : ""
        guard decimals > 0 else { return sign + "\(total)" }
        var fraction = String(total % unit)
        while fraction.count < decimals { fraction = "0" + fraction }
        return sign + "\(total / unit).\(fraction)"
    }

    /// A percentage with one decimal: `45.1%`.
    public static func percent(_ fraction: Double?) -> String {
        guard let fraction, fraction.isFinite else { return missing }
        return fixed(fraction * 100, decimals: 1) + "%"
    }

    /// A rate such as steps per second: `850`, `12.3k`.
    public static func rate(_ value: Double) -> String {
        guard value.isFinite, value >= 0 else { return missing }
        if value < 10 { return fixed(value, decimals: 1) }
        guard value < 1e15 else { return scientific(value) }
        return count(Int(value.rounded()))
    }

    /// Elapsed time: `4:05`, `1:02:03`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return missing }
        // A million hours is no clock anyone reads; say it in seconds.
        guard seconds < 3.6e9 else { return scientific(seconds) + "s" }
        let total = Int(seconds)
        let hours = total / 3600, minutes = (total / 60) % 60, secs = total % 60
        if hours > 0 { return "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" }
        return "\(minutes):\(twoDigits(secs))"
    }

    /// `magnitude` (finite, > 0) as mantissa × 10^exponent with the mantissa
    /// in [1, 10) up to rounding. Subnormals are scaled up first: 10^-324 is 0
    /// in Double, and dividing by it gave inf.
    static func decompose(_ magnitude: Double) -> (mantissa: Double, exponent: Int) {
        let exponent = Int(Foundation.floor(Foundation.log10(magnitude)))
        let mantissa = exponent < -300
            ? magnitude * 1e300 / Foundation.pow(10, Double(exponent + 300))
            : magnitude / Foundation.pow(10, Double(exponent))
        return (mantissa, exponent)
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}

extension NumberFormat {
    /// A short axis label with two significant digits: `1e-4`, `3.2e-3`, `0`.
    public static func axis(_ value: Double) -> String {
        guard value.isFinite else { return missing }
        if value == 0 { return "0" }
        let (scaled, decomposedExponent) = decompose(Swift.abs(value))
        var exponent = decomposedExponent
        var tenths = Int((scaled * 10).rounded())
        if tenths >= 100 { tenths /= 10; exponent += 1 }
        let sign = value < 0 ? "-" : ""
        if (0...3).contains(exponent) {
            // Plain digits read faster for the small integers steps and counts produce.
            // Scaled from the integer tenths so 970 prints as 970, not 970.0000001.
            let plain = exponent == 0 ? Double(tenths) / 10 : Double(tenths) * Foundation.pow(10, Double(exponent - 1))
            return sign + (plain == plain.rounded() ? "\(Int(plain))" : fixed(plain, decimals: 1))
        }
        let mantissa = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
        return "\(sign)\(mantissa)e\(exponent)"
    }
}
