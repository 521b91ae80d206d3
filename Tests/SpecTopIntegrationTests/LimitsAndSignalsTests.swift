import Foundation
import TestSupport
import XCTest
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

/// Reliability round 3 on the real binary: one-character paths, resource
/// limits (`ulimit -v`, `-f`), a stop signal in the middle of an export,
/// control characters in a printed config, a session leader without a
/// terminal. Each case crashed, hung, died by signal or cut a file before.
final class LimitsAndSignalsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func shell(_ script: String, timeout: Double = 120, file: StaticString = #filePath, line: UInt = #line) throws -> ShellProcess.Result {
        try ShellProcess.run(script, in: directory, timeout: timeout, file: file, line: line)
    }

    private func assertNoCrash(_ result: ShellProcess.Result, file: StaticString = #filePath, line: UInt = #line) {
        for marker in ["Fatal error", "Backtrace", "Illegal instruction", "crashed"] {
            XCTAssertFalse(result.output.contains(marker), result.output, file: file, line: line)
        }
    }

    func testOneCharacterPathsEverywhere() throws {
        try XCTUnwrap(Presets.text("tiny")).write(toFile: path("c"), atomically: true, encoding: .utf8)
        let result = try shell("""
            "$SPECTOP" run --config c --steps 3 --headless --out x >/dev/null; echo "run=$?"
            "$SPECTOP" export x --csv y; echo "export=$?"
            "$SPECTOP" claims x >/dev/null; echo "claims=$?"
            """)
        assertNoCrash(result)
        XCTAssertTrue(result.output.contains("run=0"), result.output)
        XCTAssertTrue(result.output.contains("export=0"), result.output)
        XCTAssertTrue(result.output.contains("claims=0"), result.output)
        XCTAssertEqual(try RunRecord.read(path: path("x")).endReason, "steps")
        XCTAssertTrue(try String(contentsOfFile: path("y"), encoding: .utf8).hasPrefix("model,step,"))
    }

    /// Under a tight address-space limit OpenBLAS's threads cannot get their
    /// buffers; `exit()` then waited for them for ever. Every command must end.
    func testEveryCommandEndsUnderATightAddressSpaceLimit() throws {
        let recorded = try shell(#""$SPECTOP" run --preset tiny --steps 5 --headless --out r.jsonl >/dev/null 2>&1; echo "run=$?""#)
        XCTAssertTrue(recorded.output.contains("run=0"), recorded.output)
        let result = try shell("""
            ulimit -v 200000
            "$SPECTOP" presets >/dev/null; echo "presets=$?"
            "$SPECTOP" claims r.jsonl >/dev/null; echo "claims=$?"
            "$SPECTOP" export r.jsonl --csv r.csv 2>/dev/null; echo "export=$?"
            "$SPECTOP" run --preset tiny --steps 5 --headless >run.txt 2>&1; echo "limited run=$?"; tail -1 run.txt
            """, timeout: 60)
        assertNoCrash(result)
        for expected in ["presets=0", "claims=0", "export=0"] { XCTAssertTrue(result.output.contains(expected), result.output) }
        XCTAssertTrue(result.output.contains("ulimit -v"), "the run says why it cannot start: \(result.output)")
    }

    /// `ulimit -f`: a write error like a full disk, never death by SIGXFSZ.
    func testAFileSizeLimitIsAWriteErrorNotADeath() throws {
        let result = try shell("""
            ulimit -f 24
            "$SPECTOP" run --preset tiny --steps 400 --headless --out f.jsonl >/dev/null 2>err.txt; echo "run=$?"
            cat err.txt
            """, timeout: 60)
        assertNoCrash(result)
        XCTAssertTrue(result.output.contains("run=1"), result.output)
        XCTAssertTrue(result.output.contains("cannot write the record to f.jsonl: File too large"), result.output)
        let data = try Data(contentsOf: URL(fileURLWithPath: path("f.jsonl")))
        XCTAssertEqual(data.last, 10, "the record ends with a whole line")
        let record = try RunRecord.parse(data, file: "f.jsonl")
        XCTAssertTrue(record.warnings.isEmpty, "\(record.warnings)")
        XCTAssertFalse(record.steps.isEmpty, "the whole lines that fit under the limit are kept")

        // The CSV of a long record does not fit either: no file, no temporary file, status 1.
        let big = try shell(#""$SPECTOP" run --preset tiny --steps 300 --headless --out big.jsonl >/dev/null 2>&1; ulimit -f 8; "$SPECTOP" export big.jsonl --csv big.csv; echo "export=$?"; ls -A"#, timeout: 60)
        assertNoCrash(big)
        XCTAssertTrue(big.output.contains("export=1"), big.output)
        XCTAssertTrue(big.output.contains("cannot write the CSV to big.csv: File too large"), big.output)
        XCTAssertFalse(big.output.contains("big.csv\n"), "no CSV under the name: \(big.output)")
        XCTAssertFalse(big.output.contains("spectop-partial"), "no temporary file left: \(big.output)")
    }

    /// A stop signal while the CSV is written leaves nothing under its name.
    func testAnExportCutByASignalLeavesNoFile() throws {
        // A long record (about 30 MB of CSV) so the signal lands mid-write.
        var text = #"{"type":"run","version":1,"models":[{"id":"m","params":5}]}"# + "\n"
        let line = RecordLines.encode(.metrics(model: "m", MetricSample(step: 1, loss: 0.123456789, chiLoss: 0.25, chiNet: 10.5, chiPos: 0.125,
                                                                         gradSq: 0.3125, wall: 1.5)))
        for step in 0..<200_000 { text += line.replacingOccurrences(of: #""step":1,"#, with: #""step":\#(step),"#) + "\n" }
        try text.write(toFile: path("long.jsonl"), atomically: true, encoding: .utf8)
        var cut = false
        for delay in ["0.6", "1.2", "2"] where !cut {
            try? FileManager.default.removeItem(atPath: path("long.csv"))
            let result = try shell("""
                "$SPECTOP" export long.jsonl --csv long.csv & pid=$!
                sleep \(delay); kill -TERM $pid; wait $pid; echo "export=$?"; ls -A
                """, timeout: 60)
            assertNoCrash(result)
            XCTAssertFalse(result.output.contains("spectop-partial"), "no temporary file left: \(result.output)")
            if result.output.contains("export=143") {
                cut = true
                XCTAssertFalse(FileManager.default.fileExists(atPath: path("long.csv")), "a cut export leaves no CSV: \(result.output)")
            } else {
                // Finished before the signal: then the file is whole.
                XCTAssertTrue(result.output.contains("export=0"), result.output)
                XCTAssertTrue(try String(contentsOfFile: path("long.csv"), encoding: .utf8).hasSuffix("\n"))
            }
        }
    }

    func testAPrintedConfigNeverWritesControlCharactersAndReadsBack() throws {
        var text = try XCTUnwrap(Presets.text("tiny"))
        text = text.replacingOccurrences(of: #"name = "tiny""#, with: #"name = "t\u001B]0;owned\u0007\u009B2J""#)
        XCTAssertTrue(text.contains("owned"), "the preset names itself")
        try text.write(toFile: path("evil.toml"), atomically: true, encoding: .utf8)
        let result = try shell(#""$SPECTOP" run --config evil.toml --print-config > printed.toml; echo "print=$?"; "$SPECTOP" run --config printed.toml --print-config > again.toml; echo "again=$?""#)
        XCTAssertTrue(result.output.contains("print=0") && result.output.contains("again=0"), result.output)
        let printed = try String(contentsOfFile: path("printed.toml"), encoding: .utf8)
        XCTAssertFalse(printed.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{9B}" }, printed)
        XCTAssertTrue(printed.contains(#"name = "t\u001B]0;owned\u0007\u009B2J""#), printed)
        let again = try String(contentsOfFile: path("again.toml"), encoding: .utf8)
        XCTAssertEqual(try ConfigParser.parse(again, file: "again"), try ConfigParser.parse(printed, file: "printed"), "the printed file reads back to itself")
        XCTAssertEqual(try ConfigParser.parse(printed, file: "printed").name, "t\u{1B}]0;owned\u{07}\u{9B}2J")
    }

    /// `setsid` (CI, cron): the bench's pseudo-terminal must not become its
    /// controlling terminal, whose hangup then killed it silently.
    func testTheBenchRunsAsASessionLeaderWithoutATerminal() throws {
        let result = try shell(#"setsid -w "$SPECTOP" bench --quick --only ui_bytes > bench.txt 2>&1; echo "bench=$?"; cat bench.txt"#, timeout: 120)
        assertNoCrash(result)
        XCTAssertTrue(result.output.contains("bench=0"), result.output)
        XCTAssertTrue(result.output.contains("ui_bytes_per_second_120x40"), result.output)
    }

    func testAnEmptyWatchPathIsAUsageError() throws {
        let result = try shell(#""$SPECTOP" watch ''; echo "watch=$?""#, timeout: 20)
        XCTAssertTrue(result.output.contains("watch=2"), result.output)
        XCTAssertTrue(result.output.contains("an empty path names no record file or directory"), result.output)
    }
}
