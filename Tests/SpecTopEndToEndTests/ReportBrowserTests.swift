import XCTest
import Foundation
import TestSupport

/// `spectop report` in a real browser: headless Chromium (Debian's `chromium`,
/// which `make e2e` installs) renders the page to a PNG, which must not be
/// blank, and dumps the DOM it built, which must hold every section and every
/// figure the file has.
final class ReportBrowserTests: XCTestCase {
    private var scratch: URL!
    private var chromium: URL!

    override func setUpWithError() throws {
        guard let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("chromium is not installed, so the report is not rendered in a browser (make e2e installs it: scripts/install-deps.sh chromium)")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            throw XCTSkip("python3 is not installed: scripts/png-stats.py decodes the screenshot")
        }
        chromium = URL(fileURLWithPath: browser)
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-report-browser-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    static let sections = ["run", "scaling", "curves", "spectra", "claims"]

    struct Rendering {
        var dom: String
        var width: Int
        var height: Int
        var colours: Int
        var background: String
        /// The share of pixels not in the background colour.
        var drawn: Double
    }

    /// Chromium's arguments: a profile of its own (tests may run beside another
    /// Chromium), no sandbox (as root in a container), no GPU.
    private func browser(_ arguments: [String], _ page: URL) throws -> SpectopProcess.Result {
        let profile = scratch.appendingPathComponent("profile-\(UUID().uuidString.prefix(8))").path
        return try SpectopProcess.run(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile)"]
                                      + arguments + [page.absoluteString], timeout: 120, executable: chromium)
    }

    /// Renders `page` at 1200×4000 and dumps its DOM.
    private func render(_ page: URL, file: StaticString = #filePath, line: UInt = #line) throws -> Rendering {
        let png = scratch.appendingPathComponent(page.deletingPathExtension().lastPathComponent + ".png")
        let shot = try browser(["--screenshot=\(png.path)", "--window-size=1200,4000"], page)
        XCTAssertEqual(shot.status, 0, shot.stderr, file: file, line: line)
        let dom = try browser(["--dump-dom"], page)
        XCTAssertEqual(dom.status, 0, dom.stderr, file: file, line: line)
        let script = SpectopProcess.repositoryRoot.appendingPathComponent("scripts/png-stats.py").path
        let stats = try SpectopProcess.run([script, png.path], executable: URL(fileURLWithPath: "/usr/bin/python3"))
        XCTAssertEqual(stats.status, 0, stats.stderr, file: file, line: line)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any], stats.stdout, file: file, line: line)
        return Rendering(dom: dom.stdout, width: json["width"] as? Int ?? 0, height: json["height"] as? Int ?? 0,
                         colours: json["colours"] as? Int ?? 0, background: json["background"] as? String ?? "",
                         drawn: json["drawn_fraction"] as? Double ?? 0)
    }

    /// A page with text, charts and histograms: many colours (anti-aliased
    /// text and curves, the palette), a white background and a fair share drawn.
    private func isDrawn(_ r: Rendering) -> Bool {
        r.width == 1200 && r.height == 4000 && r.colours >= 200 && r.background == "ffffff" && r.drawn >= 0.03
    }

    /// Writes the report of `inputs` and checks it in the browser.
    /// `logAxis`: the record's values span decades somewhere, so some axis must be labelled log-scaled.
    private func checkReport(of inputs: [String], name: String, logAxis: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        let html = scratch.appendingPathComponent(name + ".html")
        let result = try SpectopProcess.run(["report"] + inputs + ["-o", html.path])
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("spectop: wrote the report of "), result.stderr, file: file, line: line)
        let source = try String(contentsOf: html, encoding: .utf8)
        let rendering = try render(html, file: file, line: line)
        XCTAssertTrue(isDrawn(rendering), "\(name): the screenshot looks blank: \(rendering.colours) colours, \(rendering.drawn) drawn on \(rendering.background)",
                      file: file, line: line)
        for id in Self.sections {
            XCTAssertTrue(rendering.dom.contains("id=\"\(id)\""), "\(name): the browser's DOM has no section \(id)", file: file, line: line)
        }
        // The browser built every chart and histogram the file has: none was lost to a parse error.
        let figures = source.components(separatedBy: "<svg class=").count - 1
        XCTAssertGreaterThanOrEqual(figures, 4, name, file: file, line: line)
        XCTAssertEqual(rendering.dom.components(separatedBy: "<svg class=").count - 1, figures, name, file: file, line: line)
        XCTAssertEqual(rendering.dom.components(separatedBy: "<polyline").count, source.components(separatedBy: "<polyline").count, name, file: file, line: line)
        if logAxis { XCTAssertTrue(rendering.dom.contains("(log scale)"), "\(name): a log-scaled axis is labelled as one", file: file, line: line) }
    }

    func testTheDefaultPresetsRecordRendersWithEverySection() throws {
        let record = scratch.appendingPathComponent("reach.jsonl").path
        let run = try SpectopProcess.run(["run", "--headless", "--steps", "60", "--out", record], timeout: 300, executable: SpectopProcess.fastestBinary)
        XCTAssertEqual(run.status, 0, run.stderr)
        try checkReport(of: [record], name: "reach")
    }

    func testAProbeRecordRendersWithEverySection() throws {
        let fixture = SpectopProcess.repositoryRoot.appendingPathComponent("Tests/Fixtures/probe-record.jsonl").path
        try checkReport(of: [fixture], name: "probe")
    }

    /// A TensorBoard log directory, read through the same path as claims and
    /// export once the foreign-log readers (issue 32 item 1) are in the tree.
    func testATensorBoardLogDirectoryRendersWithEverySection() throws {
        let logs = SpectopProcess.repositoryRoot.appendingPathComponent("examples/foreign-logs/tensorboard").path
        guard FileManager.default.fileExists(atPath: logs) else {
            throw XCTSkip("no TensorBoard logs at examples/foreign-logs/tensorboard: they come with the foreign-log readers (issue 32 item 1)")
        }
        // Its two short runs span less than 1.5 decades anywhere: every axis is linear.
        try checkReport(of: [logs], name: "tensorboard", logAxis: false)
    }

    /// The check itself: a blank page, and a page of one line of text, are not "drawn".
    func testTheBlankPageCheckRejectsABlankPage() throws {
        let blank = scratch.appendingPathComponent("blank.html"), text = scratch.appendingPathComponent("text.html")
        try "<!DOCTYPE html><html><body></body></html>".write(to: blank, atomically: true, encoding: .utf8)
        try "<!DOCTYPE html><html><body><p>spectop report</p></body></html>".write(to: text, atomically: true, encoding: .utf8)
        let empty = try render(blank)
        XCTAssertEqual(empty.colours, 1)
        XCTAssertFalse(isDrawn(empty))
        XCTAssertFalse(isDrawn(try render(text)))
    }
}
