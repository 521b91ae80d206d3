import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord
@testable import SpectralCore

final class RecordTests: XCTestCase {
    func testEncodedLinesReadBack() throws {
        let sample = MetricSample(step: 3, loss: 0.5, chiLoss: 0.25, chiNet: 10, chiPos: 0.125, gradSq: 0.3125, wall: 1.5,
                                  layerChiNet: [4, 6], layerGradSq: [0.125, 0.1875])
        let histogram = SpectrumHistogram(eigenvalues: [4, 1], weights: [0.5, 0.5], lambdaEff: 2.5)
        let spectrum = SpectrumSample(step: 3, eigenvalues: [4, 1], weights: [0.5, 0.5], chiPosExact: 0.5, lambdaEff: 2.5,
                                      rEff: 0.5, effectiveRank: 1.6, histogram: histogram)
        let undefined = MetricSample(step: 4, loss: 0, chiLoss: 0, chiNet: 10, chiPos: nil, gradSq: 0, wall: 2)
        let text = """
            {"type":"run","version":1,"seed":9,"preset":"t","models":[{"id":"m","width":4,"depth":1,"params":21,"trainable":"all"}]}
            \(RecordLines.encode(.metrics(model: "m", sample)))
            \(RecordLines.encode(.spectrum(model: "m", spectrum)))
            \(RecordLines.encode(.metrics(model: "m", undefined)))
            \(RecordLines.encode(.event(kind: "pause", model: nil, step: nil, wall: 1.7, detail: "a \"quoted\" detail")))
            \(RecordLines.end(reason: "quit", wall: 2.5))

            """
        let record = try RunRecord.parse(Data(text.utf8), file: "r.jsonl")
        XCTAssertEqual(record.seed, 9)
        XCTAssertEqual(record.models.first?.parameterCount, 21)
        XCTAssertEqual(record.steps["m"], [sample, undefined])
        XCTAssertEqual(record.spectra["m"]?.first?.eigenvalues, [4, 1])
        XCTAssertEqual(record.spectra["m"]?.first?.lambdaEff, 2.5)
        XCTAssertEqual(record.events.first?.detail, "a \"quoted\" detail")
        XCTAssertEqual(record.endReason, "quit")
        XCTAssertTrue(record.warnings.isEmpty)
        // Replay shows the per-layer split recorded with each step.
        let replay = ReplaySource(record: record)
        replay.perform(.togglePause)
        replay.perform(.jumpToStart)
        replay.perform(.scrub(by: 3))
        let shares = replay.snapshot().models.first?.layers ?? []
        XCTAssertEqual(shares.map(\.chiNetShare), [0.4, 0.6])
    }

