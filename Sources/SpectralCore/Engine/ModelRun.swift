import Foundation

/// The worker-side objects of one model: its trainer, its probe, its kernel
/// buffers and its running summaries. Only the worker that has claimed the
/// model in the engine's scheduler touches it.
public final class ModelRun: @unchecked Sendable {
    // @unchecked: the scheduler's busy flag hands a run to one worker at a time.
    public let plan: ModelPlan
    public let trainer: ModelTrainer<Float>
    public let probe: LNPProbe<Float>
    /// Batch B's probe for the cross-batch measurement (nil: off).
    public let crossProbe: LNPProbe<Float>?
    private let crossSource: CrossBatchSource
    private var crossGenerator: SeededGenerator
    private var factors: KernelFactors?
    /// Θv for the matrix-free path, made at its first use and kept (its
    /// scratch is sized once, like the exact path's workspace).
    private var kernelOperator: NTKOperator?
    /// ARPACK's and the quadrature's buffers, likewise made once.
    private var matrixFreeWorkspace: MatrixFreeWorkspace?

    /// Latest measurement and spectrum, with the step they belong to.
    public private(set) var lastMeasurement: LNPMeasurement?
    public private(set) var lastMeasuredStep = -1
    public private(set) var lastSpectrum: SpectrumSample?
    var lastSpectrumWall = -Double.infinity
    var lastSpectrumSeconds = 0.0
    var initialChiNet: Double?
    var minChiPos: Double?
    var maxREff: Double?

    init(plan: ModelPlan, train: Dataset, probe: Dataset, seed: UInt64, online: OnlineBatchSampler? = nil,
         cross: CrossBatchSource = .off) throws(ConfigurationError) {
        self.plan = plan
        let root = SeededGenerator(seed: seed)
        var initGenerator = root.fork(0x1000 + plan.initStream)
        let model = try MLP<Float>(plan.architecture, generator: &initGenerator)
        if plan.mode == .frozen { model.freezeFeatures() }
        trainer = try ModelTrainer(model: model, optimizer: plan.optimizer, train: train, batchSize: plan.batchSize,
                                   generator: root.fork(0x2000 + plan.initStream), online: online)
        self.probe = try LNPProbe(model: model, probe: probe)
        crossSource = cross
        crossGenerator = root.fork(0x3000 + plan.initStream)
        self.online = online
        switch cross {
        case .off: crossProbe = nil
        case .heldOut(let batch): crossProbe = try LNPProbe(model: model, probe: batch)
        case .train: crossProbe = try LNPProbe(model: model, probe: train.subset(Array(0..<min(plan.batchSize, train.count))))
        }
        self.probe.keepsParameterGradient = crossProbe != nil
        crossProbe?.keepsParameterGradient = true
    }

    private let online: OnlineBatchSampler?

    public var model: MLP<Float> { trainer.model }
    public var step: Int { trainer.step }

    /// Measures LNP at the current step, with the exact spectrum when asked.
    /// `interrupted` is asked between the pieces of the spectrum (factors,
    /// each layer's kernel, the eigen-solve); when it says yes the
    /// measurement throws `MeasurementError.interrupted` and records nothing.
    func measure(estimator: TraceEstimator, withSpectrum: Bool, workspace: SpectrumWorkspace? = nil,
                 matrixFree: MatrixFreeSettings? = nil,
                 interrupted: () -> Bool = { false }) throws -> (LNPMeasurement, SpectrumSample?) {
        let result: (LNPMeasurement, SpectrumSample?)
        if !withSpectrum {
            result = (probe.measure(model, estimator: estimator), nil)
        } else if let matrixFree {
            result = try measureMatrixFree(matrixFree, interrupted: interrupted)
        } else {
            result = try measureExactly(workspace: workspace ?? makeWorkspace(), interrupted: interrupted)
        }
        var measurement = result.0
        if crossProbe != nil, measurement.nonFiniteQuantity == nil {
            measurement.cross = try measureCross(estimator: estimator, a: measurement)
        }
        record(measurement, result.1)
        return (measurement, result.1)
    }

