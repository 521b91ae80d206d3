import XCTest
import TestSupport
@testable import SpectralCore

/// The exact eNTK and the kernel-free LNP against independent computations.
final class EmpiricalNTKTests: XCTestCase {
    private func probe(rows: Int, inputDim: Int, outputs: Int, kind: LossKind, seed: UInt64 = 3) -> Dataset {
        randomBatch(rows: rows, inputDim: inputDim, outputs: outputs, kind: kind, seed: seed, name: "probe")
    }

    /// J·Jᵀ with J from central finite differences of the network outputs.
    private func finiteDifferenceKernel(_ model: MLP<Double>, _ data: Dataset) -> Matrix<Double> {
        let n = data.count, c = model.outputDim, m = n * c
        let ws = MLPWorkspace(for: model, capacity: n)
        func outputs() -> [Double] {
            ws.loadInputs(data.inputs, count: n)
            model.forward(rows: n, workspace: ws)
            return (0..<m).map { ws.output[$0] }
        }
        let trainable = Array(model.trainableOffset..<model.parameterCount)
        var jacobian = Matrix<Double>(rows: m, cols: trainable.count)
        let h = 1e-6
        for (column, p) in trainable.enumerated() {
            let saved = model.parameters[p]
            model.parameters[p] = saved + h
            let up = outputs()
            model.parameters[p] = saved - h
            let down = outputs()
            model.parameters[p] = saved
            for row in 0..<m { jacobian[row, column] = (up[row] - down[row]) / (2 * h) }
        }
        return jacobian.gram()
    }

    private func measure(_ model: MLP<Double>, _ data: Dataset) throws -> (LNPMeasurement, Matrix<Double>, [Double]) {
        let lnp = try LNPProbe(model: model, probe: data)
        let factors = KernelFactors(model: model, rows: data.count)
        let measurement = lnp.measure(model, kernelFactors: factors)
        return (measurement, EmpiricalNTK.kernel(factors), lnp.residualGradient)
    }

    func testKernelMatchesFiniteDifferenceJacobian() throws {
        for activation in [Activation.relu, .tanh, .gelu] {
            for parameterization in [Parameterization.standard, .ntk] {
                for frozen in [false, true] {
                    var rng = SeededGenerator(seed: 11)
                    let arch = MLPArchitecture(inputDim: 3, width: 5, depth: 2, outputDim: 2,
                                               activation: activation, parameterization: parameterization)
                    let model = try MLP<Double>(arch, generator: &rng)
                    if frozen { model.freezeFeatures() }
                    let data = probe(rows: 4, inputDim: 3, outputs: 2, kind: .mse)
                    let (_, theta, _) = try measure(model, data)
                    let reference = finiteDifferenceKernel(model, data)
                    let scale = reference.storage.map(abs).max()!
                    assertClose(theta.storage, reference.storage, tolerance: 1e-6, floor: scale * 1e-3,
                                "\(activation) \(parameterization) frozen=\(frozen)")
                }
            }
        }
    }

