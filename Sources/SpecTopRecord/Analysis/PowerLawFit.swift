import Foundation

/// A least-squares power law `y = prefactor · x^exponent`, fitted as the
/// straight line `log y = log a + b log x` over the points where both x and y
/// are positive and finite.
///
/// The scaling view and the `claims` command both use this type, so the
/// exponent a user reads on screen is the one a claim is checked against.
public struct PowerLawFit: Sendable, Equatable {
    /// b in `y = a · x^b`.
    public var exponent: Double
    /// a in `y = a · x^b`.
    public var prefactor: Double
    /// Coefficient of determination of the straight-line fit in log-log space;
    /// 1 when every usable point lies on the line (including a flat line through
    /// identical y values).
    public var rSquared: Double
    /// How many points entered the fit.
    public var pointCount: Int

    /// Fits the points pairwise (`x[i]`, `y[i]`); nil when fewer than two
    /// usable points remain or when all usable x are equal (the slope is then
    /// undefined).
    public init?(x: [Double], y: [Double]) {
        var logX: [Double] = []
        var logY: [Double] = []
        for (xi, yi) in zip(x, y) where xi > 0 && yi > 0 && xi.isFinite && yi.isFinite {
            logX.append(Foundation.log(xi))
            logY.append(Foundation.log(yi))
        }
        let n = Double(logX.count)
        guard logX.count >= 2 else { return nil }
        let meanX = logX.reduce(0, +) / n
        let meanY = logY.reduce(0, +) / n
        var sxx = 0.0, sxy = 0.0, syy = 0.0
        for (lx, ly) in zip(logX, logY) {
            sxx += (lx - meanX) * (lx - meanX)
            sxy += (lx - meanX) * (ly - meanY)
            syy += (ly - meanY) * (ly - meanY)
        }
        guard sxx > 0 else { return nil }
        let slope = sxy / sxx
        exponent = slope
        prefactor = Foundation.exp(meanY - slope * meanX)
        // A perfectly flat set of y values is explained exactly by a zero slope.
        rSquared = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1
        pointCount = logX.count
    }

    /// The fitted value `a · x^b`.
    public func predict(_ x: Double) -> Double {
        prefactor * Foundation.pow(x, exponent)
    }
}