    /// The cross-batch measurement for a state dump: B as it stands (the
    /// held-out batch, or the last training batch measured), with `a` just
    /// measured on the probe. Nil when the run has no cross batch.
    func crossMeasurementForDump(a: LNPMeasurement) throws -> CrossBatchSample? {
        guard let crossProbe else { return nil }
        // `a`'s parameter gradient is the probe's, kept by its measurement.
        return combined(a, crossProbe.measure(model, estimator: .exact), rows: crossProbe.rowCount)
    }

    /// The cross quantities from A's and B's measurements just taken (their
    /// parameter gradients kept by the two probes).
    private func combined(_ a: LNPMeasurement, _ b: LNPMeasurement, rows: Int) -> CrossBatchSample {
        let ga = probe.parameterGradient, gb = crossProbe?.parameterGradient ?? []
        var dot = 0.0
        for k in 0..<min(ga.count, gb.count) { dot += ga[k] * gb[k] }
        return .combining(chiLossA: a.chiLoss, chiNetA: a.chiNet, lossB: b.loss, chiLossB: b.chiLoss, chiNetB: b.chiNet,
                          gradDot: dot, rows: rows)
    }

    /// The cross-batch LNP: batch B measured at the same parameters as the
    /// probe A just was, and the dot product of their parameter gradients.
    /// Overwrites `model.gradients`, as every measurement does.
    private func measureCross(estimator: TraceEstimator, a: LNPMeasurement) throws -> CrossBatchSample? {
        guard let crossProbe else { return nil }
        if case .train = crossSource {
            let rows = crossProbe.rowCount
            let batch: Dataset
            if let online {
                do { batch = try online(rows, &crossGenerator) } catch { throw ConfigurationError.invalid("the cross batch could not be drawn: \(error)") }
            } else {
                batch = trainer.train.subset(DataSplit.randomSubset(of: trainer.train.count, size: rows, generator: &crossGenerator))
            }
            try crossProbe.load(batch)
        }
        return combined(a, crossProbe.measure(model, estimator: estimator), rows: crossProbe.rowCount)
    }

    /// Marks the current step as measured without a measurement (after a
    /// failure that retrying would only repeat).
    func skipMeasurement() {
        lastMeasuredStep = step
    }

    /// Measures the current state (LNP and, within `maxKernelSize`, the exact
    /// spectrum; above it the matrix-free one when `matrixFree` is given)
    /// without touching the running summaries: for the state dump.
    public func measureWithoutRecording(maxKernelSize: Int = EngineConfiguration.defaultExactLimit,
                                        matrixFree: MatrixFreeSettings? = nil) throws -> (LNPMeasurement, SpectrumSample?) {
        guard kernelSize <= maxKernelSize else {
            guard let matrixFree, matrixFree.topK < kernelSize else { return (probe.measure(model), nil) }
            return try measureMatrixFree(matrixFree, interrupted: { false })
        }
        return try measureExactly(workspace: makeWorkspace(), interrupted: { false })
    }

    /// nC: the rows of this model's eNTK.
    var kernelSize: Int { probe.rowCount * model.outputDim }

    /// A workspace for this model alone (the state dump, tests); the engine
    /// gives each worker one shared by its models instead.
    func makeWorkspace() -> SpectrumWorkspace {
        SpectrumWorkspace(capacity: kernelSize, rows: probe.rowCount)
    }

    /// Kernel-free LNP plus the exact eNTK spectrum at the current step, in
    /// `workspace` (no m² allocation).
    private func measureExactly(workspace: SpectrumWorkspace, interrupted: () -> Bool) throws -> (LNPMeasurement, SpectrumSample?) {
        let factors = self.factors ?? KernelFactors(model: model, rows: probe.rowCount)
        self.factors = factors
        let measurement = probe.measure(model, estimator: .exact, kernelFactors: factors)
        if interrupted() { throw MeasurementError.interrupted }
        // A diverging model gives a kernel of NaN/Inf, which LAPACK rejects
        // with a bare "info -5": say what it means instead.
        if measurement.nonFiniteQuantity != nil { return (measurement, nil) }
        guard EmpiricalNTK.build(factors, into: workspace, interrupted: interrupted) else { throw MeasurementError.interrupted }
        if interrupted() { throw MeasurementError.interrupted }
        do {
            let spectrum = try SpectrumAnalysis.analyze(workspace: workspace, size: kernelSize, residualGradient: probe.residualGradient, step: step)
            return (measurement, spectrum)
        } catch SymmetricEigen.Failure.nonFinite {
            // The workspace refuses NaN/Inf before LAPACK sees it: the model diverged.
            throw MeasurementError.nonFiniteKernel
        } catch {
            throw MeasurementError.spectrumFailed("\(error)")
        }
    }

