import XCTest
import TestSupport
@testable import SpectralCore

final class EngineTests: XCTestCase {
    private func configuration(widths: [Int] = [4, 8, 16, 32], steps: Int = 60, seed: UInt64 = 1, record: Bool = true) -> EngineConfiguration {
        let data = syntheticRegression(samples: 256)
        return EngineConfiguration(models: plans(widths: widths, steps: steps), train: data,
                                   probe: data.subset(Array(0..<32)), seed: seed, spectrumEvery: 10,
                                   workers: 2, recordEvents: record)
    }

    private func lossCurves(_ events: [EngineEvent]) -> [String: [Double]] {
        var curves: [String: [Double]] = [:]
        for case .metrics(let model, let sample) in events { curves[model, default: []].append(sample.loss) }
        return curves
    }

    func testEightModelsTrainConcurrentlyToTheirBudget() throws {
        let engine = try Engine(configuration())
        XCTAssertEqual(engine.workers, min(2, ProcessInfo.processInfo.activeProcessorCount))
        engine.start()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 120))
        let snapshot = engine.snapshot()
        XCTAssertEqual(snapshot.state, .finished)
        XCTAssertEqual(engine.snapshot().elapsed, snapshot.elapsed, "the clock stops when training has finished")
        XCTAssertEqual(snapshot.models.count, 8)
        for model in snapshot.models {
            XCTAssertEqual(model.step, 60, model.id)
            XCTAssertEqual(model.status, .finished, model.id)
            XCTAssertEqual(model.latest?.step, 60, model.id)
            XCTAssertEqual(model.history.count, 61, model.id)
            XCTAssertEqual(model.spectrum?.step, 60, model.id)
            XCTAssertNotNil(model.minChiPos)
        }
        let curves = lossCurves(engine.drainEvents())
        XCTAssertEqual(curves.count, 8)
        XCTAssertTrue(curves.values.allSatisfy { $0.count == 61 })
    }

    func testPausesSpeedChangesAndExportsAreMarkedForTheCharts() throws {
        let engine = try Engine(configuration(widths: [4], steps: 5))
        engine.togglePause()           // paused → running: resume
        engine.setSpeedLimit(stepsPerSecond: 50)
        engine.setSpeedLimit(stepsPerSecond: 50)  // no change, no mark
        engine.setSpeedLimit(stepsPerSecond: nil)
        engine.togglePause()           // pause
        engine.note(kind: "export", detail: "dump")
        XCTAssertEqual(engine.snapshot().marks.map(\.kind), [.resume, .speed, .speed, .pause, .export])
        XCTAssertTrue(engine.snapshot().marks.allSatisfy { $0.step == 0 && $0.model == nil })
        let speeds = engine.drainEvents().compactMap { event -> String? in
            if case .event("speed", _, _, _, let detail) = event { return detail }
            return nil
        }
        XCTAssertEqual(speeds, ["limit 50 steps/s per model", "full speed"], "speed changes are recorded too")
    }

    func testSameSeedGivesIdenticalLossesAndOtherSeedsDiffer() throws {
        func run(seed: UInt64) throws -> [String: [Double]] {
            let engine = try Engine(configuration(widths: [8, 16], steps: 40, seed: seed))
            engine.start()
            XCTAssertTrue(engine.waitUntilFinished(timeout: 60))
            return lossCurves(engine.drainEvents())
        }
        let a = try run(seed: 42), b = try run(seed: 42), c = try run(seed: 43)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }

    func testSnapshotsNeverMixSteps() throws {
        var config = configuration(widths: [4, 8, 16, 32], steps: 400)
        config.spectrumEvery = 7
        let engine = try Engine(config)
        engine.start()
        var checked = 0
        while engine.snapshot().state == .running {
            for model in engine.snapshot().models {
                guard let latest = model.latest else { continue }
                XCTAssertEqual(model.history.steps.last, latest.step, model.id)
                XCTAssertTrue(model.step == latest.step || model.step == latest.step + 1, "\(model.id): step \(model.step), metrics \(latest.step)")
                if let spectrum = model.spectrum { XCTAssertLessThanOrEqual(spectrum.step, latest.step) }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 0)
        engine.stop()
    }

    func testFrozenHiddenWeightsAreBitIdenticalAndReadoutChanges() throws {
        var rng = SeededGenerator(seed: 3)
        let arch = MLPArchitecture(inputDim: 8, width: 32, depth: 2, outputDim: 1, activation: .relu)
        let model = try MLP<Float>(arch, generator: &rng)
        model.freezeFeatures()
        let before = model.parameterValues
        let trainer = try ModelTrainer(model: model, optimizer: OptimizerConfig(kind: .adam, learningRate: 1e-2),
                                       train: syntheticRegression(samples: 128), batchSize: 16, generator: rng.fork(1))
        for _ in 0..<100 { trainer.trainStep() }
        let after = model.parameterValues
        let readout = model.trainableOffset
        XCTAssertEqual(Array(before[..<readout]), Array(after[..<readout]), "hidden weights must not move")
        XCTAssertNotEqual(Array(before[readout...]), Array(after[readout...]), "the readout must train")
    }

    func testFrozenChiNetStaysConstantWhileActiveChanges() throws {
        var config = configuration(widths: [32], steps: 500)
        config.spectrumEvery = 500
        let engine = try Engine(config)
        engine.start()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 120))
        let models = engine.snapshot().models
        let frozen = try XCTUnwrap(models.first { $0.mode == .frozen })
        let active = try XCTUnwrap(models.first { $0.mode == .active })
        let frozenStart = frozen.history.chiNet.first!, frozenEnd = frozen.history.chiNet.last!
        assertClose(frozenEnd, frozenStart, tolerance: 1e-6)
        XCTAssertEqual(frozen.amplification ?? 0, 1, accuracy: 1e-6)
        XCTAssertGreaterThan(relativeError(active.history.chiNet.last!, active.history.chiNet.first!), 1e-3)
        XCTAssertLessThan(active.latest!.loss, frozen.latest!.loss)
    }

    func testLiveFreezeStopsHiddenLayers() throws {
        var config = configuration(widths: [16], steps: 200)
        config.spectrumEvery = 100
        let engine = try Engine(config)
        engine.start(paused: true)
        XCTAssertTrue(engine.freezeFeatures(modelID: "w16-active"))
        XCTAssertFalse(engine.freezeFeatures(modelID: "w16-frozen"), "already frozen")
        XCTAssertFalse(engine.freezeFeatures(modelID: "nope"))
        engine.resume()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 60))
        let active = engine.snapshot().models.first { $0.id == "w16-active" }!
        XCTAssertTrue(active.featuresFrozen)
        XCTAssertTrue(engine.drainEvents().contains { if case .event("freeze", "w16-active", _, _, _) = $0 { return true } else { return false } })
    }

    func testAfterALiveFreezeAmplificationIsRelativeToChiNetAtTheFreeze() throws {
        let engine = try Engine(configuration(widths: [16], steps: 300))
        engine.start()
        // Freeze part-way, so χ_net(0) is the all-layer one (no sleeps: the
        // engine's own progress is the clock).
        while engine.snapshot().models[0].step < 30 {}
        XCTAssertTrue(engine.freezeFeatures(modelID: "w16-active"))
        XCTAssertTrue(engine.waitUntilFinished(timeout: 120))
        let events = engine.drainEvents()
        let freezeStep = try XCTUnwrap(events.lazy.compactMap { event -> Int? in
            if case .event("freeze", "w16-active", let step, _, _) = event { return step } else { return nil }
        }.first)
        XCTAssertGreaterThanOrEqual(freezeStep, 30)
        var chiNet: [Int: Double] = [:]
        for case .metrics("w16-active", let sample) in events { chiNet[sample.step] = sample.chiNet }
        // The event's step is the first measured with frozen features: from
        // there χ_net (the readout's alone) is constant, the step before differs.
        let atFreeze = try XCTUnwrap(chiNet[freezeStep]), end = try XCTUnwrap(chiNet[300])
        assertClose(end, atFreeze, tolerance: 1e-6)
        XCTAssertGreaterThan(relativeError(try XCTUnwrap(chiNet[freezeStep - 1]), atFreeze), 1e-2)
        let model = try XCTUnwrap(engine.snapshot().models.first { $0.id == "w16-active" })
        XCTAssertEqual(try XCTUnwrap(model.amplification), end / atFreeze, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(model.amplification), 1, accuracy: 1e-6, "not chi_net(readout) / chi_net(0) = \(end / chiNet[0]!)")
    }

    func testDivergingModelStopsAloneOthersContinue() throws {
        let data = syntheticRegression(samples: 128)
        var models = plans(widths: [8], steps: 50)
        models[0].optimizer.learningRate = 1e6  // active model explodes
        let engine = try Engine(EngineConfiguration(models: models, train: data, probe: data.subset(Array(0..<16)),
                                                    seed: 1, spectrumEvery: 10, workers: 2, recordEvents: true))
        engine.start()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 60))
        let snapshot = engine.snapshot()
        XCTAssertEqual(snapshot.models[0].status, .diverged)
        XCTAssertLessThan(snapshot.models[0].step, 50)
        XCTAssertEqual(snapshot.models[1].status, .finished)
        XCTAssertEqual(snapshot.models[1].step, 50)
        XCTAssertTrue(engine.drainEvents().contains { if case .event("diverged", "w8-active", _, _, _) = $0 { return true } else { return false } })
    }

    func testBadConfigurationsGetClearMessages() throws {
        let data = syntheticRegression(samples: 64)
        func message(_ mutate: (inout EngineConfiguration) -> Void) -> String {
            var config = EngineConfiguration(models: plans(widths: [4], steps: 10), train: data, probe: data.subset([0, 1]), seed: 1)
            mutate(&config)
            do {
                _ = try Engine(config)
                return "no error"
            } catch {
                return error.description
            }
        }
        XCTAssertEqual(message { $0.models[0].architecture.width = 0 }, "width must be at least 1, got 0")
        XCTAssertEqual(message { $0.models[0].architecture.depth = -1 }, "depth must be 0 or more, got -1")
        XCTAssertTrue(message { $0.models[0].optimizer.learningRate = 0 }.contains("learning rate must be a positive number"))
        XCTAssertTrue(message { $0.models[0].optimizer.learningRate = .nan }.contains("learning rate must be a positive number, got nan"))
        XCTAssertTrue(message { $0.models[0].batchSize = 65 }.contains("batch size 65 is larger than the training set (64 samples)"))
        XCTAssertTrue(message { $0.models = [] }.contains("no models"))
        XCTAssertTrue(message { $0.models[1].id = $0.models[0].id }.contains("share the id"))
    }
}

