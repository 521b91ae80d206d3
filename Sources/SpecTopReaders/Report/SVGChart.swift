import Foundation
import SpecTopUI

/// A chart of the report as inline SVG: labelled axes with ticks, curves
/// and point sets, no script. Values that cannot be drawn on the axis (NaN,
/// infinite, non-positive on a log axis) break a curve instead of dropping to
/// zero, as in the monitor's charts.
package struct SVGChart: Sendable {
    package enum Style: Sendable, Equatable {
        /// A polyline through the points.
        case line
        /// A filled dot per point.
        case points
        /// A hollow dot per point.
        case hollowPoints
    }

    package struct Series: Sendable {
        /// The name the legend and the SVG group carry (escaped when written).
        package var label: String
        package var points: [(x: Double, y: Double)]
        /// A CSS colour the report chose (never text from a record).
        package var color: String
        package var dashed: Bool
        package var style: Style

        package init(label: String, points: [(x: Double, y: Double)], color: String, dashed: Bool = false, style: Style = .line) {
            self.label = label; self.points = points; self.color = color; self.dashed = dashed; self.style = style
        }
    }

    package var title: String
    package var x: ChartAxis
    package var y: ChartAxis
    package var series: [Series]
    /// Lines of text written in the plot's top right corner (a fit's equation).
    package var annotations: [String] = []

    package static let width = 600.0, height = 340.0
    package static let left = 78.0, right = 30.0, top = 30.0, bottom = 56.0
    static var plotWidth: Double { width - left - right }
    static var plotHeight: Double { height - top - bottom }

    package init(title: String, x: ChartAxis, y: ChartAxis, series: [Series], annotations: [String] = []) {
        self.title = title; self.x = x; self.y = y; self.series = series; self.annotations = annotations
    }

    /// Pixel position of a point, nil when it cannot be drawn; clamped to the plot.
    func position(_ point: (x: Double, y: Double)) -> (Double, Double)? {
        guard let fx = x.fraction(of: point.x), let fy = y.fraction(of: point.y), fx.isFinite, fy.isFinite else { return nil }
        return (SVGChart.left + Swift.min(1, Swift.max(0, fx)) * SVGChart.plotWidth,
                SVGChart.top + (1 - Swift.min(1, Swift.max(0, fy))) * SVGChart.plotHeight)
    }

    static func coordinate(_ value: Double) -> String { String(format: "%.1f", value) }

    /// The chart as an `<svg>` element.
    package func svg() -> String {
        let w = SVGChart.width, h = SVGChart.height, l = SVGChart.left, t = SVGChart.top
        let pw = SVGChart.plotWidth, ph = SVGChart.plotHeight
        let c = SVGChart.coordinate
        var out = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\">"
        out += "<title>\(HTMLText.escape(title))</title>"
        out += "<text class=\"chart-title\" x=\"\(c(l))\" y=\"18\">\(HTMLText.escape(title))</text>"
        out += "<rect class=\"plot\" x=\"\(c(l))\" y=\"\(c(t))\" width=\"\(c(pw))\" height=\"\(c(ph))\"/>"
        out += axisSVG(x, horizontal: true)
        out += axisSVG(y, horizontal: false)
        for s in series {
            out += "<g class=\"series\" data-label=\"\(HTMLText.escape(s.label))\">"
            switch s.style {
            case .line:
                var run: [String] = []
                func flush() {
                    if run.count >= 2 {
                        out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.6\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(run.joined(separator: " "))\"/>"
                    } else if run.count == 1 {
                        // A lone point between gaps would be invisible as a line.
                        let xy = run[0].split(separator: ",")
                        out += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"1.8\" fill=\"\(s.color)\"/>"
                    }
                    run.removeAll()
                }
                for point in s.points {
                    if let (px, py) = position(point) { run.append("\(c(px)),\(c(py))") } else { flush() }
                }
                flush()
            case .points, .hollowPoints:
                let hollow = s.style == .hollowPoints
                for point in s.points {
                    guard let (px, py) = position(point) else { continue }
                    out += "<circle cx=\"\(c(px))\" cy=\"\(c(py))\" r=\"4.5\" fill=\"\(hollow ? "white" : s.color)\" stroke=\"\(s.color)\" stroke-width=\"1.6\"/>"
                }
            }
            out += "</g>"
        }
        for (index, line) in annotations.enumerated() {
            out += "<text class=\"annotation\" x=\"\(c(l + pw - 6))\" y=\"\(c(t + 16 + 15 * Double(index)))\" text-anchor=\"end\">\(HTMLText.escape(line))</text>"
        }
        return out + "</svg>"
    }

    /// An axis line's ticks, tick labels and title. The title names the scale
    /// ("log scale") so a reader never mistakes a log axis for a linear one.
    func axisSVG(_ axis: ChartAxis, horizontal: Bool) -> String {
        axisSVG(in: (SVGChart.left, SVGChart.top, SVGChart.plotWidth, SVGChart.plotHeight, SVGChart.height), axis, horizontal: horizontal)
    }

    /// `axisSVG` for a plot area of another figure (`frame`: its left, top,
    /// width and height, and the whole figure's height); `rightSide` puts a
    /// vertical axis on the right (a second quantity, as the histogram's weights).
    func axisSVG(in frame: (left: Double, top: Double, width: Double, height: Double, figureHeight: Double), _ axis: ChartAxis,
                 horizontal: Bool, rightSide: Bool = false) -> String {
        let (l, t, pw, ph, figureHeight) = frame
        let c = SVGChart.coordinate
        let side = horizontal ? "x-axis" : rightSide ? "y2-axis" : "y-axis"
        var out = "<g class=\"axis \(side)\" data-scale=\"\(axis.scale.rawValue)\">"
        for tick in axis.ticks {
            let f = axis.fraction(ofPlotted: tick.coordinate)
            guard f.isFinite, f >= -1e-6, f <= 1 + 1e-6 else { continue }
            let length = tick.label.isEmpty ? 3.0 : 6.0
            if horizontal {
                let px = l + f * pw
                if !tick.label.isEmpty { out += "<line class=\"grid\" x1=\"\(c(px))\" y1=\"\(c(t))\" x2=\"\(c(px))\" y2=\"\(c(t + ph))\"/>" }
                out += "<line class=\"tick\" x1=\"\(c(px))\" y1=\"\(c(t + ph))\" x2=\"\(c(px))\" y2=\"\(c(t + ph + length))\"/>"
                if !tick.label.isEmpty {
                    out += "<text class=\"tick-label\" x=\"\(c(px))\" y=\"\(c(t + ph + 19))\" text-anchor=\"middle\">\(HTMLText.escape(tick.label))</text>"
                }
            } else {
                let py = t + (1 - f) * ph
                let edge = rightSide ? l + pw : l
                if !tick.label.isEmpty && !rightSide { out += "<line class=\"grid\" x1=\"\(c(l))\" y1=\"\(c(py))\" x2=\"\(c(l + pw))\" y2=\"\(c(py))\"/>" }
                out += "<line class=\"tick\" x1=\"\(c(edge))\" y1=\"\(c(py))\" x2=\"\(c(rightSide ? edge + length : edge - length))\" y2=\"\(c(py))\"/>"
                if !tick.label.isEmpty {
                    out += "<text class=\"tick-label\" x=\"\(c(rightSide ? edge + 9 : edge - 9))\" y=\"\(c(py + 4))\" text-anchor=\"\(rightSide ? "start" : "end")\">\(HTMLText.escape(tick.label))</text>"
                }
            }
        }
        let title = HTMLText.escape(axis.title + (axis.scale == .log ? " (log scale)" : ""))
        if horizontal {
            out += "<text class=\"axis-title\" x=\"\(c(l + pw / 2))\" y=\"\(c(figureHeight - 10))\" text-anchor=\"middle\">\(title)</text>"
        } else {
            let x = rightSide ? l + pw + 38 : 16
            out += "<text class=\"axis-title\" transform=\"translate(\(c(x)) \(c(t + ph / 2))) rotate(\(rightSide ? 90 : -90))\" text-anchor=\"middle\">\(title)</text>"
        }
        return out + "</g>"
    }
}
