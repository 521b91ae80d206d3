import XCTest
import TestSupport
@testable import SpectralCore

/// The engine's choice between the exact and the matrix-free spectrum, and
/// its refusals, on a small synthetic run.
final class MatrixFreeEngineTests: XCTestCase {
    private func configuration(exactLimit: Int, topK: Int = 8, outputs: Int = 2) -> EngineConfiguration {
        let data = syntheticRegression(samples: 128, outputs: outputs)
        return EngineConfiguration(models: plans(widths: [8], steps: 20, outputs: outputs), train: data,
                                   probe: data.subset(Array(0..<40)), seed: 3, spectrumEvery: 10,
                                   maxKernelSize: exactLimit, matrixFree: MatrixFreeSettings(topK: topK, starts: 6, steps: 30),
                                   workers: 1, recordEvents: true)
    }

    private func spectra(_ events: [EngineEvent]) -> [SpectrumSample] {
        events.compactMap { if case .spectrum(_, let s) = $0 { return s } else { return nil } }
    }

    func testAboveTheExactLimitTheEngineEstimatesAndSaysSo() throws {
        let engine = try Engine(configuration(exactLimit: 50))  // m = 80 > 50
        engine.start()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 120))
        var active: [SpectrumSample] = [], frozen: [SpectrumSample] = []
        for case .spectrum(let id, let sample) in engine.drainEvents() {
            if id.hasSuffix("frozen") { frozen.append(sample) } else { active.append(sample) }
        }
        XCTAssertEqual(active.count, 3, "steps 0, 10, 20")
        for sample in active {
            XCTAssertEqual(sample.method, .lanczos)
            XCTAssertEqual(sample.modeCount, 80)
            XCTAssertEqual(sample.eigenvalues.count, 8)
            XCTAssertNotNil(sample.rEff)
            XCTAssertNotNil(sample.rEffUncertainty)
            XCTAssertTrue(sample.histogram.isEstimate)
        }
        // The frozen twin's spectrum is exact at any size (the readout's Gram).
        XCTAssertEqual(frozen.count, 3)
        for sample in frozen {
            XCTAssertEqual(sample.method, .exact)
            XCTAssertEqual(sample.eigenvalues.count, 80)
            XCTAssertFalse(sample.histogram.isEstimate)
        }
        for model in engine.snapshot().models {
            XCTAssertEqual(model.spectrum?.method, model.featuresFrozen ? .exact : .lanczos, model.id)
        }
    }

    func testAtOrBelowTheExactLimitTheSpectrumIsExact() throws {
        let engine = try Engine(configuration(exactLimit: 80))
        engine.start()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 120))
        let samples = spectra(engine.drainEvents())
        XCTAssertFalse(samples.isEmpty)
        XCTAssertTrue(samples.allSatisfy { $0.method == .exact && $0.eigenvalues.count == 80 && !$0.histogram.isEstimate })
    }

    func testTopKNotBelowMIsReportedAndTrainingGoesOn() throws {
        let engine = try Engine(configuration(exactLimit: 50, topK: 80))
        engine.start()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 120))
        let events = engine.drainEvents()
        var withSpectra = Set<String>()
        for case .spectrum(let id, _) in events { withSpectra.insert(id) }
        XCTAssertEqual(withSpectra, ["w8-frozen"], "the frozen model's exact spectrum needs no top-k")
        let notes = events.compactMap { event -> String? in
            if case .event("spectrum", let model, _, _, let detail) = event { return "\(model ?? "-"): \(detail ?? "")" }
            return nil
        }
        XCTAssertEqual(notes.count, 1, "one message, for the active model: \(notes)")
        XCTAssertTrue(notes.allSatisfy { $0.hasPrefix("w8-active: ") }, "\(notes)")
        XCTAssertTrue(notes.allSatisfy { $0.contains("top_k = 80 must be below the eNTK's m = 80 rows") }, "\(notes)")
        for model in engine.snapshot().models {
            XCTAssertEqual(model.status, .finished)
            XCTAssertEqual(model.step, 20)
            // The panel says why instead of "no spectrum yet"; the frozen model has its spectrum.
            if model.id == "w8-active" {
                XCTAssertEqual(model.spectrumUnavailable.map { "w8-active: " + $0 }, notes.first)
            } else {
                XCTAssertNil(model.spectrumUnavailable)
                XCTAssertNotNil(model.spectrum)
            }
        }
    }

    /// The Hutchinson trace skips the passes the factors come from: its
    /// models say so (record and panel) instead of waiting for a spectrum.
    func testTheHutchinsonTraceSaysWhyThereIsNoSpectrum() throws {
        var config = configuration(exactLimit: 50)
        config.traceEstimator = .hutchinson(samples: 2)
        let engine = try Engine(config)
        for model in engine.snapshot().models {
            XCTAssertEqual(model.spectrumUnavailable?.contains("trace = \"exact\" gives one"), true, model.id)
        }
    }

    func testAProbeTooLargeForTheTimeBudgetIsRefusedUpFront() throws {
        var config = configuration(exactLimit: 50)
        config.maxSpectrumSeconds = 1e-9
        XCTAssertEqual(SpectrumPlan.choose(for: config.models[0], in: config).isNone, true)
        if case .none(let reason?) = SpectrumPlan.choose(for: config.models[0], in: config) {
            XCTAssertTrue(reason.contains("over the 1e-09 s a spectrum may take (spectrum_max_seconds)"), reason)
        } else {
            XCTFail("expected a reason")
        }
        config.maxSpectrumSeconds = 60
        XCTAssertEqual(SpectrumPlan.choose(for: config.models[0], in: config), .matrixFree(config.matrixFree!))
        config.matrixFree = nil
        XCTAssertEqual(SpectrumPlan.choose(for: config.models[0], in: config).isNone, true)
    }

    /// The memory estimate counts the matrix-free buffers (no m² term) and
    /// stays far below what the exact path would need at the acceptance size
    /// (digits, 1024-image probe: m = 10,240; 8 models of widths 8…512).
    func testMatrixFreeMemoryAtTheAcceptanceSizeIsUnderTwoGiB() throws {
        let data = syntheticRegression(samples: 1100, inputDim: 64, outputs: 10)
        let models = [8, 32, 128, 512].enumerated().flatMap { index, width in
            TrainingMode.allCases.map { mode in
                ModelPlan(id: "w\(width)-\(mode.rawValue)",
                          architecture: MLPArchitecture(inputDim: 64, width: width, depth: 2, outputDim: 10, activation: .relu),
                          mode: mode, optimizer: OptimizerConfig(learningRate: 0.01), batchSize: 64, steps: 10, initStream: UInt64(index))
            }
        }
        let config = EngineConfiguration(models: models, train: data, probe: data.subset(Array(0..<1024)), seed: 1,
                                         maxSpectrumSeconds: 1e9)
        let estimate = MemoryEstimate.of(config, cores: 2)
        XCTAssertLessThan(estimate.total, 2 << 30, "\(estimate)")
        XCTAssertGreaterThan(estimate.models, 100 << 20, "the factors and bases of eight m = 10,240 spectra")

        // A frozen model's spectrum goes through its readout's small Gram: its
        // share does not grow with top_k (m·(3k + 5) doubles of Lanczos
        // vectors would be 24 GB each at k = 100,000 and refuse the run), and
        // the active models, refused for top_k ≥ m, hold no bases either.
        var frozenOnly = config
        frozenOnly.models = models.filter { $0.mode == .frozen }
        var largeK = frozenOnly
        largeK.matrixFree?.topK = 5000
        XCTAssertEqual(MemoryEstimate.of(largeK, cores: 2), MemoryEstimate.of(frozenOnly, cores: 2))
        var refused = config
        refused.matrixFree?.topK = 100_000
        XCTAssertLessThan(MemoryEstimate.of(refused, cores: 2).total, estimate.total)
    }
}

extension SpectrumPlan {
    var isNone: Bool { if case .none = self { return true } else { return false } }
}