import Foundation

final class OnlineTrainingTests: XCTestCase {
    func testOnlineBatchesAreFreshDeterministicAndLearn() throws {
        let pool = syntheticRegression(samples: 4096, seed: 9)
        let sampler: OnlineBatchSampler = { count, generator in
            pool.subset((0..<count).map { _ in generator.index(below: pool.count) })
        }
        func losses() throws -> [Double] {
            var rng = SeededGenerator(seed: 1)
            let model = try MLP<Float>(MLPArchitecture(inputDim: 8, width: 32, depth: 2, outputDim: 1, activation: .tanh), generator: &rng)
            let trainer = try ModelTrainer(model: model, optimizer: OptimizerConfig(learningRate: 0.05, momentum: 0.9),
                                           train: pool.subset(Array(0..<64)), batchSize: 32, generator: rng.fork(2), online: sampler)
            return (0..<300).map { _ in trainer.trainStep() }
        }
        let a = try losses(), b = try losses()
        XCTAssertEqual(a, b, "online training is deterministic by seed")
        let early = a.prefix(20).reduce(0, +) / 20, late = a.suffix(20).reduce(0, +) / 20
        XCTAssertLessThan(late, early * 0.5, "online training learns")
    }
}

final class SamplerFailureTests: XCTestCase {
    private struct SamplerBroke: Error, CustomStringConvertible {
        var description: String { "the teacher is gone" }
    }

