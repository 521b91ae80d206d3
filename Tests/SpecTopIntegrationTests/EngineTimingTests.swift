import Foundation
import TestSupport
import XCTest
@testable import SpectralCore

/// Engine tests that need wall-clock time: pauses observed with sleeps, and a
/// 2,000-step training run (seconds), kept out of the fast unit tier.
final class EngineTimingTests: XCTestCase {
    private func configuration(widths: [Int], steps: Int) -> EngineConfiguration {
        let data = syntheticRegression(samples: 256)
        return EngineConfiguration(models: plans(widths: widths, steps: steps), train: data,
                                   probe: data.subset(Array(0..<32)), seed: 1, spectrumEvery: 10, workers: 2, recordEvents: true)
    }

    func testPauseResumeAndSingleStep() throws {
        var config = configuration(widths: [8, 16, 32, 64], steps: 100_000)
        config.spectrumEvery = 50
        let engine = try Engine(config)
        engine.start(paused: true)
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertTrue(engine.snapshot().models.allSatisfy { $0.step == 0 }, "paused engine must not train")
        let standing = engine.snapshot()
        XCTAssertGreaterThanOrEqual(standing.elapsed, 0.2)
        XCTAssertEqual(standing.pausedSeconds, standing.elapsed, accuracy: 1e-9, "paused from the start: no training time (the header's clock stands)")
        engine.stepOnce()
        let deadline = Date().addingTimeInterval(10)
        while engine.snapshot().models.contains(where: { $0.step < 1 }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(engine.snapshot().models.map(\.step), Array(repeating: 1, count: 8), "one step each")
        engine.resume()
        Thread.sleep(forTimeInterval: 0.5)
        engine.pause()
        Thread.sleep(forTimeInterval: 0.2)  // let running units finish
        let paused = engine.snapshot()
        XCTAssertEqual(paused.state, .paused)
        XCTAssertTrue(paused.models.allSatisfy { $0.step > 1 })
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(engine.snapshot().models.map(\.step), paused.models.map(\.step), "steps must not advance while paused")
        let later = engine.snapshot()
        XCTAssertEqual(later.elapsed - later.pausedSeconds, paused.elapsed - paused.pausedSeconds, accuracy: 1e-9,
                       "the training clock stands while paused")
        XCTAssertGreaterThan(later.elapsed - later.pausedSeconds, 0.4, "it ran while running (0.5 s)")
        // Fair scheduling keeps models within a few steps of each other.
        let steps = paused.models.map(\.step)
        XCTAssertLessThanOrEqual(steps.max()! - steps.min()!, 4)
        engine.stop()
        XCTAssertEqual(engine.snapshot().state, .stopped)
    }
}

final class TeacherLearningTests: XCTestCase {
    func testWidth256StudentReachesTenPercentOfItsInitialLossWithin2000Steps() throws {
        var rng = SeededGenerator(seed: 1)
        let data = try TeacherDataset.make(TeacherConfig(inputDim: 16, samples: 4096), generator: &rng)
        let split = try DataSplit.make(from: data, probeSize: 512, probeSource: .train, generator: &rng)
        let model = try MLP<Float>(MLPArchitecture(inputDim: 16, width: 256, depth: 2, outputDim: 1, activation: .tanh), generator: &rng)
        let trainer = try ModelTrainer(model: model, optimizer: OptimizerConfig(learningRate: 0.05, momentum: 0.9),
                                       train: split.train, batchSize: 64, generator: rng.fork(3))
        let probe = try LNPProbe(model: model, probe: split.probe)
        let initial = probe.measure(model).loss
        for _ in 0..<2000 { trainer.trainStep() }
        let final = probe.measure(model).loss
        XCTAssertLessThan(final, 0.1 * initial, "train loss \(initial) → \(final)")
    }
}
