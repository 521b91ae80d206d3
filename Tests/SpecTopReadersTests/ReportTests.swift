import XCTest
import Foundation
@testable import SpecTopReaders
import SpecTopRecord
import SpecTopUI

/// `spectop report`: the page's sections, its charts' axes and scales, the
/// numbers drawn against an independent computation, escaping, and the claims
/// table against `ClaimsEvaluator`.
final class ReportTests: XCTestCase {
    struct Model {
        var id: String
        var params: Int
        var frozen = false
        var trainable: Int? = nil
        /// (loss, chiNet, chiPos, cross chiPos) at each measured step.
        var curve: (Int) -> (Double, Double, Double?, Double?)
        var steps = Array(0...40)
        /// Steps with an exact spectrum, and with a matrix-free one.
        var spectrumSteps: [Int] = []
        var estimatedSpectrumSteps: [Int] = []
    }

    /// A record the PyTorch probe wrote (Tests/Fixtures/make-probe-record.py).
    static let probeFixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/probe-record.jsonl").path

    static func spectrum(step: Int, estimate: Bool) -> SpectrumSample {
        let eigenvalues = (0..<32).map { 10 * Foundation.pow(0.7, Double($0)) }
        let weights = (0..<32).map { k in k < 4 ? 0.2 : 0.2 / 28 }
        let lambdaEff = zip(eigenvalues, weights).reduce(0) { $0 + $1.0 * $1.1 }
        var histogram = SpectrumHistogram(eigenvalues: eigenvalues, weights: weights, lambdaEff: lambdaEff)
        guard estimate else {
            return SpectrumSample(step: step, eigenvalues: eigenvalues, weights: weights, chiPosExact: 0.1, lambdaEff: lambdaEff, rEff: 0.2,
                                  effectiveRank: 5, histogram: histogram)
        }
        histogram.countUncertainty = histogram.counts.map { _ in 0.5 }
        return SpectrumSample(step: step, eigenvalues: Array(eigenvalues.prefix(4)), weights: Array(weights.prefix(4)), chiPosExact: 0.1,
                              lambdaEff: lambdaEff, rEff: 0.2, effectiveRank: 5, histogram: histogram, method: .lanczos, modeCount: 32,
                              rEffUncertainty: 0.03, restWeight: 0.2)
    }

    static func record(_ models: [Model], batch: Int? = 16, name: String? = nil, extraLines: [String] = [], end: Bool = true) throws -> RunRecord {
        var lines: [String] = []
        let header = models.map { m in
            var entry = JSONLine()
            entry.add("id", m.id)
            entry.add("width", 8)
            entry.add("depth", 2)
            entry.add("params", m.params)
            if let trainable = m.trainable { entry.add("trainable_params", trainable) }
            entry.add("trainable", m.frozen ? "readout" : "all")
            entry.add("mode", m.frozen ? "frozen" : "active")
            entry.add("steps", 40)
            if let batch { entry.add("batch", batch) }
            return entry.line
        }
        var run = JSONLine()
        run.add("type", "run")
        run.add("version", 1)
        if let name { run.add("name", name) }
        run.add("tool", "spectop 0.1.0")
        run.add("preset", "hand")
        run.add("models", raw: "[" + header.joined(separator: ",") + "]")
        run.add("blas", "Haswell")
        lines.append(run.line)
        for m in models {
            for step in m.steps {
                let (loss, net, pos, cross) = m.curve(step)
                var sample = MetricSample(step: step, loss: loss, chiLoss: loss, chiNet: net, chiPos: pos, gradSq: loss * net * (pos ?? 0), wall: Double(step))
                if let cross {
                    sample.cross = CrossBatchSample(loss: loss, gradDot: cross * loss * net, chiLoss: loss, chiNet: net, chiPos: cross, rows: 8)
                }
                lines.append(RecordLines.encode(.metrics(model: m.id, sample)))
            }
            for step in m.spectrumSteps { lines.append(RecordLines.encode(.spectrum(model: m.id, spectrum(step: step, estimate: false)))) }
            for step in m.estimatedSpectrumSteps { lines.append(RecordLines.encode(.spectrum(model: m.id, spectrum(step: step, estimate: true)))) }
        }
        lines += extraLines
        if end { lines.append(RecordLines.end(reason: "steps", wall: 1)) }
        return try RunRecord.parse(Data((lines.joined(separator: "\n") + "\n").utf8), file: "hand.jsonl")
    }

