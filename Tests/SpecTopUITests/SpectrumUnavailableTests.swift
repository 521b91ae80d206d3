import SpecTopUI
import SpecTopRecord
import XCTest

/// A model the engine gives no spectrum says why where its histogram would
/// be, in the grid panel and the spectrum view, instead of "no spectrum yet"
/// (which promises one that never comes).
final class SpectrumUnavailableTests: XCTestCase {
    private let reason = "a matrix-free spectrum of m = 16384 rows would take about 307 s, over the 60 s a spectrum may take (spectrum_max_seconds): no spectrum for this model (a smaller probe or top_k fits)"

    private func refused() -> ModelSnapshot {
        var model = makeModel(width: 512, mode: .active)
        model.spectrum = nil
        model.spectrumUnavailable = reason
        return model
    }

    func testWrappingBreaksAtSpacesCutsLongWordsAndMarksWhatDoesNotFit() {
        XCTAssertEqual(WrappedText.rows("one two three four", width: 9, maxRows: 5), ["one two", "three", "four"])
        XCTAssertEqual(WrappedText.rows("abcdefghijkl xy", width: 5, maxRows: 5), ["abcde", "xy"])
        XCTAssertEqual(WrappedText.rows("one two three four", width: 9, maxRows: 2), ["one two", "three…"])
        XCTAssertEqual(WrappedText.rows("aaaa bbbbb cc", width: 5, maxRows: 2), ["aaaa", "bbbb…"])
        XCTAssertEqual(WrappedText.rows("aaaa bbbbb cc", width: 5, maxRows: 2, ellipsis: "~"), ["aaaa", "bbbb~"])
        XCTAssertEqual(WrappedText.rows("anything", width: 0, maxRows: 3), [])
        for width in 1...40 {
            for row in WrappedText.rows(reason, width: width, maxRows: 100) {
                XCTAssertLessThanOrEqual(row.unicodeScalars.count, width, "width \(width): \(row)")
            }
        }
        // Nothing lost when the rows suffice: the words come back in order.
        XCTAssertEqual(WrappedText.rows(reason, width: 36, maxRows: 100).joined(separator: " "), reason)
    }

    func testGridPanelShowsTheReason() {
        var buffer = filledBuffer(width: 40, height: 30)
        ModelPanel(model: refused(), selected: false, state: MonitorState()).render(into: &buffer, area: buffer.bounds, glyphs: .unicode)
        assertScreenContains(buffer, "would take about 307 s")
        XCTAssertFalse(buffer.text.contains("no spectrum yet"), buffer.text)

        var waiting = filledBuffer(width: 40, height: 30)
        var model = refused()
        model.spectrumUnavailable = nil
        ModelPanel(model: model, selected: false, state: MonitorState()).render(into: &waiting, area: waiting.bounds, glyphs: .unicode)
        assertScreenContains(waiting, "no spectrum yet")
    }

    func testSpectrumViewShowsTheReason() {
        var buffer = filledBuffer(width: 120, height: 40)
        SpectrumView(model: refused(), state: MonitorState()).render(into: &buffer, area: buffer.bounds, glyphs: .unicode)
        assertScreenContains(buffer, "spectrum_max_seconds")
        XCTAssertFalse(buffer.text.contains("no spectrum yet"), buffer.text)
    }
}
