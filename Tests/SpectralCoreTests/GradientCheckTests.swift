import XCTest
import TestSupport
@testable import SpectralCore

/// Backward against central finite differences in Float64.
final class GradientCheckTests: XCTestCase {
    /// Loss of `model` on (x, targets) with parameters as they are.
    private func loss(_ model: MLP<Double>, _ x: Matrix<Double>, _ targets: TargetBuffer<Double>, kind: LossKind) -> Double {
        let ws = MLPWorkspace(for: model, capacity: x.rows)
        ws.loadInputs(x, count: x.rows)
        model.forward(rows: x.rows, workspace: ws)
        return Loss.evaluate(kind, outputs: ws.output, targets: targets, rows: x.rows, gradient: ws.outputGradient)
    }

    private func check(activation: Activation, parameterization: Parameterization, kind: LossKind,
                       depth: Int = 3, outputs: Int = 3, frozen: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: 7)
        let arch = MLPArchitecture(inputDim: 4, width: 6, depth: depth, outputDim: outputs,
                                   activation: activation, parameterization: parameterization)
        let model = try MLP<Double>(arch, generator: &rng)
        if frozen { model.freezeFeatures() }
        let rows = 5
        var x = Matrix<Double>(rows: rows, cols: 4)
        for k in x.storage.indices { x.storage[k] = rng.gaussian() }
        let targets = TargetBuffer<Double>(kind: kind, outputDim: outputs, capacity: rows)
        for r in 0..<rows {
            if kind == .mse { for c in 0..<outputs { targets.values[r * outputs + c] = rng.gaussian() } }
            else { targets.labels[r] = rng.index(below: outputs) }
        }
        let ws = MLPWorkspace(for: model, capacity: rows)
        ws.loadInputs(x, count: rows)
        model.forward(rows: rows, workspace: ws)
        _ = Loss.evaluate(kind, outputs: ws.output, targets: targets, rows: rows, gradient: ws.outputGradient)
        for k in 0..<model.parameterCount { model.gradients[k] = .nan }
        model.backward(rows: rows, workspace: ws)
        let analytic = Array(model.gradients)

        var numeric = [Double](repeating: 0, count: model.parameterCount)
        let h = 1e-6
        for k in model.trainableOffset..<model.parameterCount {
            let saved = model.parameters[k]
            model.parameters[k] = saved + h
            let up = loss(model, x, targets, kind: kind)
            model.parameters[k] = saved - h
            let down = loss(model, x, targets, kind: kind)
            model.parameters[k] = saved
            numeric[k] = (up - down) / (2 * h)
        }
        let range = model.trainableOffset..<model.parameterCount
        // Relative error against the gradient's overall scale, so exact zeros
        // (dead ReLUs) do not demand infinite precision.
        let scale = numeric[range].map(abs).max() ?? 1
        assertClose(Array(analytic[range]), Array(numeric[range]), tolerance: 1e-6, floor: scale * 1e-3,
                    "\(activation) \(parameterization) \(kind)", file: file, line: line)
        if frozen {
            // Frozen layers' gradients are never written.
            XCTAssertTrue(analytic[0..<model.trainableOffset].allSatisfy { $0.isNaN }, file: file, line: line)
        }
    }

    func testEveryActivationParameterizationAndLoss() throws {
        for activation in Activation.allCases {
            for parameterization in Parameterization.allCases {
                for kind in LossKind.allCases {
                    try check(activation: activation, parameterization: parameterization, kind: kind)
                }
            }
        }
    }

    func testLinearModelAndSingleOutput() throws {
        try check(activation: .tanh, parameterization: .ntk, kind: .mse, depth: 0, outputs: 1)
        try check(activation: .gelu, parameterization: .mup, kind: .mse, depth: 1, outputs: 1)
    }

    func testFrozenModelOnlyReadoutGradients() throws {
        try check(activation: .relu, parameterization: .standard, kind: .crossEntropy, frozen: true)
    }
}
