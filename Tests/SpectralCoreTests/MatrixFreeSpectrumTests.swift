import XCTest
import TestSupport
@testable import SpectralCore

/// The matrix-free eNTK (operator, ARPACK head, Lanczos quadrature) against
/// the exact kernel and its full eigen-decomposition on probes where both run.
final class MatrixFreeSpectrumTests: XCTestCase {
    private typealias Case = MatrixFreeCase
    private func makeCase(rows: Int, inputDim: Int = 5, width: Int = 12, depth: Int = 2, outputs: Int = 3,
                          activation: Activation = .tanh, parameterization: Parameterization = .standard,
                          frozen: Bool = false, seed: UInt64 = 7, withKernel: Bool = true) throws -> Case {
        try MatrixFreeCase(rows: rows, inputDim: inputDim, width: width, depth: depth, outputs: outputs, activation: activation,
                           parameterization: parameterization, frozen: frozen, seed: seed, withKernel: withKernel)
    }

    private func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        let difference = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        let scale = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return difference / scale
    }

    /// Θ applied to the `b` vectors laid end to end in `x`, in one batched call.
    private func applied(_ op: NTKOperator, _ x: [Double], count b: Int) -> [Double] {
        var y = [Double](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in op.apply(xp.baseAddress!, yp.baseAddress!, count: b) }
        }
        return y
    }

    /// Θ applied to a random block of `b` vectors in one call, each vector
    /// against the exact kernel's product; the operator, for further checks.
    @discardableResult
    private func assertBlockProductIsTheKernels(_ c: Case, vectors b: Int, seed: UInt64, _ label: String,
                                                file: StaticString = #filePath, line: UInt = #line) -> NTKOperator {
        let m = c.kernel.rows
        let op = NTKOperator(factors: c.factors, blockCapacity: b)
        var rng = SeededGenerator(seed: seed)
        let x = (0..<(m * b)).map { _ in rng.gaussian() }
        let y = applied(op, x, count: b)
        for j in 0..<b {
            let v = Matrix(rows: m, cols: 1, storage: Array(x[(j * m)..<((j + 1) * m)]))
            XCTAssertLessThan(relativeError(Array(y[(j * m)..<((j + 1) * m)]), c.kernel.multiplied(by: v).storage), 1e-10,
                              "\(label), vector \(j)", file: file, line: line)
        }
        return op
    }

    func testOperatorEqualsTheExactKernelTimesABlockOfVectors() throws {
        for activation in [Activation.tanh, .relu, .gelu] {
            for parameterization in [Parameterization.standard, .ntk] {
                for frozen in [false, true] {
                    let c = try makeCase(rows: 9, activation: activation, parameterization: parameterization, frozen: frozen)
                    let label = "\(activation) \(parameterization) frozen=\(frozen)"
                    let op = assertBlockProductIsTheKernels(c, vectors: 3, seed: 99, label)
                    XCTAssertEqual(op.trace(), c.kernel.trace, accuracy: 1e-10 * c.kernel.trace, label)
                    XCTAssertEqual(op.productCount, 3)
                }
            }
        }
    }

    /// The contraction kernels (CContractions) walk each block in chunks of
    /// 32 and 8 doubles with a scalar tail, and the outputs in fours with a
    /// remainder; the last hidden layer goes through its factors. Widths and
    /// output counts on either side of every chunk boundary, and depths 1 and
    /// 3 (the factored layer first, or above two streamed ones), must all give
    /// the exact kernel's product.
    func testOperatorEqualsTheExactKernelForEveryChunkOfTheContractions() throws {
        for depth in [1, 3] {
            for outputs in [1, 4, 6] {
                for width in [3, 8, 37, 40] {
                    let c = try makeCase(rows: 5, width: width, depth: depth, outputs: outputs, activation: .gelu)
                    assertBlockProductIsTheKernels(c, vectors: 2, seed: 3, "depth \(depth), C = \(outputs), width \(width)")
                }
            }
        }
    }

    /// The last hidden layer's deltas come from their factors, φ'(h) ⊙ s_L W_L[c, :],
    /// not from the backward pass; they must be the backward pass's deltas
    /// (to Float32 rounding for a Float32 model), output by output.
    func testFactoredDeltasAreTheBackwardPassDeltas() throws {
        for activation in [Activation.tanh, .relu] {
            var rng = SeededGenerator(seed: 21)
            let n = 6, outputs = 3
            let arch = MLPArchitecture(inputDim: 4, width: 10, depth: 2, outputDim: outputs, activation: activation, parameterization: .ntk)
            let model = try MLP<Float>(arch, generator: &rng)
            var x = Matrix<Float>(rows: n, cols: 4)
            for k in x.storage.indices { x.storage[k] = Float(rng.gaussian()) }
            let y = Matrix<Float>(rows: n, cols: outputs)
            let probe = try LNPProbe(model: model, probe: Dataset(name: "probe", inputs: x, targets: .values(y)))
            let factors = KernelFactors(model: model, rows: n)
            _ = probe.measure(model, kernelFactors: factors)
            let hidden = try XCTUnwrap(factors.factoredLayer)
            XCTAssertEqual(hidden, model.readoutLayer - 1)
            factors.materializeFactoredDeltas()

            let workspace = MLPWorkspace(for: model, capacity: n)
            workspace.loadInputs(x, count: n)
            model.forward(rows: n, workspace: workspace)
            let width = model.layers[hidden].fanOut
            for output in 0..<outputs {
                for k in 0..<(n * outputs) { workspace.outputGradient[k] = 0 }
                for i in 0..<n { workspace.outputGradient[i * outputs + output] = 1 }
                model.backward(rows: n, workspace: workspace, parameterGradients: false)
                for i in 0..<n {
                    for k in 0..<width {
                        let pass = Double(workspace.delta(hidden)[i * width + k])
                        let stored = factors.deltas[hidden][i * outputs + output, k]
                        XCTAssertEqual(stored, pass, accuracy: 1e-6 * max(1, abs(pass)), "\(activation) sample \(i) output \(output)")
                    }
                }
            }
        }
    }

    /// The matrix-free path never allocates the last hidden layer's nC ×
    /// fan_out deltas (its operator and trace read the two factors); the
    /// exact kernel builds them when it needs them, and again after the next
    /// measurement, so a kernel after training is the trained model's and
    /// not the one before (stale deltas would keep the old Θ_{L−1}).
    func testFactoredDeltasExistOnlyForTheExactKernelAndFollowTheModel() throws {
        let c = try makeCase(rows: 30, width: 9, depth: 2, outputs: 3)
        var rng = SeededGenerator(seed: 8)
        let fresh = KernelFactors(model: c.model, rows: 30)
        let hidden = try XCTUnwrap(fresh.factoredLayer)
        var x = Matrix<Float>(rows: 30, cols: 5)
        for k in x.storage.indices { x.storage[k] = Float(rng.gaussian()) }
        let probe = try LNPProbe(model: c.model, probe: Dataset(name: "probe", inputs: x, targets: .values(Matrix<Float>(rows: 30, cols: 3))))
        _ = probe.measure(c.model, kernelFactors: fresh)
        let op = NTKOperator(factors: fresh, blockCapacity: 4)
        _ = try MatrixFreeSpectrum.analyze(op, residualGradient: probe.residualGradient, step: 0,
                                           settings: MatrixFreeSettings(topK: 4, starts: 3, steps: 6))
        XCTAssertEqual(fresh.deltas[hidden].rows, 0, "the matrix-free spectrum allocated the factored layer's deltas")
        let before = EmpiricalNTK.kernel(fresh)
        XCTAssertEqual(fresh.deltas[hidden].rows, 90)
        XCTAssertEqual(op.trace(), before.trace, accuracy: 1e-12 * before.trace)

        // Move every weight, measure again: the kernel must be the new model's.
        for k in 0..<c.model.parameterCount { c.model.parameters[k] += 0.3 * rng.gaussian() }
        _ = probe.measure(c.model, kernelFactors: fresh)
        let after = EmpiricalNTK.kernel(fresh)
        let reference = KernelFactors(model: c.model, rows: 30)
        _ = probe.measure(c.model, kernelFactors: reference)
        let expected = EmpiricalNTK.kernel(reference)
        XCTAssertGreaterThan(relativeError(before.storage, expected.storage), 1e-3, "the weights did not move the kernel")
        XCTAssertLessThan(relativeError(after.storage, expected.storage), 1e-14)
        XCTAssertEqual(op.trace(), expected.trace, accuracy: 1e-12 * expected.trace)
    }

    /// Past `NTKOperator`'s parallel threshold the per-sample contractions
    /// split the samples between OpenBLAS's threads: each range must write
    /// only its own rows, and every row exactly once (a range off by one
    /// leaves a sample's outputs zero or counts them twice).
    func testOperatorSplitAcrossThreadsEqualsTheExactKernel() throws {
        let previous = BLASRuntime.threadCount
        BLASRuntime.setThreadCount(2)
        defer { BLASRuntime.setThreadCount(previous) }
        try XCTSkipIf(BLASRuntime.threadCount < 2, "OpenBLAS runs one thread here")
        // 401 samples (odd, so the halves differ) × 3 outputs × width 64 × 4 vectors: above the threshold.
        let c = try makeCase(rows: 401, width: 64, outputs: 3, activation: .relu)
        assertBlockProductIsTheKernels(c, vectors: 4, seed: 5, "split across threads")
    }

    /// A frozen model's operator must ignore the hidden layers: it equals the readout's layer kernel.
    func testFrozenOperatorIsTheReadoutKernel() throws {
        let c = try makeCase(rows: 7, frozen: true)
        let readout = EmpiricalNTK.layerKernel(c.model.readoutLayer, c.factors)
        let active = try makeCase(rows: 7, frozen: false)
        var rng = SeededGenerator(seed: 5)
        let v = (0..<readout.rows).map { _ in rng.gaussian() }
        let expected = readout.multiplied(by: Matrix(rows: v.count, cols: 1, storage: v)).storage
        XCTAssertLessThan(relativeError(NTKOperator(factors: c.factors).apply(v), expected), 1e-10)
        // The same weights with every layer training give a different product.
        XCTAssertGreaterThan(relativeError(NTKOperator(factors: active.factors).apply(v), expected), 1e-3)
    }

    func testTopEigenpairsEqualTheExactHead() throws {
        for frozen in [false, true] {
            let c = try makeCase(rows: 60, width: 24, outputs: 3, frozen: frozen)
            let exact = try SymmetricEigen(c.kernel)
            let k = 16
            let top = try TopEigenpairs.compute(NTKOperator(factors: c.factors), k: k)
            for j in 0..<k {
                XCTAssertEqual(top.eigenvalues[j], exact.eigenvalues[j], accuracy: 1e-8 * exact.eigenvalues[j], "frozen=\(frozen) λ_\(j + 1)")
            }
            // Each Ritz vector is an eigenvector of the exact kernel: ‖Θv − λv‖ ≤ 1e-8 λ_1.
            let m = c.kernel.rows
            for j in 0..<k {
                let v = Array(top.eigenvectors[(j * m)..<((j + 1) * m)])
                let thetaV = c.kernel.multiplied(by: Matrix(rows: m, cols: 1, storage: v)).storage
                let residual = zip(thetaV, v).reduce(0) { $0 + ($1.0 - top.eigenvalues[j] * $1.1) * ($1.0 - top.eigenvalues[j] * $1.1) }
                XCTAssertLessThan(residual.squareRoot(), 1e-8 * exact.eigenvalues[0])
            }
        }
    }

    func testTopKOutsideOneToMIsRefused() throws {
        let c = try makeCase(rows: 4, outputs: 2)
        let op = NTKOperator(factors: c.factors)
        XCTAssertThrowsError(try TopEigenpairs.compute(op, k: 8)) { error in
            XCTAssertEqual(error as? TopEigenpairs.Failure, .badCount(k: 8, size: 8))
            XCTAssertTrue("\(error)".contains("m = 8"), "\(error)")
        }
        XCTAssertThrowsError(try TopEigenpairs.compute(op, k: 0))
    }

    /// The matrix-free sample's exact parts equal the exact sample's: the head, its
    /// mode weights, λ_eff and χ_pos; the rest weight is what the head leaves.
    func testMatrixFreeSampleKeepsTheExactNumbersExact() throws {
        let c = try makeCase(rows: 80, width: 32, outputs: 2)
        let exact = try SpectrumAnalysis.analyze(kernel: c.kernel, residualGradient: c.residual, step: 3)
        let op = NTKOperator(factors: c.factors, blockCapacity: 12)
        let settings = MatrixFreeSettings(topK: 8, starts: 10, steps: 40)
        let estimate = try MatrixFreeSpectrum.analyze(op, residualGradient: c.residual, step: 3, settings: settings)
        XCTAssertEqual(estimate.method, .lanczos)
        XCTAssertEqual(estimate.modeCount, 160)
        XCTAssertEqual(estimate.eigenvalues.count, 8)
        for j in 0..<8 {
            XCTAssertEqual(estimate.eigenvalues[j], exact.eigenvalues[j], accuracy: 1e-8 * exact.eigenvalues[j])
            XCTAssertEqual(estimate.weights[j], exact.weights[j], accuracy: 1e-8)
        }
        XCTAssertEqual(estimate.restWeight, 1 - exact.weights.prefix(8).reduce(0, +), accuracy: 1e-8)
        XCTAssertEqual(try XCTUnwrap(estimate.lambdaEff), try XCTUnwrap(exact.lambdaEff), accuracy: 1e-10 * exact.lambdaEff!)
        XCTAssertEqual(try XCTUnwrap(estimate.chiPosExact), try XCTUnwrap(exact.chiPosExact), accuracy: 1e-10)
        XCTAssertTrue(estimate.histogram.isEstimate)
        XCTAssertEqual(estimate.histogram.countUncertainty.count, estimate.histogram.counts.count)
        XCTAssertEqual(Double(estimate.histogram.counts.reduce(0, +) + estimate.histogram.nearZeroCount), 160, accuracy: 3)
        XCTAssertEqual(estimate.effectiveRank, exact.effectiveRank, accuracy: 0.1 * exact.effectiveRank)
        XCTAssertFalse(exact.isEstimate)
    }

    /// The quadrature keeps its configured starts while their spread matters
    /// and takes the fewest with a worst-case standard error 1/√(m·s) ≤ 0.005
    /// once m is large, never below 4 nor above what was configured.
    func testRandomStartsShrinkOnlyWhereTheirStandardErrorIsNegligible() {
        let defaults = MatrixFreeSettings()
        XCTAssertEqual([320, 1850, 5120, 7999, 8000, 9999, 10_000, 10_240, 102_400].map { defaults.randomStarts(size: $0) },
                       [6, 6, 6, 6, 5, 5, 4, 4, 4])
        for m in [320, 5120, 8000, 10_240, 102_400] {
            XCTAssertEqual(defaults.blockSize(size: m), defaults.randomStarts(size: m) + 1)
            XCTAssertEqual(defaults.quadratureProducts(size: m), 48 * defaults.blockSize(size: m) + 1)
        }
        for starts in [2, 3, 4, 5, 6, 8] {
            let settings = MatrixFreeSettings(starts: starts)
            for m in stride(from: 100, through: 200_000, by: 97) {
                let s = settings.randomStarts(size: m)
                XCTAssertLessThanOrEqual(s, starts, "m = \(m): never more than configured")
                if starts <= 4 { XCTAssertEqual(s, starts, "m = \(m): 4 or fewer configured are kept"); continue }
                XCTAssertGreaterThanOrEqual(s, 4, "m = \(m)")
                // The standard-error bound holds, and one start fewer would break it
                // unless that went below the floor of 4.
                if s < starts { XCTAssertLessThanOrEqual(1 / (Double(m) * Double(s)).squareRoot(), 0.005 + 1e-15, "m = \(m)") }
                if s > 4 { XCTAssertGreaterThan(1 / (Double(m) * Double(s - 1)).squareRoot(), 0.005, "m = \(m)") }
            }
        }
    }

    /// With fewer trainable parameters than outputs (P = 59 < m = 180) at
    /// least m − P eigenvalues are exactly zero: the estimate's ≈0 bin holds
    /// them, as the exact spectrum's does.
    func testKnownNullSpaceLandsInTheNearZeroBin() throws {
        let c = try makeCase(rows: 60, width: 4, outputs: 3)
        let exact = try SpectrumAnalysis.analyze(kernel: c.kernel, residualGradient: c.residual, step: 0)
        let op = NTKOperator(factors: c.factors, blockCapacity: 11)
        XCTAssertEqual(op.knownNullDimension, 180 - 59)
        XCTAssertEqual(exact.histogram.nearZeroCount, 121)
        let estimate = try MatrixFreeSpectrum.analyze(op, residualGradient: c.residual, step: 0, settings: MatrixFreeSettings(topK: 8, steps: 30))
        XCTAssertEqual(estimate.histogram.nearZeroCount, 121)
        // The quadrature's space turns invariant after a few block steps (rank
        // ≤ 59, every eigenvalue simple): it then holds the whole nonzero
        // spectrum, and the histogram is the exact one, bin for bin.
        XCTAssertEqual(estimate.histogram.log10Edges.count, exact.histogram.log10Edges.count)
        for (a, b) in zip(estimate.histogram.log10Edges, exact.histogram.log10Edges) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(estimate.histogram.counts, exact.histogram.counts)
        XCTAssertEqual(try XCTUnwrap(estimate.rEff), try XCTUnwrap(exact.rEff), accuracy: 1e-12)
    }

    /// The quadrature's block Krylov basis stays orthonormal to working
    /// precision, and orthogonal to the deflated head, also where the space
    /// turns invariant and lost columns are replaced by random ones (whose
    /// products reach the whole basis, so one Gram–Schmidt pass after the
    /// local one is not enough for them).
    func testQuadratureBasisStaysOrthonormalToTheHeadAndItself() throws {
        for (rows, width, steps) in [(60, 4, 30), (40, 12, 20)] {
            let c = try makeCase(rows: rows, width: width, outputs: 3)
            let m = c.factors.rowCount * c.factors.outputDim
            let settings = MatrixFreeSettings(topK: 8, starts: 6, steps: steps)
            let block = settings.blockSize(size: m)
            let op = NTKOperator(factors: c.factors, blockCapacity: block)
            let workspace = MatrixFreeWorkspace(size: m, settings: settings)
            _ = try TopEigenpairs.compute(op, k: settings.topK, tolerance: settings.tolerance, seed: settings.seed, workspace: workspace)
            let vectors = block * settings.steps
            workspace.krylovBasis.update(repeating: 0, count: vectors * m)
            var generator = SeededGenerator(seed: 3)
            let starts = (0..<(m * block)).map { _ in generator.gaussian() }
            _ = try starts.withUnsafeBufferPointer { z in
                try SpectralDensity.quadratures(op, starts: z.baseAddress!, count: block, steps: settings.steps,
                                                deflation: workspace.ritzVectors, deflationCount: settings.topK, workspace: workspace)
            }
            // Columns never reached and zero columns stay 0; the block found
            // lost when the space turned invariant is left unnormalised, at round-off length.
            let basis = (0..<vectors).map { Array(UnsafeBufferPointer(start: workspace.krylovBasis + $0 * m, count: m)) }
                .filter { $0.reduce(0) { $0 + $1 * $1 } > 0.25 }
            XCTAssertGreaterThan(basis.count, block * 3)
            let head = (0..<settings.topK).map { Array(UnsafeBufferPointer(start: workspace.ritzVectors + $0 * m, count: m)) }
            func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
            var worst = 0.0
            for i in basis.indices {
                worst = max(worst, abs(dot(basis[i], basis[i]) - 1))
                for j in 0..<i { worst = max(worst, abs(dot(basis[i], basis[j]))) }
                for h in head { worst = max(worst, abs(dot(basis[i], h))) }
            }
            XCTAssertLessThan(worst, 1e-12, "n=\(rows) width=\(width): \(basis.count) basis vectors")
        }
    }

    /// A frozen model's spectrum through the readout's small Gram equals the
    /// full decomposition of its m × m kernel: every eigenvalue (C-fold
    /// repeated ones included), the weight per distinct eigenvalue, χ_pos,
    /// λ_eff, r_eff and the histogram — for n below and above fan_in + 1.
    func testFrozenReadoutSpectrumIsTheExactSpectrum() throws {
        for (rows, width, outputs) in [(30, 12, 3), (8, 20, 2), (25, 6, 1)] {
            let c = try makeCase(rows: rows, width: width, outputs: outputs, frozen: true)
            let exact = try SpectrumAnalysis.analyze(kernel: c.kernel, residualGradient: c.residual, step: 2)
            let readout = try SpectrumAnalysis.analyzeReadout(c.factors, residualGradient: c.residual, step: 2)
            let label = "n=\(rows) width=\(width) C=\(outputs)"
            XCTAssertEqual(readout.method, .exact)
            XCTAssertEqual(readout.eigenvalues.count, rows * outputs, label)
            let top = exact.eigenvalues[0]
            for (a, b) in zip(readout.eigenvalues, exact.eigenvalues) { XCTAssertEqual(a, b, accuracy: 1e-10 * top, label) }
            // Weights per group of equal eigenvalues (copies mix their vectors).
            func grouped(_ sample: SpectrumSample) -> [Double] {
                var sums: [Double] = [], last = -1.0
                for (value, weight) in zip(sample.eigenvalues, sample.weights) {
                    if sums.isEmpty || abs(value - last) > 1e-8 * top { sums.append(0); last = value }
                    sums[sums.count - 1] += weight
                }
                return sums
            }
            let a = grouped(readout), b = grouped(exact)
            XCTAssertEqual(a.count, b.count, label)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-9, label) }
            XCTAssertEqual(try XCTUnwrap(readout.chiPosExact), try XCTUnwrap(exact.chiPosExact), accuracy: 1e-10, label)
            XCTAssertEqual(readout.rEff, exact.rEff, label)
            XCTAssertEqual(readout.histogram.counts, exact.histogram.counts, label)
            XCTAssertEqual(readout.histogram.nearZeroCount, exact.histogram.nearZeroCount, label)
        }
    }

    func testGaussRuleBoundsHoldTheTrueDistributionFunction() throws {
        // A diagonal "kernel" through its Gauss rule: 5 steps on a spectrum of 50 distinct values.
        let eigenvalues = (1...50).map { Double($0) * Double($0) }
        let start = [Double](repeating: 1 / Double(50).squareRoot(), count: 50)
        var alphas: [Double] = [], betas: [Double] = []
        var q = start, previous = [Double](repeating: 0, count: 50), beta = 0.0
        for _ in 0..<5 {
            let w0 = zip(eigenvalues, q).map { $0 * $1 }
            let alpha = zip(q, w0).reduce(0) { $0 + $1.0 * $1.1 }
            var w = (0..<50).map { w0[$0] - alpha * q[$0] - beta * previous[$0] }
            alphas.append(alpha)
            beta = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            betas.append(beta)
            for i in 0..<50 { w[i] /= beta }
            previous = q; q = w
        }
        let rule = try SpectralDensity.gaussRule(diagonal: alphas, offDiagonal: Array(betas.prefix(4)))
        XCTAssertEqual(rule.weights.reduce(0, +), 1, accuracy: 1e-12)
        for x in stride(from: 0.5, through: 2600, by: 37.0) {
            let truth = Double(eigenvalues.filter { $0 < x }.count) / 50
            let (estimate, bound) = rule.massBelow(x)
            XCTAssertLessThanOrEqual(abs(estimate - truth), bound + 1e-12, "x = \(x)")
        }
    }
}
