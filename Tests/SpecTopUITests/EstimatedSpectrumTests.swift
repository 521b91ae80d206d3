import SpecTopUI
import SpecTopRecord
import XCTest

/// A matrix-free spectrum must never look exact: `~` before its r_eff
/// (with its interval), "top k of m" eigenvalues, and dim count bars.
final class EstimatedSpectrumTests: XCTestCase {
    private func estimated(_ model: ModelSnapshot) -> ModelSnapshot {
        var copy = model
        var spectrum = copy.spectrum!
        spectrum.method = .lanczos
        spectrum.modeCount = 10240
        spectrum.eigenvalues = Array(repeating: 1, count: 32)
        spectrum.rEffUncertainty = 0.012
        spectrum.histogram.countUncertainty = Array(repeating: 1, count: spectrum.histogram.counts.count)
        copy.spectrum = spectrum
        return copy
    }

    func testSpectrumViewMarksEstimates() {
        let model = estimated(makeModel(width: 64, mode: .active))
        var buffer = filledBuffer(width: 120, height: 40)
        SpectrumView(model: model, state: MonitorState()).render(into: &buffer, area: buffer.bounds, glyphs: .unicode)
        assertScreenContains(buffer, "~0.200±0.012")
        assertScreenContains(buffer, "top 32 of 10240")

        var exact = filledBuffer(width: 120, height: 40)
        SpectrumView(model: makeModel(width: 64, mode: .active), state: MonitorState()).render(into: &exact, area: exact.bounds, glyphs: .unicode)
        XCTAssertFalse(exact.text.contains("~0.200"), "an exact r_eff has no ~")
        assertScreenContains(exact, "0.200")
    }

    func testEstimatedCountBarsAreDimAndExactOnesAreNot() {
        let exact = SpectrumHistogram(log10Edges: [-1, 0, 1], counts: [3, 5], residualWeights: [0.5, 0.5],
                                      nearZeroCount: 0, nearZeroWeight: 0, markerBin: nil)
        var estimate = exact
        estimate.countUncertainty = [1, 1]
        for (histogram, dim) in [(exact, false), (estimate, true)] {
            var buffer = filledBuffer(width: 4, height: 2)
            HistogramWidget(histogram: histogram).render(into: &buffer, area: buffer.bounds, glyphs: .unicode)
            // Column 2 is the second bin's count bar (pitch 2: count, weight).
            XCTAssertEqual(buffer[2, 0].role, .histogram)
            XCTAssertEqual(buffer[2, 0].attributes.contains(.dim), dim, "estimate \(dim)")
            XCTAssertFalse(buffer[3, 0].attributes.contains(.dim), "residual bars stay as they are")
        }
    }

    func testMergingKeepsTheUncertainty() {
        let histogram = SpectrumHistogram(log10Edges: [0, 1, 2, 3, 4], counts: [1, 2, 3, 4], residualWeights: [0, 0, 0, 0],
                                          nearZeroCount: 0, nearZeroWeight: 0, markerBin: nil, countUncertainty: [0.5, 1, 1.5, 2])
        let merged = histogram.merged(toAtMost: 2)
        XCTAssertEqual(merged.countUncertainty, [1.5, 3.5])
        XCTAssertTrue(merged.isEstimate)
    }
}