    /// Three sizes, active and frozen: final loss exactly 100/N (active) and
    /// 300/N (frozen), χ_pos falling from 0.5 to 0.1, χ_net rising.
    static func sweep(cross: Bool = false) -> [Model] {
        [100, 1_000, 10_000].flatMap { params -> [Model] in
            let final = 100 / Double(params)
            return [
                Model(id: "n\(params)-active", params: params, curve: { step in
                    let t = Double(step) / 40
                    return (Foundation.pow(final, t), 100 * (1 + t), 0.5 - 0.4 * t, cross ? 0.6 - 0.9 * t : nil)
                }, spectrumSteps: params == 1_000 ? [0, 10, 20, 30, 40] : []),
                Model(id: "n\(params)-frozen", params: params, frozen: true, trainable: params / 10, curve: { step in
                    let t = Double(step) / 40
                    return (Foundation.pow(3 * final, t), 50, 0.3 - 0.1 * t, nil)
                }, estimatedSpectrumSteps: params == 10_000 ? [0, 40] : []),
            ]
        }
    }

    /// The `<figure id="ID">…</figure>` holding a chart.
    func figure(_ page: String, id: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard let start = page.range(of: "<figure id=\"\(id)\">") else {
            XCTFail("no figure \(id)", file: file, line: line)
            throw XCTSkip("no figure")
        }
        let end = try XCTUnwrap(page.range(of: "</figure>", range: start.upperBound..<page.endIndex), file: file, line: line)
        return String(page[start.lowerBound..<end.upperBound])
    }

    /// The axis group of a chart (`x-axis`, `y-axis`): its scale and its title text.
    func axis(_ svg: String, _ which: String) -> (scale: String, title: String)? {
        guard let range = svg.range(of: "<g class=\"axis \(which)\" data-scale=\"") else { return nil }
        let rest = svg[range.upperBound...]
        let scale = String(rest.prefix { $0 != "\"" })
        guard let group = rest.range(of: "</g>"), let titleStart = rest[..<group.lowerBound].range(of: "class=\"axis-title\"") else { return nil }
        let text = rest[titleStart.upperBound..<group.lowerBound]
        guard let open = text.firstIndex(of: ">"), let close = text.range(of: "</text>") else { return nil }
        return (scale, String(text[text.index(after: open)..<close.lowerBound]))
    }

