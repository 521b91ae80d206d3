import Foundation
import TestSupport
import XCTest
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

/// The reliability battery (issue 11): every repro, run on the real binary.
final class ReliabilityTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-rel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The tiny preset with `replacements` applied to its printed lines (the
    /// issue's `sed` repros), written to `name`.
    private func tinyConfig(_ name: String, _ replacements: [(String, String)]) throws -> String {
        var text = try XCTUnwrap(Presets.text("tiny"))
        text = ConfigParser.render(try ConfigParser.parse(text, file: "tiny"))
        for (old, new) in replacements {
            XCTAssertTrue(text.contains(old), "tiny has no line \(old)")
            text = text.replacingOccurrences(of: old, with: new)
        }
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    private func run(_ arguments: [String], timeout: Double = 120, file: StaticString = #filePath, line: UInt = #line) throws -> SpectopProcess.Result {
        try SpectopProcess.run(arguments, timeout: timeout, executable: SpectopProcess.fastestBinary, file: file, line: line)
    }

    private func assertNoCrash(_ result: SpectopProcess.Result, file: StaticString = #filePath, line: UInt = #line) {
        for marker in ["Fatal error", "Stack dump", "Backtrace", "internal error", "💣"] {
            XCTAssertFalse(result.stderr.contains(marker), result.stderr, file: file, line: line)
        }
        XCTAssertLessThan(result.status, 128, "killed or crashed: \(result.stderr)", file: file, line: line)
    }

    // MARK: High 1 and 3: a diverging model

    func testNonFiniteKernelMarksTheModelDivergedAndTheRunEnds() throws {
        // lr 1.0 without momentum: w32-active's eNTK becomes NaN while its loss is finite.
        let config = try tinyConfig("loop.toml", [("lr = 0.1 ", "lr = 1.0 "), ("momentum = 0.9 ", "momentum = 0.0 ")])
        let out = path("loop.jsonl")
        let result = try run(["run", "--config", config, "--steps", "40", "--headless", "--out", out], timeout: 60)
        assertNoCrash(result)
        XCTAssertEqual(result.status, 0, result.stderr)
        let record = try RunRecord.read(path: out)
        XCTAssertEqual(record.endReason, "steps")
        XCTAssertEqual(record.divergedModels, ["w32-active"])
        XCTAssertLessThanOrEqual(record.events.filter { $0.kind == "error" }.count, 6 * record.models.count)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: out)[.size] as? Int)
        XCTAssertLessThan(size, 1_000_000, "the record must not grow with repeated errors")
        // The other models finished their 40 steps.
        for model in record.models where model.id != "w32-active" {
            XCTAssertEqual(record.steps[model.id]?.last?.step, 40, model.id)
        }
        let diverged = try XCTUnwrap(record.events.first { $0.kind == "diverged" })
        XCTAssertTrue(diverged.detail?.contains("not finite") == true, diverged.detail ?? "")
    }

    func testEveryModelDivergedExitsOne() throws {
        let config = try tinyConfig("all.toml", [("lr = 0.1 ", "lr = 100.0 "), ("momentum = 0.9 ", "momentum = 0.0 ")])
        let result = try run(["run", "--config", config, "--steps", "30", "--headless"], timeout: 60)
        assertNoCrash(result)
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("every model diverged"), result.stderr)
    }

    // MARK: High 2: a failed start never touches a file

    func testAFailedStartLeavesEveryPathUntouched() throws {
        let bad = path("bad.toml")
        try "[metrics]\nprobe = 100000000\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let keep = path("keep.jsonl")
        try "{\"type\":\"run\"} precious\n".write(toFile: keep, atomically: true, encoding: .utf8)
        let link = path("link.jsonl")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: keep)
        let csv = path("data.csv")
        try "x,y\n1,2\n3,4\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let csvConfig = path("csv.toml")
        try "[data]\nkind = \"csv\"\npath = \"\(csv)\"\ntarget = \"y\"\n[metrics]\nprobe = 100000000\n".write(toFile: csvConfig, atomically: true, encoding: .utf8)
        let before = try [keep, bad, csv, csvConfig].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        for arguments in [["--config", bad, "--out", keep], ["--config", bad, "--out", link], ["--config", bad, "--out", bad],
                          ["--config", bad, "--out", keep, "--force"], ["--config", bad, "--out", bad, "--force"],
                          ["--config", csvConfig, "--out", csv, "--force"], ["--config", bad, "--out", "/dev/null"],
                          ["--config", bad, "--out", path("new.jsonl")]] {
            let result = try run(["run", "--headless"] + arguments)
            assertNoCrash(result)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
        }
        let after = try [keep, bad, csv, csvConfig].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        XCTAssertEqual(before, after, "a failed start changed a file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("new.jsonl")), "a failed start created its record")
        var info = stat()
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null is no longer a device")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), keep)
    }

    func testAnExistingRecordNeedsForceAndTheMessageSaysSo() throws {
        let out = path("run.jsonl")
        try "old record\n".write(toFile: out, atomically: true, encoding: .utf8)
        let refused = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--out", out])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("already exists; pass --force"), refused.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "old record\n")
        let forced = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--out", out, "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try RunRecord.read(path: out).endReason, "steps")
    }

    func testRecordCannotBeTheExperimentFile() throws {
        let config = try tinyConfig("self.toml", [])
        let original = try String(contentsOfFile: config, encoding: .utf8)
        let result = try run(["run", "--config", config, "--steps", "5", "--headless", "--out", config, "--force"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("which this run reads"), result.stderr)
        XCTAssertEqual(try String(contentsOfFile: config, encoding: .utf8), original)
    }

    // MARK: Medium 8: two runs, one record

    func testASecondRunOnTheSameRecordRefusesAndTheFirstRecordStaysReadable() throws {
        let out = path("shared.jsonl")
        let first = try BackgroundSpectop(["run", "--preset", "tiny", "--steps", "100000", "--headless", "--out", out], in: directory)
        XCTAssertTrue(BackgroundSpectop.wait(timeout: 30) { (try? String(contentsOfFile: out, encoding: .utf8))?.contains("\"type\":\"step\"") == true })
        for extra in [[], ["--force"]] {
            let second = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--out", out] + extra)
            XCTAssertEqual(second.status, 2, second.stderr)
            XCTAssertTrue(second.stderr.contains("being written by another spectop run"), second.stderr)
        }
        XCTAssertNotNil(first.signal(SIGTERM))
        let record = try RunRecord.read(path: out)
        XCTAssertEqual(record.endReason, "signal")
        let ends = try String(contentsOfFile: out, encoding: .utf8).components(separatedBy: "\"type\":\"end\"").count - 1
        XCTAssertEqual(ends, 1)
    }

    // MARK: Medium 9 and the dump checks

    func testDumpDirectoryChecksComeFirst() throws {
        let dump = path("dump")
        let inside = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--dump", dump, "--out", dump + "/run.jsonl"])
        XCTAssertEqual(inside.status, 2)
        XCTAssertTrue(inside.stderr.contains("inside --dump"), inside.stderr)
        try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
        try "mine".write(toFile: dump + "/notes.txt", atomically: true, encoding: .utf8)
        let foreign = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--dump", dump, "--force"])
        XCTAssertEqual(foreign.status, 2)
        XCTAssertTrue(foreign.stderr.contains("not a spectop state dump"), foreign.stderr)
        try FileManager.default.removeItem(atPath: dump + "/notes.txt")
        let first = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--dump", dump])
        XCTAssertEqual(first.status, 0, first.stderr)
        let again = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--dump", dump])
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("already holds a state dump; pass --force"), again.stderr)
        let forced = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--dump", dump, "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        let unwritable = try run(["run", "--preset", "tiny", "--steps", "5", "--headless", "--dump", "/proc/nope/dump"])
        XCTAssertEqual(unwritable.status, 2, "an unwritable dump must be refused before training")
    }

    func testADivergedModelDoesNotStopTheDumpOfTheOthers() throws {
        let config = try tinyConfig("div.toml", [("lr = 0.1 ", "lr = 1.0 "), ("momentum = 0.9 ", "momentum = 0.0 ")])
        let dump = path("dump")
        let result = try run(["run", "--config", config, "--steps", "40", "--headless", "--dump", dump], timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        for id in ["w8-active", "w8-frozen", "w32-active", "w32-frozen"] {
            let manifest = try Data(contentsOf: URL(fileURLWithPath: "\(dump)/\(id)/manifest.json"))
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: manifest) as? [String: Any])
            XCTAssertEqual(object["diverged"] as? Bool, id == "w32-active" ? true : nil, id)
            if id != "w32-active" {
                let metrics = try XCTUnwrap(object["metrics"] as? [String: Any])
                XCTAssertNotNil(metrics["chi_net"] as? Double, "\(id) lost its metrics")
            }
        }
    }

    // MARK: Medium 4, 13: stderr and stdout failures

    func testFailedWritesToStderrAndStdoutNeverCrash() throws {
        let out = path("quiet.jsonl")
        let cases: [(String, Int32)] = [
            ("\"$SPECTOP\" run --bogus 2>/dev/full", 2),
            ("\"$SPECTOP\" run --preset nope --headless 2>&-", 2),
            ("\"$SPECTOP\" run --preset tiny --steps 30 --headless 2>/dev/full", 0),
            ("\"$SPECTOP\" run --preset tiny --steps 30 --headless --out \(out) 2>&-", 0),
            ("\"$SPECTOP\" run --preset tiny --print-config >/dev/full", 1),
            ("\"$SPECTOP\" presets >/dev/full", 1),
        ]
        for (script, expected) in cases {
            let result = try ShellProcess.run(script + "; echo \"status=$?\"", in: directory)
            XCTAssertTrue(result.output.contains("status=\(expected)"), "\(script): \(result.output)")
            XCTAssertFalse(result.output.contains("Fatal error"), result.output)
        }
        // With stderr closed no progress line may land in the record.
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertGreaterThan(lines.count, 3)
        for line in lines { XCTAssertTrue(line.hasPrefix("{"), "not a record line: \(line)") }
        XCTAssertEqual(try RunRecord.read(path: out).endReason, "steps")
        // Progress into a pipe that closes early: training goes on to the end.
        let piped = try ShellProcess.run("\"$SPECTOP\" run --preset tiny --steps 3000 --headless --out \(path("piped.jsonl")) 2>&1 | head -c 10 >/dev/null; echo done", in: directory)
        XCTAssertTrue(piped.output.contains("done"))
        XCTAssertEqual(try RunRecord.read(path: path("piped.jsonl")).endReason, "steps")
    }

    // MARK: Medium 5, 6 and Low 12: signals

    func testEveryStopSignalEndsTheRunWithItsStatusAndAnEndLine() throws {
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGALRM] {
            let out = path("sig\(signal).jsonl")
            let run = try BackgroundSpectop(["run", "--preset", "tiny", "--steps", "100000", "--headless", "--out", out], in: directory)
            XCTAssertTrue(BackgroundSpectop.wait(timeout: 30) { (try? String(contentsOfFile: out, encoding: .utf8))?.contains("\"type\":\"step\"") == true })
            let seconds = try XCTUnwrap(run.signal(signal), "signal \(signal) did not end the run")
            XCTAssertLessThan(seconds, 3, "signal \(signal)")
            XCTAssertEqual(run.process.terminationReason, .exit, "signal \(signal): \(run.stderr)")
            XCTAssertEqual(run.process.terminationStatus, 128 + signal, "signal \(signal): \(run.stderr)")
            XCTAssertFalse(run.stderr.contains("Backtrace") || run.stderr.contains("Fatal"), run.stderr)
            let record = try RunRecord.read(path: out)
            XCTAssertEqual(record.endReason, "signal", "signal \(signal)")
        }
    }

    func testASignalWhileTheDataLoadsEndsPromptlyAndWritesNothing() throws {
        // A million teacher samples take seconds to generate.
        let config = path("slow.toml")
        try "[data]\nsamples = 1000000\ninput_dim = 64\n[models]\nwidths = [8]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let out = path("slow.jsonl")
        let run = try BackgroundSpectop(["run", "--config", config, "--headless", "--out", out], in: directory)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertTrue(run.process.isRunning, "preparation finished too fast for this test: \(run.stderr)")
        let seconds = try XCTUnwrap(run.signal(SIGTERM))
        XCTAssertLessThan(seconds, 3)
        XCTAssertEqual(run.process.terminationStatus, 143, run.stderr)
        XCTAssertTrue(run.stderr.contains("while preparing the run"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "an interrupted start left a record")
    }

    // MARK: Medium 7, 10, 11

    func testSeedsOutsideTheRangeAreRefusedAndTheLargestRoundTrips() throws {
        let refused = try run(["run", "--preset", "tiny", "--headless", "--seed", "9223372036854775808"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("--seed must be between 0 and 9223372036854775807"), refused.stderr)
        let printed = try run(["run", "--preset", "tiny", "--seed", "9223372036854775807", "--print-config"])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        XCTAssertEqual(try ConfigParser.parse(printed.stdout, file: "printed").seed, 9_223_372_036_854_775_807)
        let recorded = try run(["run", "--preset", "tiny", "--steps", "3", "--seed", "9223372036854775807", "--headless", "--out", path("seed.jsonl")])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertEqual(try RunRecord.read(path: path("seed.jsonl")).seed, 9_223_372_036_854_775_807)
    }

    func testUserStringsCannotDriveTheTerminal() throws {
        let config = path("escape.toml")
        try "[data]\nkind = \"\\u001b]0;PWNED\\u0007\\u001b[2J\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try run(["run", "--config", config, "--headless"])
        XCTAssertEqual(result.status, 2)
        XCTAssertFalse(result.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, result.stderr.debugDescription)
        XCTAssertTrue(result.stderr.contains("\\e]0;PWNED"), result.stderr)
        // A record whose model id carries an escape: claims prints it escaped.
        let record = path("escape.jsonl")
        try "{\"type\":\"run\",\"version\":1,\"models\":[{\"id\":\"w8\\u001b[2J\",\"width\":8,\"mode\":\"active\"}]}\n".write(toFile: record, atomically: true, encoding: .utf8)
        let claims = try run(["claims", record])
        XCTAssertEqual(claims.status, 0, claims.stderr)
        XCTAssertFalse(claims.stdout.unicodeScalars.contains { $0.value == 0x1B }, claims.stdout.debugDescription)
    }

    func testAConfigurationThatCannotFitIsRefusedBeforeAllocating() throws {
        let config = path("huge.toml")
        try "[models]\nwidths = [65536]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let start = Date()
        let result = try run(["run", "--config", config, "--headless"], timeout: 60)
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("needs about") && result.stderr.contains("available"), result.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "it allocated before refusing")
        // A top_k in the quintillions once saturated the estimate through the
        // frozen models (whose readout spectra need no Lanczos vectors) and
        // trapped on the overflowing total (SIGILL): now the active models are
        // told top_k must be below m, and everything trains.
        let hugeK = path("topk.toml"), record = path("topk.jsonl")
        try "[data]\nkind = \"digits\"\n[metrics]\nprobe = 1024\ntop_k = 3000000000000000000\n".write(toFile: hugeK, atomically: true, encoding: .utf8)
        let trained = try run(["run", "--config", hugeK, "--headless", "--steps", "1", "--out", record], timeout: 120)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let refusals = try RunRecord.read(path: record).events.filter { $0.kind == "spectrum" }
        XCTAssertEqual(refusals.count, 4, "one per active model: \(refusals)")
        XCTAssertTrue(refusals.allSatisfy { $0.detail?.contains("must be below the eNTK's m = 10240 rows") == true }, "\(refusals)")
        let printed = try run(["run", "--preset", "tiny", "--print-config"])
        XCTAssertTrue(printed.stdout.contains("# estimated memory:"), printed.stdout)
        // Under a small address-space limit the same check answers instead of SIGSEGV.
        let limited = try ShellProcess.run("ulimit -v 400000; \"$SPECTOP\" run --preset reach --headless --steps 5; echo \"status=$?\"", in: directory, timeout: 60)
        XCTAssertTrue(limited.output.contains("status=0") || limited.output.contains("status=2"), limited.output)
        XCTAssertFalse(limited.output.contains("Fatal error"), limited.output)
    }

    // MARK: Low 14, 15, 16: messages and odd files

    func testMessagesAreOneLineAndSayWhatIsWrong() throws {
        let cases: [(String, String)] = [
            ("[data]\nonline = fa\n", "TOML syntax error"),
            ("[data]\ninput_dim = 0\n", "[data] input_dim must be"),
            ("[models]\noutput_scale = 1e300\n", "[models] output_scale must be between"),
        ]
        for (text, expected) in cases {
            let config = path("m.toml")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let result = try run(["run", "--config", config, "--headless"])
            XCTAssertEqual(result.status, 2, text)
            XCTAssertTrue(result.stderr.contains(expected), "\(text): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(text): \(result.stderr)")
        }
        let negative = try run(["run", "--steps", "-1", "--headless"])
        XCTAssertEqual(negative.status, 2)
        XCTAssertTrue(negative.stderr.contains("--steps must be at least 1, got -1"), negative.stderr)
        let record = path("v.jsonl")
        try "{\"type\":\"run\",\"version\":true}\n".write(toFile: record, atomically: true, encoding: .utf8)
        let version = try run(["claims", record])
        XCTAssertEqual(version.status, 2, version.stdout)
        XCTAssertTrue(version.stderr.contains("the run line's version is true, not a version number"), version.stderr)
        let noTerminal = try run(["run", "--preset", "tiny"])
        XCTAssertTrue(noTerminal.stderr.contains("stdin and stdout are not terminals"), noTerminal.stderr)
    }

    func testFIFOsAndDevicesNeverBlockSilently() throws {
        let fifo = path("pipe")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        // --out on a FIFO nobody reads: refused at once.
        let out = try run(["run", "--preset", "tiny", "--steps", "3", "--headless", "--out", fifo], timeout: 20)
        XCTAssertEqual(out.status, 2, out.stderr)
        XCTAssertTrue(out.stderr.contains("no process is reading"), out.stderr)
        // --config on a FIFO nobody writes: says it waits, and Ctrl-C ends it.
        let waiting = try BackgroundSpectop(["run", "--config", fifo, "--headless"], in: directory)
        XCTAssertTrue(BackgroundSpectop.wait(timeout: 10) { waiting.stderr.contains("waiting for a writer") }, waiting.stderr)
        XCTAssertNotNil(waiting.signal(SIGINT, timeout: 3))
        XCTAssertEqual(waiting.process.terminationStatus, 130)
        // /dev/zero is endless: refused after the size cap.
        let zero = try run(["run", "--config", "/dev/zero", "--headless"], timeout: 20)
        XCTAssertEqual(zero.status, 2)
        XCTAssertTrue(zero.stderr.contains("larger than 1 MiB"), zero.stderr)
        // A FIFO as a data file: refused, never opened.
        let csvConfig = path("fifo.toml")
        try "[data]\nkind = \"csv\"\npath = \"\(fifo)\"\ntarget = \"y\"\n".write(toFile: csvConfig, atomically: true, encoding: .utf8)
        let data = try run(["run", "--config", csvConfig, "--headless"], timeout: 20)
        XCTAssertEqual(data.status, 2, data.stderr)
        XCTAssertTrue(data.stderr.contains("not a regular file"), data.stderr)
        // A config given through process substitution still works.
        let substituted = try ShellProcess.run("\"$SPECTOP\" run --config /dev/stdin --print-config < /dev/null; echo status=$?", in: directory)
        XCTAssertTrue(substituted.output.contains("status=0"), substituted.output)
    }
}