    func testKernelFreeAgreesWithExactSpectrum() throws {
        for (kind, outputs) in [(LossKind.mse, 1), (.mse, 10), (.crossEntropy, 10), (.crossEntropy, 3)] {
            for frozen in [false, true] {
                var rng = SeededGenerator(seed: 5)
                let arch = MLPArchitecture(inputDim: 6, width: 16, depth: 3, outputDim: outputs,
                                           activation: .gelu, parameterization: .ntk)
                let model = try MLP<Double>(arch, generator: &rng)
                if frozen { model.freezeFeatures() }
                let data = probe(rows: 12, inputDim: 6, outputs: outputs, kind: kind)
                let (m, theta, g) = try measure(model, data)
                let label = "\(kind) C=\(outputs) frozen=\(frozen)"
                assertClose(m.chiNet, theta.trace, tolerance: 1e-9, label)
                // gᵀΘg straight from the kernel.
                var quadratic = 0.0
                for i in 0..<theta.rows { for j in 0..<theta.cols { quadratic += g[i] * theta[i, j] * g[j] } }
                assertClose(m.gradSq, quadratic, tolerance: 1e-9, label)
                let spectrum = try SpectrumAnalysis.analyze(kernel: theta, residualGradient: g, step: 0)
                let chiPos = try XCTUnwrap(m.chiPos)
                let exact = try XCTUnwrap(spectrum.chiPosExact)
                assertClose(chiPos, exact, tolerance: 1e-9, label)
                // χ_pos = Σ w_k λ_k / Σ λ_k, with weights summing to 1.
                assertClose(spectrum.weights.reduce(0, +), 1, tolerance: 1e-9, label)
                let identity = zip(spectrum.weights, spectrum.eigenvalues).reduce(0) { $0 + $1.0 * $1.1 } / spectrum.eigenvalues.reduce(0, +)
                assertClose(identity, chiPos, tolerance: 1e-9, label)
                let top = spectrum.eigenvalues.first!, bottom = spectrum.eigenvalues.last!
                XCTAssertLessThanOrEqual(bottom / m.chiNet, chiPos * (1 + 1e-12), label)
                XCTAssertLessThanOrEqual(chiPos, top / m.chiNet * (1 + 1e-12), label)
                // λ_eff = χ_pos · χ_net and r_eff from the sorted spectrum.
                assertClose(try XCTUnwrap(spectrum.lambdaEff), chiPos * m.chiNet, tolerance: 1e-9, label)
                let lambdaEff = spectrum.lambdaEff!
                let expectedRank = Double(spectrum.eigenvalues.filter { $0 >= lambdaEff }.count) / Double(spectrum.eigenvalues.count)
                XCTAssertEqual(spectrum.rEff, expectedRank, label)
                // Eigenvalues against a direct check: Θ v_k = λ_k v_k is implied by LAPACK; here the
                // trace of the spectrum matches the kernel's trace.
                assertClose(spectrum.eigenvalues.reduce(0, +), theta.trace, tolerance: 1e-9, label)
            }
        }
    }

    func testPerLayerPartsSumToTotalsAndMatchLayerKernels() throws {
        var rng = SeededGenerator(seed: 9)
        let arch = MLPArchitecture(inputDim: 5, width: 12, depth: 3, outputDim: 3, activation: .tanh, parameterization: .standard)
        let model = try MLP<Double>(arch, generator: &rng)
        let data = probe(rows: 10, inputDim: 5, outputs: 3, kind: .crossEntropy)
        let lnp = try LNPProbe(model: model, probe: data)
        let factors = KernelFactors(model: model, rows: data.count)
        let m = lnp.measure(model, kernelFactors: factors)
        assertClose(m.layerTraces.reduce(0, +), m.chiNet, tolerance: 1e-9)
        assertClose(m.layerGradSq.reduce(0, +), m.gradSq, tolerance: 1e-9)
        assertClose(m.layerShares.map(\.chiNetShare).reduce(0, +), 1, tolerance: 1e-9)
        assertClose(m.layerShares.map(\.gradientShare).reduce(0, +), 1, tolerance: 1e-9)
        let g = lnp.residualGradient
        for l in 0..<model.layers.count {
            let theta = EmpiricalNTK.layerKernel(l, factors)
            assertClose(theta.trace, m.layerTraces[l], tolerance: 1e-9, "layer \(l)")
            var quadratic = 0.0
            for i in 0..<theta.rows { for j in 0..<theta.cols { quadratic += g[i] * theta[i, j] * g[j] } }
            assertClose(quadratic, m.layerGradSq[l], tolerance: 1e-9, "layer \(l)")
        }
    }

    func testLinearModelKernelIsInputGramTensorIdentity() throws {
        var rng = SeededGenerator(seed: 2)
        let outputs = 3
        let arch = MLPArchitecture(inputDim: 4, width: 0, depth: 0, outputDim: outputs, parameterization: .ntk)
        let model = try MLP<Double>(arch, generator: &rng)
        let data = probe(rows: 6, inputDim: 4, outputs: outputs, kind: .mse)
        let (_, theta, _) = try measure(model, data)
        let s = Double(model.layers[0].weightMultiplier), t = Double(model.layers[0].biasMultiplier)
        let x = data.inputs.converted(to: Double.self)
        let gram = x.gram()
        for i in 0..<6 {
            for c in 0..<outputs {
                for j in 0..<6 {
                    for c2 in 0..<outputs {
                        let expected = c == c2 ? s * s * gram[i, j] + t * t : 0
                        XCTAssertEqual(theta[i * outputs + c, j * outputs + c2], expected, accuracy: 1e-12 * max(1, abs(expected)))
                    }
                }
            }
        }
    }

