import SpecTopUI
import SpecTopRecord
import XCTest

final class HistogramTests: XCTestCase {
    private let histogram = SpectrumHistogram(
        log10Edges: [-3, -2, -1, 0, 1, 2, 3], counts: [1, 2, 4, 8, 2, 1],
        residualWeights: [0.0, 0.1, 0.2, 0.4, 0.2, 0.1], nearZeroCount: 0, nearZeroWeight: 0, markerBin: 3)

    func testMergingSumsNeighboursAndMovesTheMarker() {
        let bins = histogram.merged(toAtMost: 3)
        XCTAssertEqual(bins.counts, [3, 12, 3])
        XCTAssertEqual(bins.residualWeights[0], 0.1, accuracy: 1e-12)
        XCTAssertEqual(bins.residualWeights[1], 0.6, accuracy: 1e-12)
        XCTAssertEqual(bins.log10Edges, [-3, -1, 1, 3])
        XCTAssertEqual(bins.markerBin, 1)
    }

    func testUnevenMergeKeepsEveryBin() {
        let bins = histogram.merged(toAtMost: 4)
        XCTAssertEqual(bins.counts, [3, 12, 3])
        XCTAssertEqual(bins.counts.reduce(0, +), histogram.counts.reduce(0, +))
    }

    func testNoMergeWhenThereIsRoom() {
        let bins = histogram.merged(toAtMost: 10)
        XCTAssertEqual(bins.counts, histogram.counts)
        XCTAssertEqual(bins.markerBin, 3)
    }

    func testRenderDrawsCountAndWeightBarsAndTheMarker() {
        // Six bins, pitch 2: count bar then weight bar per bin; one row of bars plus the marker row.
        var buffer = filledBuffer(width: 12, height: 2)
        HistogramWidget(histogram: histogram).render(into: &buffer, area: buffer.bounds, glyphs: .unicode)
        // Counts 1,2,4,8,2,1 of max 8 → eighths 1,2,4,8,2,1; weights of max 0.4 → 0,2,4,8,4,2.
        assertScreen(buffer, [
            "▁ ▂▂▄▄██▂▄▁▂",
            "      ▲λ_eff",
        ])
    }

    func testNearZeroBinSitsApartOnTheLeftWithAxisLabels() {
        var withZero = histogram
        withZero.nearZeroCount = 8
        withZero.nearZeroWeight = 0.4
        var buffer = filledBuffer(width: 15, height: 3)
        HistogramWidget(histogram: withZero, showAxis: true).render(into: &buffer, area: buffer.bounds, glyphs: .ascii)
        assertScreen(buffer, [
            "## _ ..~~##.~_.",
            "  lam_eff^     ",
            "~0 1e-3    1000",
        ])
    }
}
