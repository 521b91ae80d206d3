import Foundation
@testable import SpecTopUI
import XCTest

final class ThemeTests: XCTestCase {
    func testGoodThemeParses() throws {
        let text = """
        # comment
        loss = #FF0000

        chi_pos=#00ff00   # trailing comment
        text = default
        """
        let theme = try Theme.parse(text, name: "t", source: "t.theme").get()
        XCTAssertEqual(theme.color(for: .loss), .rgb(RGBColor(red: 255, green: 0, blue: 0)))
        XCTAssertEqual(theme.color(for: .chiPos), .rgb(RGBColor(red: 0, green: 255, blue: 0)))
        XCTAssertEqual(theme.color(for: .text), .terminalDefault)
    }

    func testMissingKeysFallBackToTheDefaultTheme() throws {
        let theme = try Theme.parse("loss = #010203", name: "t", source: "t.theme").get()
        XCTAssertEqual(theme.color(for: .chiNet), Theme.default.color(for: .chiNet))
        XCTAssertEqual(theme.color(for: .marker), Theme.default.color(for: .marker))
        XCTAssertEqual(theme.colors.count, ColorRole.allCases.count)
    }

    func testUnknownKeysAreIgnored() throws {
        let theme = try Theme.parse("sparkle = #123456\nloss = #010203", name: "t", source: "t.theme").get()
        XCTAssertEqual(theme.color(for: .loss), .rgb(RGBColor(red: 1, green: 2, blue: 3)))
    }

    func testMalformedLinesNameFileAndLine() {
        let missingEquals = Theme.parse("# ok\nloss #ff0000", name: "t", source: "/x/t.theme")
        XCTAssertEqual(missingEquals.failure?.line, 2)
        XCTAssertEqual(missingEquals.failure?.source, "/x/t.theme")
        let badHex = Theme.parse("loss = #ff00\n", name: "t", source: "t.theme")
        XCTAssertEqual(badHex.failure?.line, 1)
        XCTAssertTrue(badHex.failure?.description.contains("t.theme, line 1") ?? false)
        XCTAssertTrue(badHex.failure?.description.contains("#ff00") ?? false)
        XCTAssertEqual(Theme.parse("loss = #gg0000", name: "t", source: "t").failure?.line, 1)
        XCTAssertEqual(Theme.parse("= #ff0000", name: "t", source: "t").failure?.line, 1)
        XCTAssertEqual(Theme.parse("loss = #ff0000 extra", name: "t", source: "t").failure?.line, 1)
    }

    func testMalformedFileFallsBackToDefaultWithTheError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-theme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("broken.theme").path
        try "text = #ffffff\nloss: #ff0000\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = ThemeLoader.load(path)
        XCTAssertEqual(result.theme, .default)
        XCTAssertEqual(result.error?.line, 2)
        XCTAssertEqual(result.error?.source, path)
    }

    func testUserThemeFromXDGConfigHome() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-xdg-\(UUID().uuidString)")
        let themes = base.appendingPathComponent("spectop/themes")
        try FileManager.default.createDirectory(at: themes, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        try "loss = #abcdef\n".write(to: themes.appendingPathComponent("mine.theme"), atomically: true, encoding: .utf8)
        let result = ThemeLoader.load("mine", environment: ["XDG_CONFIG_HOME": base.path])
        XCTAssertNil(result.error)
        XCTAssertEqual(result.theme.name, "mine")
        XCTAssertEqual(result.theme.color(for: .loss), .rgb(RGBColor(red: 0xab, green: 0xcd, blue: 0xef)))
        XCTAssertEqual(ThemeLoader.userThemePath(named: "x", environment: ["HOME": "/home/u"]), "/home/u/.config/spectop/themes/x.theme")
    }

    func testUnknownNameIsAnErrorWithTheDefault() {
        let result = ThemeLoader.load("nonesuch", environment: [:])
        XCTAssertEqual(result.theme, .default)
        XCTAssertTrue(result.error?.description.contains("nonesuch") ?? false)
    }

    func testBuiltinThemesParseAndMonoHasNoColour() throws {
        for name in Theme.builtinNames {
            let theme = try XCTUnwrap(Theme.builtin(named: name))
            XCTAssertEqual(theme.name, name)
        }
        XCTAssertTrue(try XCTUnwrap(Theme.builtin(named: "mono")).isMonochrome)
        XCTAssertFalse(Theme.default.isMonochrome)
        XCTAssertEqual(Set(Theme.builtinNames), ["default", "light", "solarized", "mono"])
    }

    func testThemeFilesEqualTheEmbeddedText() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in Theme.builtinNames {
            let file = root.appendingPathComponent("themes/\(name).theme")
            let text = try String(contentsOf: file, encoding: .utf8)
            XCTAssertEqual(text, BuiltinThemes.text(named: name), "themes/\(name).theme differs from the compiled-in text")
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