    /// Kernel-free LNP plus the matrix-free spectrum (top-k by ARPACK, the
    /// rest by Lanczos quadrature) through `NTKOperator`: no m² buffer at all.
    /// Each spectrum draws fresh quadrature starts (seeded by the step), so
    /// successive estimates are independent.
    private func measureMatrixFree(_ settings: MatrixFreeSettings, interrupted: () -> Bool) throws -> (LNPMeasurement, SpectrumSample?) {
        let factors = self.factors ?? KernelFactors(model: model, rows: probe.rowCount)
        self.factors = factors
        let measurement = probe.measure(model, estimator: .exact, kernelFactors: factors)
        if interrupted() { throw MeasurementError.interrupted }
        if measurement.nonFiniteQuantity != nil { return (measurement, nil) }
        if model.featuresFrozen {
            // A frozen model's spectrum is exact at any size through the
            // readout's small Gram (SpectrumAnalysis.analyzeReadout): no estimate needed.
            do {
                return (measurement, try SpectrumAnalysis.analyzeReadout(factors, residualGradient: probe.residualGradient, step: step))
            } catch SymmetricEigen.Failure.nonFinite {
                throw MeasurementError.nonFiniteKernel
            } catch {
                throw MeasurementError.spectrumFailed("\(error)")
            }
        }
        let op = kernelOperator ?? NTKOperator(factors: factors, blockCapacity: settings.blockSize(size: kernelSize))
        kernelOperator = op
        let workspace = matrixFreeWorkspace ?? MatrixFreeWorkspace(size: op.size, settings: settings)
        matrixFreeWorkspace = workspace
        var seeded = settings
        seeded.seed = settings.seed ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
        do {
            let spectrum = try MatrixFreeSpectrum.analyze(op, residualGradient: probe.residualGradient, step: step,
                                                          settings: seeded, workspace: workspace, interrupted: interrupted)
            if !spectrum.eigenvalues.allSatisfy(\.isFinite) { throw MeasurementError.nonFiniteKernel }
            return (measurement, spectrum)
        } catch TopEigenpairs.Failure.interrupted {
            throw MeasurementError.interrupted
        } catch let error as MeasurementError {
            throw error
        } catch {
            throw MeasurementError.spectrumFailed("\(error)")
        }
    }

    private func record(_ measurement: LNPMeasurement, _ spectrum: SpectrumSample?) {
        lastMeasurement = measurement
        lastMeasuredStep = step
        if initialChiNet == nil, measurement.chiNet.isFinite { initialChiNet = measurement.chiNet }
        if let chiPos = measurement.chiPos { minChiPos = min(minChiPos ?? chiPos, chiPos) }
        if let spectrum {
            lastSpectrum = spectrum
            if let r = spectrum.rEff { maxREff = max(maxREff ?? r, r) }
        }
    }

    /// Freezes the hidden layers from the next step on (a live freeze, `F`).
    /// χ_net then counts the readout alone, so dividing it by the all-layer
    /// χ_net(0) would report a meaningless drop: amplification restarts from
    /// the first measurement after the freeze.
    func freezeFeatures() {
        if !model.featuresFrozen { initialChiNet = nil }
        model.freezeFeatures()
    }

    /// χ_net(t) / χ_net(0), or since the live freeze: χ_net(t) / χ_net(freeze).
    var amplification: Double? {
        guard let first = initialChiNet, first > 0, let now = lastMeasurement?.chiNet else { return nil }
        return now / first
    }
}
