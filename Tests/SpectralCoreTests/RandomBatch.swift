@testable import SpectralCore

/// A batch of Gaussian inputs with Gaussian targets (mse) or uniform labels
/// (cross-entropy), from `seed`: the probe and batch B of the kernel tests.
func randomBatch(rows: Int, inputDim: Int, outputs: Int, kind: LossKind, seed: UInt64, name: String = "batch") -> Dataset {
    var rng = SeededGenerator(seed: seed)
    var x = Matrix<Float>(rows: rows, cols: inputDim)
    for k in x.storage.indices { x.storage[k] = Float(rng.gaussian()) }
    switch kind {
    case .mse:
        var y = Matrix<Float>(rows: rows, cols: outputs)
        for k in y.storage.indices { y.storage[k] = Float(rng.gaussian()) }
        return Dataset(name: name, inputs: x, targets: .values(y))
    case .crossEntropy:
        return Dataset(name: name, inputs: x, targets: .labels((0..<rows).map { _ in rng.index(below: outputs) }, classes: outputs))
    }
}
