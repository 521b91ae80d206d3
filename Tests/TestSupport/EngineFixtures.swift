import Foundation
import SpectralCore

/// A regression set from a random tanh network, built in the test so the
/// engine tests do not depend on the data loaders.
public func syntheticRegression(samples: Int, inputDim: Int = 8, outputs: Int = 1, seed: UInt64 = 1) -> Dataset {
    var rng = SeededGenerator(seed: seed)
    var x = Matrix<Float>(rows: samples, cols: inputDim)
    for k in x.storage.indices { x.storage[k] = Float(rng.gaussian()) }
    let hidden = 16
    let w = (0..<(hidden * inputDim)).map { _ in rng.gaussian() / Double(inputDim).squareRoot() }
    let v = (0..<(hidden * outputs)).map { _ in rng.gaussian() / Double(hidden).squareRoot() }
    var y = Matrix<Float>(rows: samples, cols: outputs)
    for i in 0..<samples {
        var h = [Double](repeating: 0, count: hidden)
        for j in 0..<hidden {
            var sum = 0.0
            for k in 0..<inputDim { sum += w[j * inputDim + k] * Double(x[i, k]) }
            h[j] = Foundation.tanh(sum)
        }
        for c in 0..<outputs {
            var sum = 0.0
            for j in 0..<hidden { sum += v[c * hidden + j] * h[j] }
            y[i, c] = Float(sum)
        }
    }
    return Dataset(name: "synthetic", inputs: x, targets: .values(y))
}

public func plans(widths: [Int], steps: Int, lr: Double = 0.05, batch: Int = 32, inputDim: Int = 8, outputs: Int = 1) -> [ModelPlan] {
    widths.enumerated().flatMap { index, width in
        TrainingMode.allCases.map { mode in
            ModelPlan(id: ModelPlan.defaultID(width: width, depth: 2, mode: mode),
                      architecture: MLPArchitecture(inputDim: inputDim, width: width, depth: 2, outputDim: outputs, activation: .tanh),
                      mode: mode, optimizer: OptimizerConfig(learningRate: lr), batchSize: batch, steps: steps,
                      initStream: UInt64(index))
        }
    }
}
