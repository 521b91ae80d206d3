import Foundation
import XCTest
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

/// Paths, outputs and headers as an adversarial user hands them over: one-
/// character names, a file-size limit mid-record, interrupted outputs,
/// control characters in printed configs, formulas in model ids, headers that
/// repeat a model or spell their version wrong, writers that invent a model
/// per line.
final class FileSafetyTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "spectop-files-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: paths

    func testTheFolderOfAnyPathIncludingOneCharacterNames() {
        // Foundation's NSString.deletingLastPathComponent traps on the first of these.
        XCTAssertEqual(PathName.directory(of: "x"), "")
        XCTAssertEqual(PathName.parent(of: "x"), ".")
        XCTAssertEqual(PathName.parent(of: "y.csv"), ".")
        XCTAssertEqual(PathName.directory(of: "/x"), "/")
        XCTAssertEqual(PathName.directory(of: "a/b"), "a")
        XCTAssertEqual(PathName.directory(of: "a//b/"), "a")
        XCTAssertEqual(PathName.directory(of: "./x"), ".")
        XCTAssertEqual(PathName.directory(of: "/"), "/")
        XCTAssertEqual(PathName.directory(of: "a/b/c.jsonl"), "a/b")
        XCTAssertEqual(PathName.directory(of: ""), "")
    }

    func testOneCharacterDestinationsAreCheckedNotCrashed() throws {
        let previous = FileManager.default.currentDirectoryPath
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory))
        XCTAssertEqual(try RecordDestination.check("x", overwrite: false).kind, .newFile)
        XCTAssertNoThrow(try WatchCommand.target("z"))
        var config = ExperimentConfig.DataSection()
        config.path = "d.csv"
        _ = FileManager.default.createFile(atPath: "c", contents: Data())
        config.resolvePaths(relativeTo: "c")
        XCTAssertEqual(config.path, "d.csv", "a bare config name has no folder to resolve against")
    }

    // MARK: the record under a file-size limit

    func testAFileSizeLimitStopsTheRecordAtItsLastCompleteLine() throws {
        let path = directory + "/limited.jsonl"
        let recorder = try RunRecorder(path: path)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        let saved = limit
        limit.rlim_cur = 3000
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit), 0)
        recorder.writeHeader(#"{"type":"run","version":1,"models":[{"id":"m","params":5}]}"#)
        for step in 0..<200 {
            let sample = MetricSample(step: step, loss: 0.5, chiLoss: 0.25, chiNet: 10, chiPos: 0.125, gradSq: 0.3125, wall: 1.5)
            recorder.writeHeader(RecordLines.encode(.metrics(model: "m", sample)))  // each line flushed at once
        }
        recorder.finish(endLine: RecordLines.end(reason: "steps", wall: 2))
        var restored = saved
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &restored)
        signal(SIGXFSZ, previousHandler)
        let failure = try XCTUnwrap(recorder.failure)
        XCTAssertTrue(failure.contains("File too large"), failure)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertGreaterThan(data.count, 1000)
        XCTAssertLessThanOrEqual(data.count, 3000)
        XCTAssertEqual(data.last, 10, "the record ends with a complete line")
        let record = try RunRecord.parse(data, file: path)
        XCTAssertTrue(record.warnings.isEmpty, "\(record.warnings)")
        XCTAssertGreaterThan(record.steps["m"]?.count ?? 0, 5)
    }

    // MARK: outputs: complete or absent

    func testAnOutputIsInvisibleUntilCommittedAndGoneWhenDiscarded() throws {
        let path = directory + "/out.csv"
        let naming = ExportCommand.naming
        let output = try OutputFile(try RecordDestination.check(path, overwrite: false, naming: naming), naming: naming)
        try output.write("a,b\n1,2\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing under the name before the commit")
        try output.commit()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "a,b\n1,2\n")
        // --force over it, abandoned halfway (a stop signal): the old file stays whole.
        let second = try OutputFile(try RecordDestination.check(path, overwrite: true, naming: naming), naming: naming)
        try second.write("half,")
        second.discard()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "a,b\n1,2\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["out.csv"], "no temporary file left")
    }

    func testADumpIsNamedOnlyWhenCompleteAndLeftoversAreSpectops() throws {
        let root = directory + "/dump"
        guard case .success(let partial) = DumpDestination.partialFolder(in: root) else { return XCTFail("no partial folder") }
        XCTAssertTrue((partial as NSString).lastPathComponent.hasPrefix(".spectop-partial-"), partial)
        _ = FileManager.default.createFile(atPath: partial + "/probe_x.npy", contents: Data([1]))
        XCTAssertTrue(DumpDestination.isDumpEntry((partial as NSString).lastPathComponent, in: root), "an interrupted export may be removed")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: root).contains { $0.hasPrefix("step-") },
                       "no step folder until the export is complete")
        guard case .success(let named) = DumpDestination.publish(partial, in: root, step: 7) else { return XCTFail("not named") }
        XCTAssertEqual(named, root + "/step-000007")
        // A second export of the same step gets the next name, never the first one's folder.
        guard case .success(let again) = DumpDestination.partialFolder(in: root) else { return XCTFail("no partial folder") }
        _ = FileManager.default.createFile(atPath: again + "/probe_x.npy", contents: Data([2]))
        guard case .success(let second) = DumpDestination.publish(again, in: root, step: 7) else { return XCTFail("not named") }
        XCTAssertEqual(second, root + "/step-000007-2")
        XCTAssertEqual(FileManager.default.contents(atPath: named + "/probe_x.npy"), Data([1]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root).sorted(), ["step-000007", "step-000007-2"])
    }

    // MARK: printed configs

    func testPrintedConfigsEscapeControlCharactersAndReadBack() throws {
        var config = try ConfigParser.parse(try XCTUnwrap(Presets.text("tiny")), file: "tiny")
        config.name = "evil\u{1B}]0;title\u{07}\u{9B}31m"
        config.description = "tab\there, quote \" backslash \\ newline\nend \u{7F}"
        let text = ConfigParser.render(config)
        XCTAssertFalse(text.unicodeScalars.contains { TerminalSafeText.isControl($0) && $0 != "\n" },
                       "no raw control character reaches the terminal")
        XCTAssertTrue(text.contains(#"name = "evil\u001B]0;title\u0007\u009B31m""#), text)
        XCTAssertEqual(try ConfigParser.parse(text, file: "printed"), config)
    }

    // MARK: CSV export

    func testModelIdsThatLookLikeFormulasAreMadeInert() throws {
        let ids = ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "plain", "w8-active"]
        let header = #"{"type":"run","version":1,"models":["# + ids.map { "{\"id\":\(JSONLine.quote($0)),\"params\":5}" }.joined(separator: ",") + "]}"
        let lines = ids.map { RecordLines.encode(.metrics(model: $0, MetricSample(step: 1, loss: -0.5, chiLoss: 1, chiNet: 2, chiPos: nil, gradSq: 1, wall: 1))) }
        let record = try RunRecord.parse(Data(([header] + lines).joined(separator: "\n").utf8), file: "f.jsonl")
        let long = CSVExport.text(record, wide: false)
        let firstCells = long.split(separator: "\n").dropFirst().map { String($0.prefix { $0 != "," }) }
        XCTAssertEqual(firstCells, ["\"'=HYPERLINK(\"\"x\"\")\"", "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain", "w8-active"])
        XCTAssertTrue(long.contains(",-0.5,"), "numbers keep their sign")
        let wide = CSVExport.text(record, wide: true)
        XCTAssertTrue(wide.hasPrefix("step,\"'=HYPERLINK(\"\"x\"\"):wall\""), wide)
    }

    // MARK: headers

    func testAHeaderListingAModelTwiceIsReadOnceWithAWarning() throws {
        let text = """
            {"type":"run","version":1,"models":[{"id":"m","params":5},{"id":"m","params":9},{"id":"n","params":3}]}
            {"type":"step","model":"m","step":1,"loss":0.5}

            """
        let record = try RunRecord.parse(Data(text.utf8), file: "dup.jsonl")
        XCTAssertEqual(record.models.map(\.id), ["m", "n"])
        XCTAssertEqual(record.models.first?.parameterCount, 5)
        XCTAssertEqual(record.warnings, ["dup.jsonl:1: the header lists model m more than once; each is read once, as its first entry says"])
        XCTAssertEqual(CSVExport.text(record, wide: false).split(separator: "\n").count, 2, "one row, not two")
    }

    func testAVersionOfTheWrongKindIsNamed() {
        let cases = [("1.5", "1.5"), ("\"1\"", "\"1\""), ("true", "true"), ("1e300", "1e+300"), ("[1]", "an array")]
        for (value, shown) in cases {
            let text = #"{"type":"run","version":\#(value)}"# + "\n"
            XCTAssertThrowsError(try RunRecord.parse(Data(text.utf8), file: "v.jsonl"), value) { error in
                XCTAssertEqual("\(error)", "v.jsonl:1: the run line's version is \(shown), not a version number (this spectop reads version 1)")
            }
        }
        XCTAssertThrowsError(try RunRecord.parse(Data(#"{"type":"run"}"#.utf8), file: "v.jsonl")) { error in
            XCTAssertEqual("\(error)", "v.jsonl:1: the run line has no version")
        }
    }

    // MARK: watch memory

    func testAWriterThatNamesANewModelEveryLineIsBounded() throws {
        var run = LiveRun(header: RecordHeader(version: 1), historyCapacity: 8)
        for index in 0..<(LiveRun.modelLimit + 3000) {
            let sample = MetricSample(step: index, loss: 1, chiLoss: 1, chiNet: 1, chiPos: nil, gradSq: 1, wall: Double(index))
            run.apply(.step(model: "m\(index)", sample))
        }
        XCTAssertEqual(run.modelCount, LiveRun.modelLimit)
        XCTAssertEqual(run.droppedModelLines, 3000)
        XCTAssertEqual(run.droppedModelCount, LiveRun.modelLimit, "counted up to the limit, then said as more")
        XCTAssertEqual(run.modelSnapshots().count, LiveRun.modelLimit)
    }
}
