import XCTest
import TestSupport
import SpecTopRecord
@testable import SpectralCore

/// The cross-batch LNP (METHOD.md, *Cross-batch spectral position*) against
/// explicit float64 Jacobians and gradients, its reduction to the self
/// quantities when B = A, interference, and the normalised factors.
final class CrossBatchTests: XCTestCase {
    private func batch(rows: Int, inputDim: Int, outputs: Int, kind: LossKind, seed: UInt64) -> Dataset {
        randomBatch(rows: rows, inputDim: inputDim, outputs: outputs, kind: kind, seed: seed)
    }

    /// J: one row ∂f_{ic}/∂θ (trainable θ) per output, each from its own
    /// backward pass seeded with that output alone.
    private func explicitJacobian(_ model: MLP<Double>, _ data: Dataset) -> [[Double]] {
        let n = data.count, c = model.outputDim
        let ws = MLPWorkspace(for: model, capacity: n)
        ws.loadInputs(data.inputs, count: n)
        model.forward(rows: n, workspace: ws)
        return (0..<(n * c)).map { row in
            for k in 0..<(n * c) { ws.outputGradient[k] = k == row ? 1 : 0 }
            model.backward(rows: n, workspace: ws)
            return (model.trainableOffset..<model.parameterCount).map { model.gradients[$0] }
        }
    }

    /// The paper's definitions, written out from J and g = ∂L/∂f of each batch.
    private func reference(_ model: MLP<Double>, a: Dataset, b: Dataset) throws -> (dot: Double, chiLoss: Double, chiNet: Double, chiPos: Double) {
        func parts(_ data: Dataset) throws -> (jacobian: [[Double]], g: [Double]) {
            let probe = try LNPProbe(model: model, probe: data)
            _ = probe.measure(model)
            return (explicitJacobian(model, data), probe.residualGradient)
        }
        let (ja, ga) = try parts(a), (jb, gb) = try parts(b)
        func gradient(_ j: [[Double]], _ g: [Double]) -> [Double] {
            (0..<j[0].count).map { p in zip(j, g).reduce(0) { $0 + $1.0[p] * $1.1 } }
        }
        let dot = zip(gradient(ja, ga), gradient(jb, gb)).reduce(0) { $0 + $1.0 * $1.1 }
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let chiLoss = norm(ga) * norm(gb)
        let chiNet = norm(ja.flatMap { $0 }) * norm(jb.flatMap { $0 })
        return (dot, chiLoss, chiNet, dot / (chiLoss * chiNet))
    }

    /// What `ModelRun` does: both batches measured at the same θ, their kept
    /// parameter gradients dotted.
    private func measured(_ model: MLP<Double>, a: Dataset, b: Dataset) throws -> CrossBatchSample {
        let probeA = try LNPProbe(model: model, probe: a), probeB = try LNPProbe(model: model, probe: b)
        probeA.keepsParameterGradient = true
        probeB.keepsParameterGradient = true
        let ma = probeA.measure(model), mb = probeB.measure(model)
        let dot = zip(probeA.parameterGradient, probeB.parameterGradient).reduce(0) { $0 + $1.0 * $1.1 }
        return .combining(chiLossA: ma.chiLoss, chiNetA: ma.chiNet, lossB: mb.loss, chiLossB: mb.chiLoss, chiNetB: mb.chiNet, gradDot: dot, rows: b.count)
    }

    func testCrossQuantitiesEqualExplicitJacobiansAndGradients() throws {
        for (kind, outputs) in [(LossKind.mse, 3), (.crossEntropy, 4)] {
            for frozen in [false, true] {
                var rng = SeededGenerator(seed: 21)
                let model = try MLP<Double>(MLPArchitecture(inputDim: 4, width: 7, depth: 2, outputDim: outputs,
                                                            activation: .tanh, parameterization: .ntk), generator: &rng)
                if frozen { model.freezeFeatures() }
                let a = batch(rows: 5, inputDim: 4, outputs: outputs, kind: kind, seed: 1)
                let b = batch(rows: 3, inputDim: 4, outputs: outputs, kind: kind, seed: 2)
                let label = "\(kind) frozen=\(frozen)"
                let cross = try measured(model, a: a, b: b)
                let expected = try reference(model, a: a, b: b)
                assertClose(cross.gradDot, expected.dot, tolerance: 1e-10, label)
                assertClose(cross.chiLoss, expected.chiLoss, tolerance: 1e-10, label)
                assertClose(cross.chiNet, expected.chiNet, tolerance: 1e-10, label)
                assertClose(try XCTUnwrap(cross.chiPos), expected.chiPos, tolerance: 1e-10, label)
                XCTAssertEqual(cross.rows, 3)
            }
        }
    }

