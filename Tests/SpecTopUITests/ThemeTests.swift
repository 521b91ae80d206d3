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

/// Theme files as the record battery mutates records: hostile values for
/// every key, control characters, random byte edits. Each parses or fails
/// with one line naming the file and line; a frame showing that message has
/// no control character left in it.
final class ThemeMutationTests: XCTestCase {
    static let hostile = ["#FFFFFFFFFF", "#-1", "#1e999", "999999999999999999999", "-1", "1e19", "#\u{1B}[2J", "default default",
                          "#ff0000\u{07}", "", "#", "#ffffff # ok", "\u{9B}31m", "#FFFFFF\u{0}"]

    func check(_ text: String) {
        switch Theme.parse(text, name: "m", source: "m.theme") {
        case .success(let theme):
            XCTAssertEqual(theme.colors.count, ColorRole.allCases.count)
        case .failure(let error):
            XCTAssertTrue(error.description.contains("m.theme"), error.description)
            let frame = FrameRenderer.render(makeSnapshot(models: 2), info: MonitorInfo(preset: "t", dataset: "d", blasCore: "b", status: error.description),
                                             width: 100, height: 30)
            XCTAssertFalse(frame.text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F...0x9F).contains($0.value) },
                           "a theme's text never drives the terminal:\n\(frame.text)")
        }
    }

    func testEveryKeyTakesHostileValues() {
        for role in ColorRole.allCases {
            for value in Self.hostile { check("\(role.rawValue) = \(value)\n") }
        }
    }

    func testRandomByteEditsNeverCrash() {
        var random = TestRandom(seed: 0x7E3E)
        let base = Array(ColorRole.allCases.map { "\($0.rawValue) = #10ab3f" }.joined(separator: "\n").utf8)
        let alphabet = Array("#=0123456789abcdefABCDEFxyz \n\t".utf8) + [0x1B, 0x07, 0xC2, 0x9B, 0xFF]
        for _ in 0..<500 {
            var bytes = base
            for _ in 0..<(1 + random.index(below: 6)) where !bytes.isEmpty {
                let position = random.index(below: bytes.count)
                switch random.index(below: 3) {
                case 0: bytes[position] = alphabet[random.index(below: alphabet.count)]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[random.index(below: alphabet.count)], at: position)
                }
            }
            check(String(decoding: bytes, as: UTF8.self))
        }
    }
}
