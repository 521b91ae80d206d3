import Foundation
import SpecTopRecord
import SpecTopUI
import XCTest

/// `w`: the screen as text and SVG, never over an existing file.
final class ScreenExportTests: XCTestCase {
    func testWSavesTheScreenAsTextAndSVGWithoutOverwriting() throws {
        let directory = NSTemporaryDirectory() + "spectop-screen-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let monitor = MonitorController(source: RecordingSource(makeSnapshot(models: 4)), info: testInfo)
        monitor.screenDirectory = directory
        var buffer = CellBuffer(width: 100, height: 30)
        monitor.render(into: &buffer, glyphs: .unicode)
        monitor.handle(.character("w"))
        monitor.handle(.character("w"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(files.filter { $0.hasSuffix(".txt") }.count, 2, "\(files): a second save gets a name of its own")
        XCTAssertEqual(files.filter { $0.hasSuffix(".svg") }.count, 2, "\(files)")
        XCTAssertTrue(monitor.status?.hasPrefix("screen saved to \(directory)/spectop-screen-") == true, monitor.status ?? "nil")
        let text = try String(contentsOfFile: directory + "/" + files.first { $0.hasSuffix(".txt") }!, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n", omittingEmptySubsequences: false).count, 31, "30 rows and a final newline")
        for model in makeSnapshot(models: 4).models { XCTAssertTrue(text.contains(model.id), model.id) }
        XCTAssertTrue(text.contains("χ_pos"))
        let svg = try String(contentsOfFile: directory + "/" + files.first { $0.hasSuffix(".svg") }!, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "<text ").count - 1, 30)
        XCTAssertTrue(svg.contains("w16 active"))
    }

    func testSVGEscapesMarkupFromModelIds() {
        var buffer = CellBuffer(width: 20, height: 1)
        buffer.put("<a&\"b>", x: 0, y: 0, role: .loss)
        let svg = ScreenExport.svg(buffer, theme: .default)
        XCTAssertTrue(svg.contains("&lt;a&amp;&quot;b&gt;"), svg)
        XCTAssertFalse(svg.contains("<a&"))
        XCTAssertEqual(ScreenExport.text(buffer), "<a&\"b>\n")
    }

    func testAnUnwritableDirectoryIsSaidNotThrown() {
        let monitor = MonitorController(source: RecordingSource(makeSnapshot(models: 2)), info: testInfo)
        monitor.screenDirectory = "/proc/no-such-dir"
        monitor.handle(.character("w"))
        XCTAssertTrue(monitor.status?.hasPrefix("cannot save the screen in /proc/no-such-dir") == true, monitor.status ?? "nil")
    }
}
