import Foundation

/// Compact number formats shared by every view, so a value reads the same in a
/// panel, a chart label and the spectrum view.
///
/// Written by hand rather than with `String(format:)` because a frame formats
/// dozens of numbers and must render in well under 2 ms.
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
        var exponent = Int(Foundation.floor(Foundation.log10(Swift.abs(value))))
        var hundredths = Int((Swift.abs(value) / Foundation.pow(10, Double(exponent)) * 100).rounded())
        if hundredths >= 1000 { hundredths /= 10; exponent += 1 }
        if hundredths < 100 { hundredths *= 10; exponent -= 1 }
        let sign = value < 0 ? "-" : ""
        return "\(sign)\(hundredths / 100).\(twoDigits(hundredths % 100))e\(exponent)"
    }

    /// A count with a metric suffix and three significant digits: `950`,
    /// `12.3k`, `1.05M`.
    public static func count(_ value: Int) -> String {
        let magnitude = Swift.abs(value)
        let sign = value < 0 ? "-" : ""
        guard magnitude >= 1000 else { return "\(value)" }
        let units: [(Double, String)] = [(1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T")]
        var index = 0
        while index + 1 < units.count && Double(magnitude) >= units[index + 1].0 * 0.9995 { index += 1 }
        let scaled = Double(magnitude) / units[index].0
        let decimals = scaled < 9.995 ? 2 : (scaled < 99.95 ? 1 : 0)
        return sign + fixed(scaled, decimals: decimals) + units[index].1
    }

    /// `value` with exactly `decimals` decimals (`1.84`); `-` for nil or non-finite.
    public static func fixed(_ value: Double?, decimals: Int) -> String {
        guard let value, value.isFinite else { return missing }
        let scale = Foundation.pow(10, Double(decimals))
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
        return count(Int(value.rounded()))
    }

    /// Elapsed time: `4:05`, `1:02:03`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return missing }
        let total = Int(seconds)
        let hours = total / 3600, minutes = (total / 60) % 60, secs = total % 60
        if hours > 0 { return "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" }
        return "\(minutes):\(twoDigits(secs))"
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
        var exponent = Int(Foundation.floor(Foundation.log10(Swift.abs(value))))
        var tenths = Int((Swift.abs(value) / Foundation.pow(10, Double(exponent)) * 10).rounded())
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
