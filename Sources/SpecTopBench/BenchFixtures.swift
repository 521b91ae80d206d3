import SpecTopApp
import SpecTopReaders
import SpectralCore

/// Synthetic data and models for the benchmarks. The values do not matter
/// for timing, only the shapes; they are seeded so runs are comparable.
enum BenchFixtures {
    /// Gaussian inputs [samples, inputDim] and Gaussian real targets
    /// [samples, outputs] (MSE: the cost of a step does not depend on the loss).
    static func regression(samples: Int, inputDim: Int, outputs: Int, seed: UInt64) -> Dataset {
        var rng = SeededGenerator(seed: seed)
        var x = Matrix<Float>(rows: samples, cols: inputDim)
        for k in x.storage.indices { x.storage[k] = Float(rng.gaussian()) }
        var y = Matrix<Float>(rows: samples, cols: outputs)
        for k in y.storage.indices { y.storage[k] = Float(rng.gaussian()) }
        return Dataset(name: "bench", inputs: x, targets: .values(y))
    }

    static func model(inputDim: Int, width: Int, depth: Int, outputs: Int, activation: Activation,
                      seed: UInt64) throws(ConfigurationError) -> MLP<Float> {
        var rng = SeededGenerator(seed: seed)
        let architecture = MLPArchitecture(inputDim: inputDim, width: width, depth: depth, outputDim: outputs,
                                           activation: activation, parameterization: .standard)
        return try MLP<Float>(architecture, generator: &rng)
    }

    /// A trainer on a data set of several batches, so the timed steps
    /// include the occasional reshuffle like real training. Plain SGD with a
    /// small rate: the model must not diverge during the timing (NaN and
    /// denormals change the speed of the arithmetic).
    static func trainer(inputDim: Int, width: Int, depth: Int, outputs: Int, batch: Int, activation: Activation,
                        seed: UInt64) throws(ConfigurationError) -> ModelTrainer<Float> {
        let model = try model(inputDim: inputDim, width: width, depth: depth, outputs: outputs, activation: activation, seed: seed)
        let data = regression(samples: batch * 8, inputDim: inputDim, outputs: outputs, seed: seed &+ 1)
        return try ModelTrainer(model: model, optimizer: OptimizerConfig(kind: .sgd, learningRate: 1e-4), train: data,
                                batchSize: batch, generator: SeededGenerator(seed: seed &+ 2))
    }
}