    /// Every `points="…"` polyline of a series group, as pixel pairs.
    func polylines(_ svg: String, label: String) -> [[(Double, Double)]] {
        guard let start = svg.range(of: "<g class=\"series\" data-label=\"\(HTMLText.escape(label))\">"),
              let end = svg.range(of: "</g>", range: start.upperBound..<svg.endIndex) else { return [] }
        let group = svg[start.upperBound..<end.lowerBound]
        return group.components(separatedBy: "points=\"").dropFirst().map { chunk in
            chunk.prefix { $0 != "\"" }.split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").compactMap { Double($0) }
                return (xy[0], xy[1])
            }
        }
    }

    func testThePageHasEverySectionOnceAndNeedsNoScriptOrNetwork() throws {
        let page = HTMLReport(record: try Self.record(Self.sweep(cross: true))).html()
        XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
        for id in HTMLReport.sectionIDs {
            XCTAssertEqual(page.components(separatedBy: "id=\"\(id)\"").count - 1, 1, "section \(id)")
        }
        for figure in ["curve-loss", "curve-chi-net", "curve-chi-pos", "curve-cross-chi-pos"] {
            XCTAssertTrue(page.contains("<figure id=\"\(figure)\">"), figure)
        }
        XCTAssertFalse(page.lowercased().contains("<script"))
        // Nothing fetched: the only URL is the SVG namespace, which no browser loads.
        let urls = page.components(separatedBy: "http").dropFirst().map { String($0.prefix(23)) }
        XCTAssertEqual(Set(urls), ["://www.w3.org/2000/svg\""], "\(Set(urls))")
        XCTAssertFalse(page.contains("src="))
        XCTAssertTrue(page.contains("Haswell"), "the header names the BLAS core")
        XCTAssertTrue(page.contains("spectop 0.1.0"), "the header names the writer")
    }

    func testTheScaleIsLogOnlyWhereValuesSpanMoreThanOneAndAHalfDecades() {
        XCTAssertEqual(ChartAxis.scale(for: [1, Foundation.pow(10, 1.6)]), .log)
        XCTAssertEqual(ChartAxis.scale(for: [1, Foundation.pow(10, 1.4)]), .linear)
        XCTAssertEqual(ChartAxis.scale(for: [1e-6, 1]), .log)
        XCTAssertEqual(ChartAxis.scale(for: [0, 1e-6, 1]), .linear, "a zero cannot be drawn on a log axis")
        XCTAssertEqual(ChartAxis.scale(for: [-0.5, 0.9]), .linear)
        XCTAssertEqual(ChartAxis.scale(for: [.nan, 1e-3, .infinity, 1]), .log, "non-finite values are gaps, not data")
        XCTAssertEqual(ChartAxis.scale(for: []), .linear)
    }

    func testEveryTickLabelNamesTheValueAtItsPosition() {
        let axes = [ChartAxis(title: "a", values: [3e-7, 40]), ChartAxis(title: "b", values: [3, 40]), ChartAxis(title: "c", values: [1e-300, 1e300]),
                    ChartAxis(title: "d", values: [-0.37, 0.92]), ChartAxis(title: "e", values: [0.002, 0.0031], scale: .linear),
                    ChartAxis(title: "f", values: [12_000, 3_500_000], scale: .linear), ChartAxis(title: "g", values: [5])]
        for axis in axes {
            let labelled = axis.ticks.filter { !$0.label.isEmpty }
            XCTAssertGreaterThanOrEqual(labelled.count, 2, "\(axis.title): \(axis.ticks)")
            XCTAssertLessThanOrEqual(labelled.count, 12, axis.title)
            for tick in axis.ticks {
                XCTAssertTrue(tick.coordinate >= axis.low - 1e-9 && tick.coordinate <= axis.high + 1e-9, "\(axis.title): \(tick) outside \(axis.low)…\(axis.high)")
                guard !tick.label.isEmpty else { continue }
                let shown = try! XCTUnwrap(Double(tick.label), "\(axis.title): label \(tick.label) is no number")
                let actual = axis.scale.value(at: tick.coordinate)
                XCTAssertEqual(shown, actual, accuracy: Swift.abs(actual) * 0.02 + 1e-12, "\(axis.title): label \(tick.label) at \(actual)")
            }
        }
        // The ranges cover the data: whole decades on a log axis.
        let log = axes[0]
        XCTAssertEqual(log.scale, .log)
        XCTAssertEqual(log.low, -7)
        XCTAssertEqual(log.high, 2)
        var counts = ChartAxis(title: "counts", values: [0, 4], scale: .linear, includeZero: true)
        counts.minimumStep = 1
        XCTAssertEqual(counts.ticks.map(\.label), ["0", "1", "2", "3", "4"], "no tick at a fraction of an eigenvalue")
    }

    func testChartsAreLabelledAndLogScaledWhereTheirValuesSpanDecades() throws {
        let page = HTMLReport(record: try Self.record(Self.sweep(cross: true))).html()
        // Loss falls from 1 to 0.01 (active) over the run: log.
        let loss = try figure(page, id: "curve-loss")
        XCTAssertEqual(axis(loss, "y-axis")?.scale, "log")
        XCTAssertEqual(axis(loss, "y-axis")?.title, "probe loss L (log scale)")
        XCTAssertEqual(axis(loss, "x-axis")?.title, "training step")
        // χ_pos spans 0.5 … 0.1, less than a decade: linear, and the title does not claim a log scale.
        let chiPos = try figure(page, id: "curve-chi-pos")
        XCTAssertEqual(axis(chiPos, "y-axis")?.scale, "linear")
        XCTAssertEqual(axis(chiPos, "y-axis")?.title, "spectral position χ_pos")
        // The cross χ_pos goes negative (interference): linear, with its negative ticks.
        let cross = try figure(page, id: "curve-cross-chi-pos")
        XCTAssertEqual(axis(cross, "y-axis")?.scale, "linear")
        XCTAssertTrue(cross.contains(">-0.2</text>"), "negative ticks on the cross χ_pos axis")
        // Fig. 1: parameters 100 … 10,000 and final losses 0.01 … 3 both span decades.
        let scaling = try XCTUnwrap(page.components(separatedBy: "<section id=\"scaling\">").last)
        XCTAssertEqual(axis(scaling, "x-axis")?.title, "parameters N (log scale)")
        XCTAssertEqual(axis(scaling, "y-axis")?.title, "final probe loss L (log scale)")
    }

    /// A foreign log's runs have no parameter count: no point at N = 0 in
    /// Fig. 1, a note naming them, and a colour per model instead of per size.
    func testModelsWithoutAParameterCountAreLeftOutOfTheSizeChartAndSaidToBe() throws {
        let models = [Model(id: "w16", params: 0, curve: { _ in (0.2, 10, 0.3, nil) }), Model(id: "w64", params: 0, curve: { _ in (0.1, 10, 0.2, nil) }),
                      Model(id: "sized", params: 500, curve: { _ in (0.1, 10, 0.2, nil) })]
        let report = HTMLReport(record: try Self.record(models, batch: nil))
        let page = report.html()
        let scaling = try XCTUnwrap(page.components(separatedBy: "<section id=\"scaling\">").last?.components(separatedBy: "<svg class=\"chart\"")[1])
        XCTAssertFalse(scaling.contains("data-label=\"w16\""))
        XCTAssertTrue(scaling.contains("data-label=\"sized\""))
        XCTAssertTrue(page.contains("left out: the record does not give the parameter count of w16, w64"))
        let colors = Set(report.record.models.map(report.color(of:)))
        XCTAssertEqual(colors.count, 3)
        XCTAssertTrue(page.contains("<td>not said</td>"))
    }

    func testAnEstimatedChiNetIsSaidToBeOne() throws {
        var lines = ["{\"type\":\"run\",\"version\":1,\"models\":[{\"id\":\"big\",\"width\":8,\"depth\":2,\"params\":100,\"trainable\":\"all\",\"mode\":\"active\"}]}"]
        for step in 0..<10 {
            let sample = MetricSample(step: step, loss: 1, chiLoss: 1, chiNet: 50, chiPos: 0.2, gradSq: 10, wall: 0, traceIsEstimate: step > 4, chiNetStandardError: 2)
            lines.append(RecordLines.encode(.metrics(model: "big", sample)))
        }
        let record = try RunRecord.parse(Data((lines.joined(separator: "\n") + "\n").utf8), file: "h.jsonl")
        let page = HTMLReport(record: record).html()
        XCTAssertEqual(axis(try figure(page, id: "curve-chi-net"), "y-axis")?.title, "network scale χ_net = Tr Θ (partly ~ Hutchinson estimates)")
        XCTAssertTrue(page.contains("χ_net is a Hutchinson estimate for some measurements"))
        let exact = HTMLReport(record: try Self.record(Self.sweep())).html()
        XCTAssertFalse(exact.contains("Hutchinson"))
    }

    func testTheFitLineIsClaimSixsPowerLawDrawnWhereItsValuesAre() throws {
        let record = try Self.record(Self.sweep())
        let claims = ClaimsEvaluator.evaluate(record)
        let fit = try XCTUnwrap(claims.lossFit)
        XCTAssertEqual(fit.exponent, -1, accuracy: 1e-9)
        let page = HTMLReport(record: record).html()
        XCTAssertTrue(page.contains("L ∝ N^-1.000, R² = 1.000"), "the fit's exponent and R² are written on the chart")
        let scaling = try XCTUnwrap(page.components(separatedBy: "<section id=\"scaling\">").last)
        // x: log10 N from 2 to 4; y: log10 L from −2 (0.01) to 1 (3 ≤ 10): the fit passes (100, 1).
        let line = try XCTUnwrap(polylines(scaling, label: "power law, active models (claim 6)").first?.first)
        let plotWidth = SVGChart.width - SVGChart.left - SVGChart.right, plotHeight = SVGChart.height - SVGChart.top - SVGChart.bottom
        XCTAssertEqual(line.0, SVGChart.left, accuracy: 0.06)
        XCTAssertEqual(line.1, SVGChart.top + (1 - (0 - -2) / 3) * plotHeight, accuracy: 0.06)
        // The frozen n10000 model's point: N = 10^4 at the right edge, L = 0.03.
        let frozen = try XCTUnwrap(scaling.range(of: "data-label=\"n10000-frozen (frozen)\"><circle cx=\""))
        let cx = Double(scaling[frozen.upperBound...].prefix { $0 != "\"" })
        XCTAssertEqual(try XCTUnwrap(cx), SVGChart.left + plotWidth, accuracy: 0.06)
    }

    func testChiPosIsDrawnAgainstSixNDComputeWhenTheBatchIsKnown() throws {
        let models = Self.sweep()
        let record = try Self.record(models, batch: 16)
        for model in record.models {
            let n = model.trainableParameterCount ?? model.parameterCount
            XCTAssertEqual(TrainingCompute.flopsPerStep(model), 6 * Double(n) * 16)
        }
        let page = HTMLReport(record: record).html()
        let scaling = try XCTUnwrap(page.components(separatedBy: "<section id=\"scaling\">").last?.components(separatedBy: "</section>").first)
        let charts = scaling.components(separatedBy: "<svg class=\"chart\"")
        let compute = try XCTUnwrap(charts.last)
        XCTAssertEqual(axis(compute, "x-axis")?.title, "training compute 6·N·D (FLOPs) (log scale)")
        // From the smallest (frozen n100: 10 trainable × 16 × 6 at step 1 = 960) to the
        // largest (n10000-active: 10^4 × 16 × 6 × 40 = 3.84e7): decades 2 … 8.
        let labels = compute.components(separatedBy: "class=\"axis x-axis\"")[1].components(separatedBy: "</g>")[0].components(separatedBy: "class=\"tick-label\"").dropFirst()
            .map { String($0.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" }) }
        XCTAssertEqual(labels.first, "100")
        XCTAssertEqual(labels.last, "1e8")
        // The largest model's last point sits where log10(3.84e7) lies on 2 … 8.
        let last = try XCTUnwrap(polylines(compute, label: "n10000-active").first?.last)
        let plotWidth = SVGChart.width - SVGChart.left - SVGChart.right
        XCTAssertEqual(last.0, SVGChart.left + (Foundation.log10(3.84e7) - 2) / 6 * plotWidth, accuracy: 0.06)

        let noBatch = HTMLReport(record: try Self.record(models, batch: nil)).html()
        XCTAssertTrue(noBatch.contains("the x axis is the training step, not compute"))
        XCTAssertFalse(noBatch.contains("6·N·D (FLOPs)"))
    }

    func testLongCurvesAreThinnedToAFewHundredPointsKeepingTheirExtremes() throws {
        let steps = Array(0..<6_000)
        let spiky = Model(id: "long", params: 100, curve: { step in
            (step == 3_000 ? 100 : step == 4_777 ? 1e-3 : 1 + 0.01 * Double(step % 7), 10, 0.2, nil)
        }, steps: steps)
        let record = try Self.record([spiky, Model(id: "long2", params: 200, curve: { _ in (1, 10, 0.2, nil) }, steps: steps)])
        let page = HTMLReport(record: record).html()
        let loss = try figure(page, id: "curve-loss")
        let points = polylines(loss, label: "long").flatMap { $0 }
        XCTAssertLessThanOrEqual(points.count, CurveThinning.maxPoints)
        XCTAssertGreaterThan(points.count, CurveThinning.maxPoints / 2)
        // The spike (100, top of the log axis 1e-3 … 1e2) and the dip (the bottom) survive.
        XCTAssertEqual(points.map(\.1).min() ?? .nan, SVGChart.top, accuracy: 0.06)
        XCTAssertEqual(points.map(\.1).max() ?? .nan, SVGChart.height - SVGChart.bottom, accuracy: 0.06)
        XCTAssertLessThan(page.utf8.count, 300_000, "two 6,000-step models make a page of \(page.utf8.count) bytes")
        XCTAssertTrue(page.contains("at most \(CurveThinning.maxPoints) points per model"), "the page says it thins")

        // Thinning itself: x order kept, every interval's min and max kept, a NaN stays a gap.
        var raw = (0..<1_000).map { (x: Double($0), y: Foundation.sin(Double($0) / 10)) }
        raw[500].y = .nan
        let thin = CurveThinning.thin(raw, maxPoints: 100)
        XCTAssertLessThanOrEqual(thin.count, 150)
        XCTAssertEqual(thin.map(\.x), thin.map(\.x).sorted())
        XCTAssertEqual(thin.filter { $0.y.isNaN }.count, 1)
        XCTAssertEqual(thin.map(\.y).filter(\.isFinite).max() ?? 0, raw.map(\.y).filter(\.isFinite).max() ?? 1)
        XCTAssertEqual(CurveThinning.thin(Array(raw.prefix(50)), maxPoints: 100).count, 50, "a short curve is kept whole")
    }

    func testExtremeNumbersInARecordDrawAsGapsOrEdgesNeverAsBrokenSVG() throws {
        let values: [Double] = [1.7e308, -1.7e308, Double.leastNonzeroMagnitude, 0, -1, 1e-300, 3]
        let extreme = Model(id: "extreme", params: 100, curve: { step in
            let v = values[step % values.count]
            return (v, Swift.abs(v), v, step % 2 == 0 ? v : nil)
        }, steps: Array(0..<40), spectrumSteps: [0])
        let page = HTMLReport(record: try Self.record([extreme, Model(id: "plain", params: 1_000, curve: { _ in (1, 1, 0.5, 0.1) })])).html()
        for id in HTMLReport.sectionIDs { XCTAssertTrue(page.contains("id=\"\(id)\""), id) }
        // Every number in an SVG attribute is finite: a browser drops an element with NaN or inf in it.
        let attributes = page.components(separatedBy: "=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        for value in attributes where value.first.map({ $0.isNumber || $0 == "-" }) ?? false {
            for number in value.split(whereSeparator: { " ,".contains($0) }) {
                XCTAssertNil(number.range(of: "nan|inf", options: [.regularExpression, .caseInsensitive]), "\(value)")
            }
        }
        for id in ["curve-loss", "curve-chi-net", "curve-chi-pos", "curve-cross-chi-pos"] {
            let chart = try figure(page, id: id)
            XCTAssertLessThanOrEqual(chart.components(separatedBy: "class=\"tick-label\"").count - 1, 30, "\(id): a bounded number of ticks")
        }
    }

    func testEveryStringFromTheRecordIsEscaped() throws {
        let hostile = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(2)>", "tab\there & 'quote'", "esc\u{1B}]0;title\u{07}"]
        let models = hostile.enumerated().map { index, id in
            Model(id: id, params: 100 * (index + 1), curve: { step in (1 / Double(step + 1), 10, 0.5 / Double(step + 1), nil) }, spectrumSteps: [0])
        }
        let record = try Self.record(models, name: "</title><b>run</b>",
                                     extraLines: [RecordLines.encode(.event(kind: .diverged, model: hostile[1], step: 3, wall: 1, detail: "<i>why</i>"))])
        let page = HTMLReport(record: record).html()
        for markup in ["<script", "<img", "<b>", "<i>", "\u{1B}", "\u{07}"] {
            XCTAssertFalse(page.contains(markup), "\(markup.debugDescription) reached the page unescaped")
        }
        XCTAssertTrue(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(page.contains("data-label=\"&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\""), "attribute values are escaped too")
        XCTAssertTrue(page.contains("<title>spectop report: &lt;/title&gt;&lt;b&gt;run&lt;/b&gt;</title>"))
        XCTAssertTrue(page.contains("esc\\u{1b}]0;title\\u{7}"))
        XCTAssertEqual(HTMLText.escape("a<b>&\"'\n\u{9B}"), "a&lt;b&gt;&amp;&quot;&#39; \\u{9b}")
    }

    func testTheClaimsTableIsClaimsEvaluatorsVerdictsAndConditions() throws {
        var models = Self.sweep(cross: true)
        // A failing claim 2: the largest active model ends above the middle one.
        models[4].curve = { step in (Foundation.pow(0.5, Double(step) / 40), 200 * (1 + Double(step) / 40), 0.5 - 0.4 * Double(step) / 40, 0.3) }
        let records = [try Self.record(models), try Self.record(Self.sweep()), try RunRecord.read(path: Self.probeFixture)]
        XCTAssertEqual(ClaimsEvaluator.evaluate(records[0]).verdict(2), .fails)
        XCTAssertEqual(Set(ClaimsEvaluator.evaluate(records[2]).rows.map(\.verdict)), [.holds, .fails], "the probe fixture mixes verdicts")
        for record in records {
            let expected = ClaimsEvaluator.evaluate(record)
            let page = HTMLReport(record: record).html()
            let claims = try XCTUnwrap(page.components(separatedBy: "<section id=\"claims\">").last)
            let rows = claims.components(separatedBy: "<tr class=\"claim\"").dropFirst()
            XCTAssertEqual(rows.count, expected.rows.count)
            for (row, claim) in zip(rows, expected.rows) {
                XCTAssertTrue(row.hasPrefix(" data-claim=\"\(claim.number)\" data-verdict=\"\(claim.verdict.rawValue)\""), "claim \(claim.number): \(row.prefix(80))")
                let conditions = row.components(separatedBy: "<li class=\"condition\" data-condition=\"").dropFirst()
                    .map { String($0.prefix { $0 != "\"" }) + ($0.contains("data-pass=\"true\"") ? " pass" : " FAIL") }
                XCTAssertEqual(conditions, claim.conditions.map { "\($0.number) \($0.pass ? "pass" : "FAIL")" })
                if let reason = claim.reason { XCTAssertTrue(row.contains(HTMLText.escape(reason))) }
            }
        }
    }

    func testSpectraAreShownAtTheFirstMiddleAndLastStepWithEstimatesMarked() throws {
        let record = try Self.record(Self.sweep())
        let page = HTMLReport(record: record).html()
        let spectra = try XCTUnwrap(page.components(separatedBy: "<section id=\"spectra\">").last?.components(separatedBy: "</section>").first)
        let exact = spectra.components(separatedBy: "<h3>").first { $0.hasPrefix("n1000-active") } ?? ""
        XCTAssertEqual(exact.components(separatedBy: "data-step=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }, ["0", "20", "40"])
        XCTAssertFalse(exact.contains("error-bar"))
        XCTAssertTrue(exact.contains("step 20 · exact, m = 32"))
        // λ_eff's marker where log10 λ_eff lies between the histogram's outer edges.
        let sample = Self.spectrum(step: 20, estimate: false)
        let lambda = try XCTUnwrap(sample.lambdaEff)
        let edges = sample.histogram.log10Edges
        let width = SpectrumFigure.width - SpectrumFigure.left - SpectrumFigure.right
        let expected = SpectrumFigure.left + (Foundation.log10(lambda) - edges.first!) / (edges.last! - edges.first!) * width
        let marker = try XCTUnwrap(exact.range(of: "<line class=\"lambda-eff\" x1=\""))
        XCTAssertEqual(try XCTUnwrap(Double(exact[marker.upperBound...].prefix { $0 != "\"" })), expected, accuracy: 0.06)
        XCTAssertEqual(axisTitles(exact), ["eigenvalue λ (log scale)", "eigenvalues per bin", "residual weight Σw_k"])

        let estimated = spectra.components(separatedBy: "<h3>").first { $0.hasPrefix("n10000-frozen") } ?? ""
        XCTAssertEqual(estimated.components(separatedBy: "data-method=\"lanczos\"").count - 1, 2)
        XCTAssertTrue(estimated.contains("~ matrix-free estimate, m = 32"))
        XCTAssertTrue(estimated.contains("r_eff = ~0.200 ± 0.030"))
        XCTAssertTrue(estimated.contains("(rest_weight) 0.200"))
        XCTAssertTrue(estimated.contains("class=\"error-bar\""))
        XCTAssertTrue(estimated.contains(">~λ_eff</text>"))
        XCTAssertEqual(HTMLReport.chosenSpectra([]).count, 0)
        XCTAssertEqual(HTMLReport.chosenSpectra([sample, sample]).count, 2)
    }

    func axisTitles(_ svg: String) -> [String] {
        svg.components(separatedBy: "class=\"axis-title\"").dropFirst().map { String($0.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" }) }.prefix(3).map { $0 }
    }

    func testAModelFrozenDuringTheRunTurnsDashedAtItsFreezeStep() throws {
        var models = Self.sweep()
        models = [models[2]]
        let freeze = RecordLines.encode(.event(kind: .freeze, model: "n1000-active", step: 20, wall: 1, detail: nil))
        let record = try Self.record(models, extraLines: [freeze])
        XCTAssertEqual(record.freezeStep(of: "n1000-active"), 20)
        let loss = try figure(HTMLReport(record: record).html(), id: "curve-loss")
        let before = try XCTUnwrap(polylines(loss, label: "n1000-active").first)
        let after = try XCTUnwrap(polylines(loss, label: "n1000-active (frozen from step 20)").first)
        XCTAssertEqual(before.count, 20, "steps 0 … 19 solid")
        XCTAssertEqual(after.count, 22, "steps 19 … 40 dashed, joined to the solid part")
        XCTAssertEqual(before.last!.0, after.first!.0, accuracy: 1e-9)
        XCTAssertTrue(loss.contains("data-label=\"n1000-active (frozen from step 20)\"><polyline fill=\"none\" stroke=\"\(HTMLReport.palette[0])\" stroke-width=\"1.6\" stroke-dasharray"))
    }

    // MARK: the command

    func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-report-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// Runs `spectop report ARGS` in-process: nil on success, else the message and exit status `runMain` would give.
    func report(_ arguments: [String]) -> (message: String, status: Int32)? {
        let command: ReportCommand
        do { command = try ReportCommand.parse(arguments) } catch {
            return (ReportCommand.message(for: error), ExitStatus.usage)
        }
        do {
            try command.run()
            return nil
        } catch {
            if let failure = error as? CommandFailure { return (failure.description, failure.status) }
            let failure = CommandFailure.from(error)
            return (failure.description, failure.status)
        }
    }

    func testBadInputsGetOneLineAndStatusTwoAndWriteNothing() throws {
        let dir = try scratch()
        let record = dir + "/run.jsonl"
        var lines = [String]()
        lines.append("{\"type\":\"run\",\"version\":1,\"models\":[{\"id\":\"a\",\"width\":1,\"depth\":1,\"params\":3,\"trainable\":\"all\",\"mode\":\"active\"}]}")
        let headerOnly = dir + "/empty.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: headerOnly, atomically: true, encoding: .utf8)
        lines.append(RecordLines.encode(.metrics(model: "a", MetricSample(step: 0, loss: 1, chiLoss: 1, chiNet: 1, chiPos: 0.5, gradSq: 0.5, wall: 0))))
        try (lines.joined(separator: "\n") + "\n").write(toFile: record, atomically: true, encoding: .utf8)
        try "hello\n".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/nothing", withIntermediateDirectories: true)
        try "mine".write(toFile: dir + "/existing.html", atomically: true, encoding: .utf8)

        let cases: [([String], String)] = [
            ([dir + "/missing.jsonl", "-o", dir + "/a.html"], "no such file"),
            ([dir + "/notes.txt", "-o", dir + "/a.html"], "notes.txt"),
            ([dir + "/nothing", "-o", dir + "/a.html"], "no *.jsonl records"),
            ([headerOnly, "-o", dir + "/a.html"], "has no measurement (no step line) yet; nothing to report"),
            ([record, "-o", dir + "/no/such/dir/a.html"], "cannot write the report to"),
            ([record, "-o", dir + "/existing.html"], "already exists; pass --force"),
            ([record, "-o", record, "--force"], "which this report reads"),
            ([record, "-o", dir], "it is a directory"),
            ([record], "Missing expected argument '--output <REPORT.html>'"),
        ]
        for (arguments, expected) in cases {
            guard let (message, status) = report(arguments) else {
                XCTFail("spectop report \(arguments) succeeded")
                continue
            }
            XCTAssertEqual(status, ExitStatus.usage, "\(arguments): \(message)")
            XCTAssertTrue(message.contains(expected), "\(arguments): \(message)")
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/existing.html", encoding: .utf8), "mine", "an existing file is never overwritten without --force")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a.html"))
        XCTAssertTrue(try String(contentsOfFile: record, encoding: .utf8).hasPrefix("{\"type\":\"run\""), "the record is untouched")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("spectop-partial") }
        XCTAssertEqual(leftovers, [])

        XCTAssertNil(report([record, "-o", dir + "/existing.html", "--force"]))
        XCTAssertTrue(try String(contentsOfFile: dir + "/existing.html", encoding: .utf8).hasPrefix("<!DOCTYPE html>"), "--force replaces it")
        XCTAssertNil(report([dir, "-o", dir + "/b.html"]), "a directory of records is one experiment")
    }
}