    func testWithBEqualToATheCrossQuantitiesAreTheSelfOnes() throws {
        var rng = SeededGenerator(seed: 4)
        let model = try MLP<Double>(MLPArchitecture(inputDim: 3, width: 6, depth: 1, outputDim: 2), generator: &rng)
        let a = batch(rows: 6, inputDim: 3, outputs: 2, kind: .mse, seed: 9)
        let cross = try measured(model, a: a, b: a)
        let own = try LNPProbe(model: model, probe: a).measure(model)
        XCTAssertEqual(cross.chiLoss, own.chiLoss)
        XCTAssertEqual(cross.chiNet, own.chiNet)
        assertClose(cross.gradDot, own.gradSq, tolerance: 1e-13)
        assertClose(try XCTUnwrap(cross.chiPos), try XCTUnwrap(own.chiPos), tolerance: 1e-13)
    }

    /// B is A with every residual reversed (targets mirrored through the
    /// outputs): a step on A raises B's loss, and χ_pos^{AB} = −χ_pos.
    func testABatchBuiltToInterfereHasANegativeCrossChiPos() throws {
        var rng = SeededGenerator(seed: 8)
        let model = try MLP<Double>(MLPArchitecture(inputDim: 3, width: 6, depth: 2, outputDim: 2), generator: &rng)
        let a = batch(rows: 6, inputDim: 3, outputs: 2, kind: .mse, seed: 10)
        let f = try LNPProbe(model: model, probe: a).outputs(of: model)
        guard case .values(let y) = a.targets else { return XCTFail("mse targets") }
        var mirrored = y
        for k in mirrored.storage.indices { mirrored.storage[k] = Float(2 * f.storage[k] - Double(y.storage[k])) }
        let b = Dataset(name: "mirrored", inputs: a.inputs, targets: .values(mirrored))
        let cross = try measured(model, a: a, b: b)
        let own = try LNPProbe(model: model, probe: a).measure(model)
        let chiPos = try XCTUnwrap(cross.chiPos)
        XCTAssertLessThan(chiPos, 0)
        // Float targets: the mirror is exact only to single precision.
        assertClose(chiPos, -(try XCTUnwrap(own.chiPos)), tolerance: 1e-5)
        XCTAssertGreaterThanOrEqual(chiPos, -1)
    }