    /// A failing online sampler is not divergence: the model stops as
    /// `failed` with the sampler's message, and the other models go on.
    func testAFailingSamplerMarksItsModelFailedNotDiverged() throws {
        let data = syntheticRegression(samples: 128)
        let sampler: OnlineBatchSampler = { count, generator in
            // Fails for batches of 16 only: the w4 models use 16, the w8 models 32.
            if count == 16 { throw SamplerBroke() }
            return data.subset((0..<count).map { _ in generator.index(below: data.count) })
        }
        var models = plans(widths: [4, 8], steps: 20)
        for k in models.indices where models[k].architecture.width == 4 { models[k].batchSize = 16 }
        let engine = try Engine(EngineConfiguration(models: models, train: data, probe: data.subset(Array(0..<16)), seed: 1,
                                                    workers: 1, recordEvents: true, onlineSampler: sampler))
        engine.start()
        XCTAssertTrue(engine.waitUntilFinished(timeout: 60))
        let byID = Dictionary(uniqueKeysWithValues: engine.snapshot().models.map { ($0.id, $0) })
        for (id, model) in byID {
            if model.width == 4 {
                XCTAssertEqual(model.status, .failed, id)
                XCTAssertTrue(model.divergence?.contains("the teacher is gone") == true, model.divergence ?? "")
            } else {
                XCTAssertEqual(model.status, .finished, id)
            }
        }
        let events = engine.drainEvents().compactMap { event -> String? in
            if case .event(let kind, let model, _, _, _) = event, kind == "failed" || kind == "diverged" { return "\(kind) \(model ?? "")" }
            return nil
        }
        XCTAssertEqual(Set(events), ["failed w4-active", "failed w4-frozen"])
    }
}
