import SpecTopApp
import SpecTopReaders
import Foundation
import SpectralCore
import SpecTopUI

/// The monitor's two benchmark figures: the time to render one frame into
/// the cell buffer, and the bytes per second it sends to a terminal.
enum UIBenchmarks {
    static var plugins: [BenchmarkPlugin] {
        [
            BenchmarkPlugin(key: BenchmarkPlugin.uiRenderKey, label: "UI render, 8 models, 200x60", unit: "ms") { options in
                renderMilliseconds(models: 8, width: 200, height: 60, repeats: options.repeats)
            },
            BenchmarkPlugin(key: BenchmarkPlugin.uiBytesKey, label: "UI output, 120x40", unit: "B/s") { options in
                // The real binary in a pty at the default 10 fps: the default
                // preset for the full suite, the tiny one for --quick; not
                // recorded (the screen's bytes do not depend on it, and a
                // bench must not fill and prune the user's runs directory).
                try TerminalThroughput.bytesPerSecond(
                    binary: "/proc/self/exe",
                    arguments: ["run", "--preset", options.quick ? "tiny" : "reach", "--steps", "1000000", "--no-record"],
                    width: 120, height: 40, warmup: options.quick ? 1 : 3, window: options.quick ? 2 : 10)
            },
        ]
    }

    /// Median milliseconds to render the grid view of `models` models with
    /// full histories and spectra into a reused buffer.
    static func renderMilliseconds(models: Int, width: Int, height: Int, repeats: Int) -> Double {
        let snapshot = syntheticSnapshot(models: models, historyPoints: 800)
        let info = MonitorInfo(preset: "bench", dataset: "teacher", blasCore: BLASRuntime.coreName)
        var buffer = CellBuffer(width: width, height: height)
        let seconds = BenchTimer.secondsPerCall(repeats: max(3, repeats), minimumSampleSeconds: 0.2) {
            FrameRenderer.render(snapshot, info: info, into: &buffer)
        }
        return seconds * 1000
    }

    /// Models of four sizes, active and frozen, with moving histories and a
    /// 256-eigenvalue spectrum each.
    static func syntheticSnapshot(models count: Int, historyPoints: Int) -> EngineSnapshot {
        var rng = SeededGenerator(seed: 5)
        let models = (0..<count).map { index -> ModelSnapshot in
            let width = 8 << (2 * (index / 2))
            let mode: TrainingMode = index % 2 == 0 ? .active : .frozen
            var history = MetricHistory(capacity: 1024)
            var last: MetricSample?
            for step in 0..<historyPoints {
                let t = Double(step) / Double(historyPoints)
                let sample = MetricSample(step: step, loss: exp(-3 * t) + 0.01 * rng.nextUnit(), chiLoss: 1, chiNet: 100 * (1 + t),
                                          chiPos: 0.1 * exp(-2 * t) * (1 + 0.2 * rng.nextUnit()), gradSq: 1, wall: t)
                history.append(sample)
                last = sample
            }
            let eigenvalues = (1...256).map { pow(Double($0), -1.5) * 100 }
            let weights = Array(repeating: 1.0 / 256, count: 256)
            let lambdaEff = zip(eigenvalues, weights).reduce(0) { $0 + $1.0 * $1.1 }
            let spectrum = SpectrumSample(step: historyPoints - 1, eigenvalues: eigenvalues, weights: weights, chiPosExact: 0.01,
                                          lambdaEff: lambdaEff, rEff: 0.2, effectiveRank: 20,
                                          histogram: SpectrumHistogram(eigenvalues: eigenvalues, weights: weights, lambdaEff: lambdaEff))
            return ModelSnapshot(id: "w\(width)-\(mode.rawValue)", width: width, depth: 2, mode: mode, featuresFrozen: mode == .frozen,
                                 parameterCount: width * width, trainableParameterCount: width * width, step: historyPoints,
                                 stepBudget: 2 * historyPoints, status: .training, latest: last, history: history,
                                 spectrum: spectrum, minChiPos: 0.001, amplification: 1.5, stepsPerSecond: 100)
        }
        return EngineSnapshot(state: .running, models: models, elapsed: 12, stepsPerSecond: 800)
    }
}
