import XCTest
import TestSupport
@testable import SpectralCore

/// A random MLP on a random probe with its kernel factors, residual and (up
/// to a few thousand rows) the exact kernel, for the matrix-free tests.
struct MatrixFreeCase {
    let model: MLP<Double>
    let factors: KernelFactors
    let kernel: Matrix<Double>
    let residual: [Double]

    init(rows: Int, inputDim: Int = 5, width: Int = 12, depth: Int = 2, outputs: Int = 3,
         activation: Activation = .tanh, parameterization: Parameterization = .standard,
         frozen: Bool = false, seed: UInt64 = 7, withKernel: Bool = true) throws {
        var rng = SeededGenerator(seed: seed)
        let arch = MLPArchitecture(inputDim: inputDim, width: width, depth: depth, outputDim: outputs,
                                   activation: activation, parameterization: parameterization)
        let model = try MLP<Double>(arch, generator: &rng)
        if frozen { model.freezeFeatures() }
        var x = Matrix<Float>(rows: rows, cols: inputDim)
        for k in x.storage.indices { x.storage[k] = Float(rng.gaussian()) }
        var y = Matrix<Float>(rows: rows, cols: outputs)
        for k in y.storage.indices { y.storage[k] = Float(rng.gaussian()) }
        let probe = try LNPProbe(model: model, probe: Dataset(name: "probe", inputs: x, targets: .values(y)))
        let factors = KernelFactors(model: model, rows: rows)
        _ = probe.measure(model, kernelFactors: factors)
        // Past a few thousand rows the exact kernel (m² doubles) is left out.
        self.model = model
        self.factors = factors
        kernel = withKernel ? EmpiricalNTK.kernel(factors) : Matrix<Double>(rows: 0, cols: 0)
        residual = probe.residualGradient
    }
}