    /// A matrix-free spectrum's line carries its method, its estimate's
    /// uncertainties and its histogram (the top-k eigenvalues cannot rebuild
    /// it); lines written before it (no "method") read back as exact.
    func testMatrixFreeSpectrumLinesReadBackAndOldLinesAreExact() throws {
        let histogram = SpectrumHistogram(log10Edges: [-2, -1, 0], counts: [70, 9], residualWeights: [0.25, 0.5],
                                          nearZeroCount: 1, nearZeroWeight: 0.125, markerBin: 1, countUncertainty: [4.5, 1.25])
        let estimate = SpectrumSample(step: 7, eigenvalues: [1, 0.5], weights: [0.375, 0.125], chiPosExact: 0.25, lambdaEff: 0.5,
                                      rEff: 0.0625, effectiveRank: 12.5, histogram: histogram, method: .lanczos, modeCount: 80,
                                      rEffUncertainty: 0.015625, restWeight: 0.5)
        let line = RecordLines.encode(.spectrum(model: "m", estimate))
        XCTAssertTrue(line.contains(#""method":"lanczos""#), line)
        XCTAssertTrue(line.contains(#""counts_uncertainty":[4.5,1.25]"#), line)
        let old = #"{"type":"spectrum","model":"m","step":2,"eigenvalues":[4,1],"weights":[0.5,0.5],"chi_pos_exact":0.5,"lambda_eff":2.5,"r_eff":0.5,"effective_rank":1.6}"#
        let text = """
            {"type":"run","version":1,"seed":9,"preset":"t","models":[{"id":"m","width":4,"depth":1,"params":21,"trainable":"all"}]}
            \(old)
            \(line)

            """
        let record = try RunRecord.parse(Data(text.utf8), file: "r.jsonl")
        let spectra = try XCTUnwrap(record.spectra["m"])
        XCTAssertEqual(spectra.count, 2)
        XCTAssertEqual(spectra[0].method, .exact)
        XCTAssertEqual(spectra[0].modeCount, 2)
        XCTAssertFalse(spectra[0].histogram.isEstimate)
        XCTAssertEqual(spectra[1], estimate)
    }

    func testTruncatedLastLineIsToleratedWithAWarning() throws {
        let text = "{\"type\":\"run\",\"version\":1}\n{\"type\":\"step\",\"model\":\"m\",\"step\":0,\"loss\":1}\n{\"type\":\"step\",\"mod"
        let record = try RunRecord.parse(Data(text.utf8), file: "cut.jsonl")
        XCTAssertEqual(record.steps["m"]?.count, 1)
        XCTAssertEqual(record.warnings.count, 1)
        XCTAssertTrue(record.warnings[0].contains("cut.jsonl:3: last line is cut off"), record.warnings[0])
        // A broken line in the middle is an error naming the line.
        let broken = "{\"type\":\"run\",\"version\":1}\n{oops\n{\"type\":\"end\",\"reason\":\"steps\"}\n"
        XCTAssertThrowsError(try RunRecord.parse(Data(broken.utf8), file: "b.jsonl")) { error in
            XCTAssertEqual("\(error)", "b.jsonl:2: not a JSON object")
        }
    }

    func testRecorderReportsAnUnwritableFileWithoutCrashing() throws {
        // /dev/full accepts the open but fails every flush: the disk-full case.
        let recorder = try RunRecorder(path: "/dev/full")
        recorder.writeHeader("{\"type\":\"run\",\"version\":1}")
        XCTAssertNotNil(recorder.failure)
        XCTAssertTrue(recorder.failure!.contains("cannot write the record to /dev/full"), recorder.failure!)
        recorder.finish(endLine: RecordLines.end(reason: "steps", wall: 0))
    }

    func testFuzzedRecordsAndConfigsNeverCrash() throws {
        let environment = ProcessInfo.processInfo.environment
        var rng = SeededGenerator(seed: UInt64(environment["SPECTOP_FUZZ_SEED"] ?? "") ?? 77)
        let iterations = Int(environment["SPECTOP_FUZZ_ITERATIONS"] ?? "") ?? 3000
        let seeds = [
            "{\"type\":\"run\",\"version\":1,\"models\":[{\"id\":\"m\",\"params\":5}]}\n{\"type\":\"step\",\"model\":\"m\",\"step\":1,\"loss\":0.5,\"chi_pos\":null}\n{\"type\":\"spectrum\",\"model\":\"m\",\"step\":1,\"eigenvalues\":[1,2],\"weights\":[0.5,0.5]}\n",
            Presets.text("reach")!, Presets.text("digits")!,
        ]
        let alphabet = Array("{}[]\":,=.#\n-+0123456789eE abcxyz_trunfals\\".utf8)
        for iteration in 0..<iterations {
            var bytes = Array(seeds[iteration % seeds.count].utf8)
            let mutations = 1 + rng.index(below: 8)
            for _ in 0..<mutations {
                guard !bytes.isEmpty else { break }
                let position = rng.index(below: bytes.count)
                switch rng.index(below: 4) {
                case 0: bytes[position] = alphabet[rng.index(below: alphabet.count)]
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(alphabet[rng.index(below: alphabet.count)], at: position)
                default: bytes = Array(bytes.prefix(position))
                }
            }
            if iteration % 5 == 0 { bytes = (0..<rng.index(below: 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            let data = Data(bytes)
            do {
                let record = try RunRecord.parse(data, file: "fuzz.jsonl")
                _ = ClaimsEvaluator.render(ClaimsEvaluator.evaluate(record), record: record)
            } catch let error as RecordError {
                XCTAssertFalse(error.description.isEmpty)
            }
            if ProcessInfo.processInfo.environment["SPECTOP_FUZZ_DUMP"] != nil {
                try? data.write(to: URL(fileURLWithPath: "/tmp/fuzz-\(iteration).toml"))
            }
            do {
                let config = try ConfigParser.parse(String(decoding: data, as: UTF8.self), file: "fuzz.toml")
                try? ExperimentBuilder.validate(config)
            } catch let error as ConfigError {
                XCTAssertFalse(error.description.isEmpty)
            }
        }
    }
}
