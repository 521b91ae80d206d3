import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

/// The real binary, driven as a user would from a shell.
final class CommandLineTests: XCTestCase {
    private func scratch() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-cli-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func assertUsageError(_ arguments: [String], contains expected: String, environment: [String: String?] = [:],
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try SpectopProcess.run(arguments, environment: environment)
        XCTAssertEqual(result.status, 2, "exit status for \(arguments): \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(expected), "stderr was: \(result.stderr)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("Stack dump"), result.stderr, file: file, line: line)
        XCTAssertLessThanOrEqual(result.stderr.split(separator: "\n").count, 3, "one line where possible: \(result.stderr)", file: file, line: line)
    }

    func testHelpAndVersion() throws {
        let version = try SpectopProcess.run(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines), SpecTopVersion.string)
        for command in [[], ["run"], ["replay"], ["watch"], ["claims"], ["export"], ["presets"], ["bench"]] {
            let help = try SpectopProcess.run(command + ["--help"])
            XCTAssertEqual(help.status, 0, "\(command) --help")
            XCTAssertTrue(help.stdout.contains("USAGE"), "\(command) --help: \(help.stdout)")
        }
    }

    func testPresetsListsEveryPresetWithADescription() throws {
        let result = try SpectopProcess.run(["presets"])
        XCTAssertEqual(result.status, 0)
        for name in Presets.names { XCTAssertTrue(result.stdout.contains(name), result.stdout) }
        XCTAssertTrue(result.stdout.contains("(default)"))
    }

    func testPrintConfigPrintsAFileThatRunsAsIs() throws {
        let result = try SpectopProcess.run(["run", "--preset", "tiny", "--print-config", "--steps", "7"])
        XCTAssertEqual(result.status, 0)
        let config = try ConfigParser.parse(result.stdout, file: "printed")
        XCTAssertEqual(config.training.steps, 7)
        XCTAssertEqual(config.name, "tiny")
    }

    func testBadInputsGiveOneLineMessagesAndStatusTwo() throws {
        let dir = scratch()
        try assertUsageError(["run", "--preset", "nope", "--headless"], contains: "unknown preset 'nope'; valid presets: reach, digits, lazy-rich, tiny")
        let bad = dir.appendingPathComponent("bad.toml")
        try "[training]\nsteps = = 3\n".write(to: bad, atomically: true, encoding: .utf8)
        try assertUsageError(["run", "--config", bad.path, "--headless"], contains: "\(bad.path):2:")
        try "[training]\nsteeps = 3\n".write(to: bad, atomically: true, encoding: .utf8)
        try assertUsageError(["run", "--config", bad.path, "--headless"], contains: "did you mean [training] steps?")
        try "[models]\nwidths = [0]\n".write(to: bad, atomically: true, encoding: .utf8)
        try assertUsageError(["run", "--config", bad.path, "--headless"], contains: "every width must be at least 1, got 0")
        try "[training]\nlr = -0.5\n".write(to: bad, atomically: true, encoding: .utf8)
        try assertUsageError(["run", "--config", bad.path, "--headless"], contains: "lr must be a positive number")
        try "[metrics]\nprobe = 100000\n".write(to: bad, atomically: true, encoding: .utf8)
        try assertUsageError(["run", "--config", bad.path, "--headless"], contains: "100000")
        try assertUsageError(["run", "--config", dir.appendingPathComponent("missing.toml").path, "--headless"], contains: "missing.toml: no such file")
        try assertUsageError(["run", "--preset", "tiny", "--headless", "--out", "/nonexistent-dir/run.jsonl"],
                             contains: "cannot write the record to /nonexistent-dir/run.jsonl")
        try assertUsageError(["run", "--preset", "tiny", "--config", bad.path], contains: "give --preset or --config, not both")
        try assertUsageError(["run", "--steps", "0", "--headless"], contains: "--steps must be at least 1")
        try assertUsageError(["run", "--fps", "0"], contains: "--fps must be between 1 and 60")
        try assertUsageError(["run", "--bogus"], contains: "Unknown option '--bogus'")
        // No terminal: the monitor refuses and points at --headless.
        try assertUsageError(["run", "--preset", "tiny"], contains: "use --headless")
        try assertUsageError([], contains: "use --headless")
    }

    func testReplayAndClaimsRefuseFilesThatAreNotRecords() throws {
        let dir = scratch()
        let notJSON = dir.appendingPathComponent("x.jsonl")
        try "hello\nworld\n".write(to: notJSON, atomically: true, encoding: .utf8)
        try assertUsageError(["claims", notJSON.path], contains: "not a spectop record")
        try assertUsageError(["replay", notJSON.path], contains: "not a spectop record")
        let wrongVersion = dir.appendingPathComponent("v.jsonl")
        try "{\"type\":\"run\",\"version\":7}\n".write(to: wrongVersion, atomically: true, encoding: .utf8)
        try assertUsageError(["claims", wrongVersion.path], contains: "record version 7 is not supported")
        try assertUsageError(["claims", dir.appendingPathComponent("none.jsonl").path], contains: "none.jsonl: no such file")
        let wrongFirst = dir.appendingPathComponent("w.jsonl")
        try "{\"type\":\"step\",\"model\":\"a\",\"step\":0}\n".write(to: wrongFirst, atomically: true, encoding: .utf8)
        try assertUsageError(["replay", wrongFirst.path], contains: "the first line must be a JSON object with \"type\":\"run\"")
    }

    func testDataPathsAreRelativeToTheExperimentFile() throws {
        let dir = scratch().appendingPathComponent("exp")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let rows = (0..<400).map { i in "\(Double(i) / 200),\(Double(i % 7) / 7),\(Double(i % 13) / 13)" }
        try (["a,b,y"] + rows).joined(separator: "\n").write(to: dir.appendingPathComponent("data.csv"), atomically: true, encoding: .utf8)
        try "[data]\nkind = \"csv\"\npath = \"data.csv\"\ntarget = \"y\"\n[models]\nwidths = [8]\n"
            .write(to: dir.appendingPathComponent("mine.toml"), atomically: true, encoding: .utf8)
        // The test runs from another directory: data.csv is found beside mine.toml all the same.
        XCTAssertNotEqual(FileManager.default.currentDirectoryPath, dir.path)
        let run = try SpectopProcess.run(["run", "--config", dir.appendingPathComponent("mine.toml").path, "--headless", "--steps", "5"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let printed = try SpectopProcess.run(["run", "--config", dir.appendingPathComponent("mine.toml").path, "--print-config"])
        XCTAssertTrue(printed.stdout.contains("path = \"\(dir.appendingPathComponent("data.csv").path)\""), printed.stdout)
    }

    func testWatchRefusesBadPathsAtStartWithOneLine() throws {
        let dir = scratch()
        let fifo = dir.appendingPathComponent("pipe.jsonl").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let future = dir.appendingPathComponent("future.jsonl").path
        try "{\"type\":\"run\",\"version\":2}\n".write(toFile: future, atomically: true, encoding: .utf8)
        let binary = dir.appendingPathComponent("core.jsonl").path
        try Data([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 10]).write(to: URL(fileURLWithPath: binary))
        let record = dir.appendingPathComponent("ok.jsonl").path
        try "{\"type\":\"run\",\"version\":1,\"models\":[]}\n".write(toFile: record, atomically: true, encoding: .utf8)
        try assertUsageError(["watch", "/no/such/dir/run.jsonl"], contains: "its directory /no/such/dir does not exist")
        try assertUsageError(["watch", fifo], contains: "a FIFO, not a record file")
        try assertUsageError(["watch", future], contains: "record version 2 is not supported")
        try assertUsageError(["watch", binary], contains: "not a spectop record")
        try assertUsageError(["watch", "--poll", "0", record], contains: "--poll must be between")
        try assertUsageError(["watch", "--stale", "-1", record], contains: "--stale must be")
        try assertUsageError(["watch"], contains: "paths")
        // Good paths, but no terminal (stdin is /dev/null here): the hint names claims.
        try assertUsageError(["watch", record, dir.appendingPathComponent("later.jsonl").path], contains: "watch needs a terminal")
    }

    func testClaimsEvaluatesADirectoryOfRecordsAsOneExperiment() throws {
        let dir = scratch()
        let runs = dir.appendingPathComponent("sweep")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        for seed in [1, 2] {
            let result = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "40", "--seed", "\(seed)",
                                                 "--out", runs.appendingPathComponent("seed\(seed).jsonl").path], executable: SpectopProcess.fastestBinary)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let claims = try SpectopProcess.run(["claims", runs.path])
        XCTAssertEqual(claims.status, 0, claims.stderr)
        XCTAssertTrue(claims.stdout.contains("seed1/w8-active") && claims.stdout.contains("seed2/w32-frozen"), claims.stdout)
        let files = try SpectopProcess.run(["claims", runs.appendingPathComponent("seed1.jsonl").path, runs.appendingPathComponent("seed2.jsonl").path])
        XCTAssertEqual(files.stdout, claims.stdout, "a directory and its files name the same experiment")
        try assertUsageError(["claims", dir.path], contains: "no *.jsonl records, TensorBoard event files or metrics.csv in this directory")
    }

    /// A hand-made record: per model (id, params, final loss) an active run of
    /// 20 steps whose χ_pos falls (further for later models) and χ_net doubles.
    private func writeRecord(_ url: URL, _ models: [(id: String, params: Int, final: Double)]) throws {
        let header = models.map { "{\"id\":\(JSONLine.quote($0.id)),\"width\":8,\"depth\":2,\"params\":\($0.params),\"trainable\":\"all\",\"mode\":\"active\"}" }
        var lines = ["{\"type\":\"run\",\"version\":1,\"seed\":1,\"models\":[\(header.joined(separator: ","))]}"]
        for (k, m) in models.enumerated() {
            for step in 0...20 {
                let t = Double(step) / 20
                lines.append(RecordLines.encode(.metrics(model: m.id, MetricSample(
                    step: step, loss: step == 20 ? m.final : 1 + (m.final - 1) * t, chiLoss: 1, chiNet: 100 * (1 + t),
                    chiPos: 0.5 * (1 - t * (0.8 + 0.1 * Double(k))),
                    gradSq: 1, wall: t))))
            }
            let h = SpectrumHistogram(eigenvalues: [2, 1], weights: [0.5, 0.5], lambdaEff: 1.5)
            lines.append(RecordLines.encode(.spectrum(model: m.id, SpectrumSample(step: 20, eigenvalues: [2, 1], weights: [0.5, 0.5], chiPosExact: 0.1,
                                                                                     lambdaEff: 1.5, rEff: 0.3 + 0.1 * Double(k), effectiveRank: 1.8, histogram: h))))
        }
        lines.append(RecordLines.end(reason: "steps", wall: 1))
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func testClaimsStrictFailsForCIAndJSONNamesEveryCondition() throws {
        let dir = scratch()
        let bad = dir.appendingPathComponent("bad.jsonl"), good = dir.appendingPathComponent("good.jsonl")
        try writeRecord(bad, [("small", 100, 0.2), ("large", 1_000, 0.4)])  // the larger model ends higher: claim 2 fails
        try writeRecord(good, [("small", 100, 0.4), ("large", 1_000, 0.2)])
        let plain = try SpectopProcess.run(["claims", bad.path])
        XCTAssertEqual(plain.status, 0, "a report exits 0 either way: \(plain.stderr)")
        XCTAssertTrue(plain.stdout.contains("2.1 final loss strictly decreases with size: FAIL (small 0.2, large 0.4)"), plain.stdout)
        let strict = try SpectopProcess.run(["claims", "--strict", bad.path])
        XCTAssertEqual(strict.status, 1, strict.stderr)
        XCTAssertEqual(strict.stderr, "spectop: claim 2 fails (--strict)\n")
        XCTAssertEqual(strict.stdout, plain.stdout, "--strict prints the same report")
        let passing = try SpectopProcess.run(["claims", "--strict", good.path])
        XCTAssertEqual(passing.status, 0, "n/a is no failure: \(passing.stdout)")
        let json = try SpectopProcess.run(["claims", "--json", "--strict", bad.path])
        XCTAssertEqual(json.status, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        let claims = try XCTUnwrap(object["claims"] as? [[String: Any]])
        XCTAssertEqual(claims.map { $0["verdict"] as? String }, ["holds", "fails", "holds", "n/a", "holds", "n/a"], json.stdout)
        let condition = try XCTUnwrap((claims[1]["conditions"] as? [[String: Any]])?.first)
        XCTAssertEqual(condition["pass"] as? Bool, false)
        XCTAssertEqual(condition["values"] as? [String: Double], ["small": 0.2, "large": 0.4])
    }

    func testExportWritesCSVNeverOverwritesWithoutForceAndRefusesBadInput() throws {
        let dir = scratch()
        let record = dir.appendingPathComponent("run.jsonl"), out = dir.appendingPathComponent("out.csv")
        try writeRecord(record, [("w8,\"active\"", 100, 0.3), ("w32-active", 1_000, 0.2)])
        let expected = CSVExport.text(try RunRecord.read(path: record.path), wide: false)
        let stdout = try SpectopProcess.run(["export", record.path, "--csv", "-"])
        XCTAssertEqual(stdout.status, 0, stdout.stderr)
        XCTAssertEqual(stdout.stdout, expected)
        XCTAssertTrue(stdout.stdout.hasPrefix("model,step,wall,loss,chi_loss,chi_net,chi_pos,grad_sq,chi_net_estimate,chi_net_stderr,lambda_eff,r_eff,chi_pos_exact,effective_rank,rows,chi_loss_normalized,chi_net_normalized,cross_loss,cross_grad_dot,cross_chi_loss,cross_chi_net,cross_chi_pos,cross_rows,cross_chi_loss_normalized,cross_chi_net_normalized\n\"w8,\"\"active\"\"\",0,"), stdout.stdout)
        XCTAssertEqual(stdout.stdout.split(separator: "\n").count, 1 + 2 * 21)

        let written = try SpectopProcess.run(["export", record.path, "--csv", out.path])
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertEqual(written.stdout, "")
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8), expected)
        try assertUsageError(["export", record.path, "--csv", out.path, "--wide"],
                             contains: "\(out.path) already exists; pass --force to overwrite it, or choose another --csv")
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8), expected, "refused: the file is as it was")
        let wide = try SpectopProcess.run(["export", record.path, "--csv", out.path, "--wide", "--force"])
        XCTAssertEqual(wide.status, 0, wide.stderr)
        let wideText = try String(contentsOf: out, encoding: .utf8)
        XCTAssertEqual(wideText, CSVExport.text(try RunRecord.read(path: record.path), wide: true))
        XCTAssertTrue(wideText.hasPrefix("step,\"w8,\"\"active\"\":wall\",\"w8,\"\"active\"\":loss\","), wideText)
        XCTAssertEqual(wideText.split(separator: "\n").count, 1 + 21)

        // A directory of records is one experiment, as for claims.
        let sweep = dir.appendingPathComponent("sweep")
        try FileManager.default.createDirectory(at: sweep, withIntermediateDirectories: true)
        try writeRecord(sweep.appendingPathComponent("a.jsonl"), [("m", 100, 0.3)])
        try writeRecord(sweep.appendingPathComponent("b.jsonl"), [("m", 100, 0.2)])
        let combined = try SpectopProcess.run(["export", sweep.path, "--csv", "-"])
        XCTAssertEqual(combined.status, 0, combined.stderr)
        XCTAssertTrue(combined.stdout.contains("\na/m,0,") && combined.stdout.contains("\nb/m,20,"), combined.stdout)

        // Bad input: one line, status 2, nothing written.
        try assertUsageError(["export", record.path, "--csv", record.path, "--force"], contains: "which this export reads")
        XCTAssertEqual(try RunRecord.read(path: record.path).steps.count, 2, "the record survives")
        try assertUsageError(["export", record.path], contains: "--csv OUT.csv (the metrics), --spectra SPECTRA.csv (the spectra), or both")
        try assertUsageError(["export", record.path, "--csv", out.path, "--spectra", out.path, "--force"], contains: "name the same file")
        try assertUsageError(["export", record.path, "--csv", "-", "--spectra", "-"], contains: "only one of --csv and --spectra")
        // The spectra beside the metrics, each file whole; a second run needs --force for either.
        let spectra = dir.appendingPathComponent("spectra.csv")
        let both = try SpectopProcess.run(["export", record.path, "--csv", out.path, "--spectra", spectra.path, "--force"])
        XCTAssertEqual(both.status, 0, both.stderr)
        XCTAssertEqual(try String(contentsOf: spectra, encoding: .utf8), SpectraExport.text(try RunRecord.read(path: record.path)))
        XCTAssertTrue(both.stderr.contains("spectra to \(spectra.path)"), both.stderr)
        try assertUsageError(["export", record.path, "--spectra", spectra.path], contains: "or choose another --spectra")
        try assertUsageError(["export", out.path, "--csv", "-"], contains: "not a spectop record")
        try assertUsageError(["export", dir.appendingPathComponent("none.jsonl").path, "--csv", "-"], contains: "none.jsonl: no such file")
        try assertUsageError(["export", record.path, "--csv", "/nonexistent-dir/x.csv"], contains: "cannot write the CSV to /nonexistent-dir/x.csv")
        try assertUsageError(["export", record.path, "--csv", sweep.path], contains: "cannot write the CSV to \(sweep.path): it is a directory")
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try assertUsageError(["export", empty.path, "--csv", "-"], contains: "no *.jsonl records, TensorBoard event files or metrics.csv in this directory")
    }

    func testHeadlessTinyRunRecordsWhatTheConfigSays() throws {
        let dir = scratch()
        let out = dir.appendingPathComponent("tiny.jsonl")
        let result = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "40", "--out", out.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stderr.contains("\r"), "no carriage returns in a log")
        let closing = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(closing.hasPrefix("done in ") && closing.hasSuffix(" s"), "a closing line says how long it took: \(result.stderr)")
        let record = try RunRecord.read(path: out.path)
        let config = try ConfigParser.parse(Presets.text("tiny")!, file: "tiny")
        XCTAssertEqual(record.models.map(\.id), ["w8-active", "w8-frozen", "w32-active", "w32-frozen"])
        XCTAssertEqual(record.models.count, config.models.widths.count * config.models.modes.count)
        XCTAssertEqual(record.endReason, "steps")
        XCTAssertEqual(record.preset, "tiny")
        XCTAssertEqual(record.seed, config.seed)
        for model in record.models {
            let steps = record.steps[model.id] ?? []
            XCTAssertEqual(steps.map(\.step), Array(0...40), model.id)
            XCTAssertFalse((record.spectra[model.id] ?? []).isEmpty, "\(model.id) has spectra")
            XCTAssertGreaterThan(model.parameterCount, 0)
        }
        // Every step line carries the documented keys.
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        let step = try XCTUnwrap(lines.first { $0.contains("\"type\":\"step\"") })
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(step.utf8)) as? [String: Any])
        for key in ["type", "model", "step", "loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "wall"] {
            XCTAssertNotNil(object[key], "step line lacks \(key)")
        }
        let spectrum = try XCTUnwrap(lines.first { $0.contains("\"type\":\"spectrum\"") })
        let spectrumObject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(spectrum.utf8)) as? [String: Any])
        for key in ["model", "step", "eigenvalues", "weights", "chi_pos_exact", "lambda_eff", "r_eff"] {
            XCTAssertNotNil(spectrumObject[key], "spectrum line lacks \(key)")
        }
        XCTAssertTrue(lines.last!.contains("\"type\":\"end\""))
        // claims reads it and exits 0.
        let claims = try SpectopProcess.run(["claims", out.path])
        XCTAssertEqual(claims.status, 0)
        XCTAssertTrue(claims.stdout.contains("frozen models stall"), claims.stdout)
        // The same seed gives the same losses.
        let again = dir.appendingPathComponent("again.jsonl")
        XCTAssertEqual(try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "40", "--out", again.path]).status, 0)
        let second = try RunRecord.read(path: again.path)
        for model in record.models {
            XCTAssertEqual(record.steps[model.id]?.map(\.loss), second.steps[model.id]?.map(\.loss), model.id)
        }
    }

    func testDumpFlagWritesTheStateDump() throws {
        let dir = scratch()
        let dump = dir.appendingPathComponent("dump")
        let result = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "5", "--dump", dump.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        for model in ["w8-active", "w8-frozen", "w32-active", "w32-frozen"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dump.appendingPathComponent("\(model)/manifest.json").path), model)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dump.appendingPathComponent("probe_x.npy").path))
    }

    /// Starts a headless recorded run of the default preset and returns once
    /// training is visibly under way (step lines in the record).
    private func startRecordedRun(_ out: URL) throws -> Process {
        let process = Process()
        process.executableURL = SpectopProcess.binary
        process.arguments = ["run", "--preset", "reach", "--headless", "--out", out.path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? String(contentsOf: out, encoding: .utf8), text.contains("\"type\":\"step\"") { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return process
    }

    func testSignalsEndTheRecordWithAnEndLine() throws {
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            let dir = scratch()
            let out = dir.appendingPathComponent("sig.jsonl")
            let process = try startRecordedRun(out)
            kill(process.processIdentifier, signal)
            let sent = Date()
            process.waitUntilExit()
            XCTAssertLessThan(Date().timeIntervalSince(sent), 1.0, "prompt exit after signal \(signal)")
            // The shell's convention: 128 + the signal (130, 143, 129).
            XCTAssertEqual(process.terminationStatus, 128 + signal)
            let record = try RunRecord.read(path: out.path)
            XCTAssertEqual(record.endReason, "signal", "signal \(signal)")
        }
    }

    func testKilledRunLeavesAReadableRecord() throws {
        let dir = scratch()
        let out = dir.appendingPathComponent("killed.jsonl")
        let process = try startRecordedRun(out)
        Thread.sleep(forTimeInterval: 1.5)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let record = try RunRecord.read(path: out.path)
        XCTAssertNil(record.endReason)
        XCTAssertFalse(record.steps.isEmpty, "flushed at least once a second")
        let claims = try SpectopProcess.run(["claims", out.path])
        XCTAssertEqual(claims.status, 0, claims.stderr)
        XCTAssertTrue(claims.stdout.contains("no end line"), claims.stdout)
    }

    func testUnwritableRecordMidRunKeepsTrainingAndFailsOnExit() throws {
        // /dev/full opens fine and then fails every write: a disk that filled up.
        let result = try SpectopProcess.run(["run", "--preset", "tiny", "--headless", "--steps", "30", "--out", "/dev/full"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("cannot write the record to /dev/full"), result.stderr)
        XCTAssertTrue(result.stderr.contains("step 30/30"), "training went on to the end: \(result.stderr)")
        XCTAssertFalse(result.stderr.contains("Fatal error"))
    }

    func testQuickBenchPrintsEveryFigureAsJSON() throws {
        let result = try SpectopProcess.run(["bench", "--quick", "--json", "--memory-steps", "3"], timeout: 300)
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        for key in ["blas_core", "sgemm_gflops_1_thread", "sgemm_gflops_2_threads", "peak_rss_mib_default_preset",
                    "ui_render_ms_8_models_200x60", "ui_bytes_per_second_120x40"] {
            XCTAssertNotNil(json[key] as? NSNumber ?? json[key] as? String as Any?, key)
            if let value = json[key] as? Double { XCTAssertTrue(value.isFinite && value > 0, "\(key) = \(value)") }
        }
        XCTAssertNotNil(json["ui_bytes_per_second_120x40"] as? Double, "the pty measurement ran: \(json["notes"] ?? "")")
        XCTAssertNotNil(json["ui_render_ms_8_models_200x60"] as? Double)
        for key in ["train_step", "lnp", "entk"] {
            let rows = try XCTUnwrap(json[key] as? [[String: Any]], key)
            XCTAssertFalse(rows.isEmpty, key)
        }
        // The cost curves: the width curve shrunk, the spectrum curve null and explained.
        let notes = try XCTUnwrap(json["notes"] as? [String: String])
        XCTAssertNotNil(json["train_width_step_ms_w512"] as? Double, "\(notes["train_width_step_ms_w512"] ?? "")")
        XCTAssertNotNil(json["train_width_exponent_fitted"] as? Double)
        XCTAssertTrue(json["spectrum_matrix_free_ms_m102400"] is NSNull)
        XCTAssertTrue(notes["spectrum_matrix_free_ms_m102400"]?.contains("--quick") == true)
    }
}