    func testUndefinedChiPosWhenResidualVanishes() throws {
        var rng = SeededGenerator(seed: 4)
        let arch = MLPArchitecture(inputDim: 3, width: 4, depth: 1, outputDim: 2)
        let model = try MLP<Double>(arch, generator: &rng)
        let data = probe(rows: 5, inputDim: 3, outputs: 2, kind: .mse)
        let measurement = LNPMeasurement(loss: 0, chiLoss: 0, chiNet: 3, gradSq: 0, layerTraces: [1, 2], layerGradSq: [0, 0], traceIsEstimate: false)
        XCTAssertNil(measurement.chiPos)
        XCTAssertNil(LNPMeasurement(loss: 0, chiLoss: 1, chiNet: 0, gradSq: 0, layerTraces: [0], layerGradSq: [0], traceIsEstimate: false).chiPos)
        XCTAssertNil(LNPMeasurement(loss: .nan, chiLoss: .nan, chiNet: 1, gradSq: .nan, layerTraces: [1], layerGradSq: [.nan], traceIsEstimate: false).chiPos)
        // Exact path with g = 0: no weights, χ_pos undefined, histogram still drawn.
        let lnp = try LNPProbe(model: model, probe: data)
        let factors = KernelFactors(model: model, rows: 5)
        _ = lnp.measure(model, kernelFactors: factors)
        let spectrum = try SpectrumAnalysis.analyze(kernel: EmpiricalNTK.kernel(factors), residualGradient: Array(repeating: 0, count: 10), step: 0)
        XCTAssertNil(spectrum.chiPosExact)
        XCTAssertNil(spectrum.lambdaEff)
        XCTAssertNil(spectrum.rEff)
        XCTAssertTrue(spectrum.weights.isEmpty)
        XCTAssertEqual(spectrum.histogram.counts.reduce(0, +) + spectrum.histogram.nearZeroCount, 10)
        XCTAssertNil(spectrum.histogram.markerBin)
    }

    func testRoundOffNegativeEigenvaluesAreClampedIntoNearZeroBin() throws {
        // A PSD matrix with an exact null direction, perturbed by −1e-17 round-off.
        var theta = Matrix<Double>(rows: 3, cols: 3)
        theta[0, 0] = 2; theta[1, 1] = 1; theta[2, 2] = -1e-17
        let spectrum = try SpectrumAnalysis.analyze(kernel: theta, residualGradient: [1, 1, 1], step: 0)
        XCTAssertEqual(spectrum.eigenvalues, [2, 1, 0])
        XCTAssertEqual(spectrum.histogram.nearZeroCount, 1)
        assertClose(spectrum.histogram.nearZeroWeight, 1.0 / 3, tolerance: 1e-12)
        XCTAssertEqual(spectrum.histogram.counts.reduce(0, +), 2)
        assertClose(try XCTUnwrap(spectrum.chiPosExact), (2.0 / 3 + 1.0 / 3) / 3, tolerance: 1e-12)
    }

    func testHistogramBinsAreLogSpacedWithResidualWeights() {
        let eigenvalues = [100.0, 10, 1, 0.1, 1e-20]
        let weights = [0.1, 0.2, 0.3, 0.4, 0.0]
        let h = SpectrumHistogram(eigenvalues: eigenvalues, weights: weights, lambdaEff: 1, binCount: 3)
        XCTAssertEqual(h.log10Edges.count, 4)
        assertClose(h.log10Edges.first!, -1, tolerance: 1e-12)
        assertClose(h.log10Edges.last!, 2, tolerance: 1e-12)
        XCTAssertEqual(h.counts, [1, 1, 2])
        assertClose(h.residualWeights, [0.4, 0.3, 0.3], tolerance: 1e-12)
        XCTAssertEqual(h.nearZeroCount, 1)
        XCTAssertEqual(h.markerBin, 1)
    }