    /// n·χ_loss and χ_net/n do not change when every probe row is doubled
    /// (nor do the cross ones with √(|A||B|)); the raw factors do.
    func testNormalisedFactorsAreInvariantToDuplicatingEveryRow() throws {
        var rng = SeededGenerator(seed: 12)
        let model = try MLP<Double>(MLPArchitecture(inputDim: 3, width: 5, depth: 1, outputDim: 3), generator: &rng)
        let a = batch(rows: 5, inputDim: 3, outputs: 3, kind: .crossEntropy, seed: 13)
        let b = batch(rows: 4, inputDim: 3, outputs: 3, kind: .crossEntropy, seed: 14)
        let twice = { (d: Dataset) in d.subset(Array(0..<d.count) + Array(0..<d.count)) }
        func sample(_ data: Dataset, cross other: Dataset) throws -> MetricSample {
            let m = try LNPProbe(model: model, probe: data).measure(model)
            var s = MetricSample(step: 0, loss: m.loss, chiLoss: m.chiLoss, chiNet: m.chiNet, chiPos: m.chiPos, gradSq: m.gradSq, wall: 0)
            s.rows = data.count
            s.cross = try measured(model, a: data, b: other)
            return s
        }
        let once = try sample(a, cross: b), doubled = try sample(twice(a), cross: twice(b))
        assertClose(doubled.chiLoss, once.chiLoss / 2, tolerance: 1e-12)
        assertClose(doubled.chiNet, once.chiNet * 2, tolerance: 1e-12)
        assertClose(try XCTUnwrap(doubled.normalizedChiLoss), try XCTUnwrap(once.normalizedChiLoss), tolerance: 1e-12)
        assertClose(try XCTUnwrap(doubled.normalizedChiNet), try XCTUnwrap(once.normalizedChiNet), tolerance: 1e-12)
        let crossOnce = try XCTUnwrap(once.cross), crossDoubled = try XCTUnwrap(doubled.cross)
        assertClose(try XCTUnwrap(crossDoubled.normalizedChiLoss(rowsA: 10)), try XCTUnwrap(crossOnce.normalizedChiLoss(rowsA: 5)), tolerance: 1e-12)
        assertClose(try XCTUnwrap(crossDoubled.normalizedChiNet(rowsA: 10)), try XCTUnwrap(crossOnce.normalizedChiNet(rowsA: 5)), tolerance: 1e-12)
        assertClose(try XCTUnwrap(crossDoubled.chiPos), try XCTUnwrap(crossOnce.chiPos), tolerance: 1e-12)
    }

    /// The engine records the cross measurement on every step line, from a
    /// held-out batch or a fresh training batch, and not at all when off.
    func testTheEngineMeasuresTheCrossBatchItIsGiven() throws {
        let data = syntheticRegression(samples: 96)
        let probe = data.subset(Array(0..<16))
        func run(_ cross: CrossBatchSource) throws -> [MetricSample] {
            var configuration = EngineConfiguration(models: plans(widths: [6], steps: 6), train: data, probe: probe, seed: 1,
                                                    spectrumEvery: 3, workers: 1, recordEvents: true)
            configuration.crossBatch = cross
            let engine = try Engine(configuration)
            engine.start()
            XCTAssertTrue(engine.waitUntilFinished(timeout: 60))
            return engine.drainEvents().compactMap { event in
                if case .metrics(_, let sample) = event { return sample } else { return nil }
            }
        }
        XCTAssertTrue(try run(.off).allSatisfy { $0.cross == nil })
        for samples in [try run(.heldOut(probe)), try run(.train)] {
            XCTAssertFalse(samples.isEmpty)
            for sample in samples {
                let cross = try XCTUnwrap(sample.cross)
                XCTAssertTrue(cross.gradDot.isFinite && cross.chiLoss > 0 && cross.chiNet > 0)
                XCTAssertLessThanOrEqual(abs(try XCTUnwrap(cross.chiPos)), 1)
                XCTAssertGreaterThan(cross.rows, 0)
                XCTAssertEqual(sample.rows, 16)
                // The step line carries all of it, and reads back to the same sample.
                let line = RecordLines.encode(.metrics(model: "m", sample))
                XCTAssertTrue(line.contains("\"cross_chi_pos\":") && line.contains("\"chi_net_normalized\":"), line)
                guard case .step(_, let decoded)? = RecordLine.decode(Data(line.utf8)) else { return XCTFail(line) }
                XCTAssertEqual(decoded.cross?.gradDot, cross.gradDot)
                XCTAssertEqual(decoded.cross?.chiPos, cross.chiPos)
                XCTAssertEqual(decoded.cross?.rows, cross.rows)
                XCTAssertEqual(decoded.rows, 16)
                XCTAssertEqual(decoded.normalizedChiNet, sample.normalizedChiNet)
            }
        }
        // B = the probe itself: the self quantities, to round-off.
        for sample in try run(.heldOut(probe)) {
            let cross = try XCTUnwrap(sample.cross)
            assertClose(cross.chiLoss, sample.chiLoss, tolerance: 1e-12)
            assertClose(cross.chiNet, sample.chiNet, tolerance: 1e-12)
            assertClose(cross.gradDot, sample.gradSq, tolerance: 1e-9)
        }
    }
}