    func testHutchinsonEstimateIsUnbiasedAndFlagged() throws {
        var rng = SeededGenerator(seed: 8)
        let arch = MLPArchitecture(inputDim: 4, width: 10, depth: 2, outputDim: 4, activation: .tanh)
        let model = try MLP<Double>(arch, generator: &rng)
        let data = probe(rows: 8, inputDim: 4, outputs: 4, kind: .mse)
        let lnp = try LNPProbe(model: model, probe: data)
        let exact = lnp.measure(model)
        let estimate = lnp.measure(model, estimator: .hutchinson(samples: 4000))
        XCTAssertTrue(estimate.traceIsEstimate)
        XCTAssertFalse(exact.traceIsEstimate)
        assertClose(estimate.chiNet, exact.chiNet, tolerance: 0.05)
        assertClose(estimate.gradSq, exact.gradSq, tolerance: 1e-12)
    }

    /// The engine's in-place path (a reused `SpectrumWorkspace`, LAPACK's
    /// column-major eigenvectors read as rows) against the allocating one, on
    /// workspaces larger than the kernel and reused across two models of
    /// different size, so a wrong leading dimension or stale data would show.
    func testWorkspaceSpectrumEqualsTheAllocatingPath() throws {
        let workspace = SpectrumWorkspace(capacity: 80, rows: 40)
        for (width, outputs, rows) in [(24, 3, 20), (16, 2, 13)] {
            let data = syntheticRegression(samples: 64, outputs: outputs)
            var rng = SeededGenerator(seed: UInt64(width))
            let model = try MLP<Float>(MLPArchitecture(inputDim: 8, width: width, depth: 2, outputDim: outputs, activation: .tanh), generator: &rng)
            let probe = try LNPProbe(model: model, probe: data.subset(Array(0..<rows)))
            let factors = KernelFactors(model: model, rows: rows)
            _ = probe.measure(model, estimator: .exact, kernelFactors: factors)
            let reference = try SpectrumAnalysis.analyze(kernel: EmpiricalNTK.kernel(factors), residualGradient: probe.residualGradient, step: 1)
            XCTAssertTrue(EmpiricalNTK.build(factors, into: workspace, interrupted: { false }))
            // The workspace holds the upper triangle (SYRK), which is what dsyevd reads.
            let full = EmpiricalNTK.kernel(factors), m = rows * outputs
            for row in 0..<m {
                for col in row..<m {
                    XCTAssertEqual(workspace.kernel[row * m + col], full[row, col], accuracy: 1e-12 * full.trace, "(\(row), \(col))")
                }
            }
            let reused = try SpectrumAnalysis.analyze(workspace: workspace, size: rows * outputs, residualGradient: probe.residualGradient, step: 1)
            XCTAssertEqual(reused.eigenvalues.count, rows * outputs)
            let top = reference.eigenvalues[0]
            for (a, b) in zip(reused.eigenvalues, reference.eigenvalues) { XCTAssertEqual(a, b, accuracy: 1e-10 * top) }
            // Degenerate eigenvalues can mix their vectors; their summed weight cannot change.
            XCTAssertEqual(reused.weights.reduce(0, +), 1, accuracy: 1e-10)
            XCTAssertEqual(try XCTUnwrap(reused.chiPosExact), try XCTUnwrap(reference.chiPosExact), accuracy: 1e-10)
            XCTAssertEqual(try XCTUnwrap(reused.lambdaEff), try XCTUnwrap(reference.lambdaEff), accuracy: 1e-10 * top)
            XCTAssertEqual(reused.rEff, reference.rEff)
            XCTAssertEqual(reused.histogram.counts, reference.histogram.counts)
            XCTAssertEqual(reused.histogram.markerBin, reference.histogram.markerBin)
            for (a, b) in zip(reused.histogram.log10Edges, reference.histogram.log10Edges) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        }
    }
}
