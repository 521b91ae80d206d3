import SpecTopApp
import SpecTopReaders
import Foundation
import SpectralCore

/// `spectop bench`: how fast the engine is against the machine's limit.
///
/// Measures, as medians after warm-up: SGEMM GFLOP/s at 1 and 2 OpenBLAS
/// threads (the limit); one training step per model size with its achieved
/// GFLOP/s and the fraction of the limit; the kernel-free LNP measurement in
/// training steps; the exact eNTK (factors, kernel, eigen-decomposition);
/// figures from registered plugins (the UI's); and the peak RSS of the
/// default preset. Leaves OpenBLAS's thread count as it found it.
struct BenchmarkSuite: Sendable {
    var options: BenchmarkOptions
    /// Extra figures (the UI's); see `BenchmarkPlugin.expectedKeys`.
    var plugins: [BenchmarkPlugin]
    /// The cost curves drawn from the plugins' figures in the human output.
    var curveSources: [BenchmarkCurveSource]

    /// Why the suite could not finish.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(options: BenchmarkOptions, plugins: [BenchmarkPlugin] = [], curveSources: [BenchmarkCurveSource] = []) {
        self.options = options
        self.plugins = plugins
        self.curveSources = curveSources
    }

    /// Runs every measurement; `progress` gets one line per step (for stderr).
    func run(progress: (String) -> Void = { _ in }) throws(Failure) -> BenchmarkReport {
        let previousThreads = BLASRuntime.threadCount
        defer { BLASRuntime.setThreadCount(previousThreads) }
        var notes: [String: String] = [:]

        progress("SGEMM \(options.sgemmSize)^3, 1 thread")
        let sgemm1 = sgemmGFLOPS(threads: 1)
        progress("SGEMM \(options.sgemmSize)^3, 2 threads")
        let sgemm2 = sgemmGFLOPS(threads: 2)
        if sgemm2.threads < 2 {
            notes["sgemm_gflops_2_threads"] = "OpenBLAS ran with \(sgemm2.threads) thread(s) only: it caps threads at its build limit or the core count"
        }

        BLASRuntime.setThreadCount(options.threads)
        let threads = BLASRuntime.threadCount
        let limit = threads >= 2 ? sgemm2.gflops : sgemm1.gflops

        var trainSteps: [BenchmarkReport.TrainStep] = []
        for width in options.trainWidths {
            for outputs in options.outputs {
                progress("training step, width \(width), C=\(outputs)")
                trainSteps.append(try trainStep(width: width, outputs: outputs, batch: options.batch, threads: threads, limit: limit))
            }
        }
        notes["train_step"] = "forward, loss, backward and SGD update on a batch of \(options.batch) (ModelTrainer<Float>.trainStep), "
            + "OpenBLAS at \(threads) thread(s)"
            + (threads == 2 ? ": the single-model case (with several models the engine gives each worker one BLAS thread); " : "; ")
            + "gflops counts 6*params*batch per step; fraction_of_sgemm is against sgemm at \(threads >= 2 ? 2 : 1) thread(s)"

        var lnp: [BenchmarkReport.LNP] = []
        for outputs in options.outputs {
            progress("kernel-free LNP, width \(options.lnpWidth), probe \(options.lnpProbe), C=\(outputs)")
            let stepMs: Double
            if options.lnpProbe == options.batch,
               let known = trainSteps.first(where: { $0.width == options.lnpWidth && $0.outputs == outputs }) {
                stepMs = known.ms
            } else {
                stepMs = try trainStep(width: options.lnpWidth, outputs: outputs, batch: options.lnpProbe, threads: threads, limit: limit).ms
            }
            lnp.append(try lnpMeasurement(outputs: outputs, trainStepMs: stepMs))
        }
        notes["lnp"] = "LNPProbe.measure with the exact trace: one backward pass for the gradient norm and C for Tr(Theta), "
            + "no kernel; steps_equivalent = ms / train_step_ms (same model, batch = probe size)"

        var kernels: [BenchmarkReport.Kernel] = []
        for kernelCase in options.kernelCases {
            progress("exact eNTK, n=\(kernelCase.samples), C=\(kernelCase.outputs), width \(options.kernelWidth)")
            kernels.append(try kernelMeasurement(kernelCase))
        }
        notes["entk"] = "factors_ms: LNPProbe.measure collecting KernelFactors; kernel_ms: EmpiricalNTK.build into a reused SpectrumWorkspace (Gram-Hadamard, double); "
            + "eigh_ms: SpectrumAnalysis.analyze on that workspace (LAPACK dsyevd in place, mode weights, histogram); total_ms: median of the sums"

        var figures: [String: Double?] = [:]
        var labels = BenchmarkPlugin.expectedKeys.map(\.key)
        for plugin in plugins where !labels.contains(plugin.key) { labels.append(plugin.key) }
        for key in labels {
            guard let plugin = plugins.first(where: { $0.key == key }) else {
                figures[key] = .some(nil)
                notes[key] = "not measured: the terminal UI (SpecTopUI) is not registered with the bench in this build"
                continue
            }
            progress(plugin.label)
            do {
                let value = try plugin.measure(options)
                if value.isFinite {
                    figures[key] = value
                    if let note = plugin.note { notes[key] = note }
                } else {
                    figures[key] = .some(nil)
                    notes[key] = "the measurement returned \(value)"
                }
            } catch let skipped as BenchmarkPlugin.Skipped {
                figures[key] = .some(nil)
                notes[key] = "not measured: \(skipped)"
            } catch {
                figures[key] = .some(nil)
                notes[key] = "the measurement failed: \(error)"
            }
        }

        let curves = BenchmarkCurveSource.curves(for: labels, options: options, sources: curveSources)

        let memory = peakMemory(progress: progress)
        if let note = memory.note { notes["peak_rss_mib_default_preset"] = note }

        return BenchmarkReport(
            spectopVersion: SpecTopVersion.string, blasCore: BLASRuntime.coreName, blasThreadsDefault: previousThreads,
            cpuCores: ProcessInfo.processInfo.activeProcessorCount, benchThreads: threads, quick: options.quick,
            repeats: options.repeats, sgemmSize: options.sgemmSize, sgemmGFLOPS1Thread: sgemm1.gflops,
            sgemmGFLOPS2Threads: sgemm2.gflops, trainSteps: trainSteps, lnp: lnp, kernels: kernels,
            pluginFigures: figures, peakRSSMiB: memory.mib, peakRSSMethod: memory.method, peakRSSSteps: memory.steps,
            notes: notes, curves: curves, curveKeyPrefixes: curveSources.map(\.keyPrefix))
    }

    // MARK: Measurements

    /// GFLOP/s of C = A·B, n×n×n single precision, at `threads` OpenBLAS threads.
    private func sgemmGFLOPS(threads requested: Int) -> (gflops: Double, threads: Int) {
        BLASRuntime.setThreadCount(requested)
        let n = options.sgemmSize
        let a = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * n)
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * n)
        let c = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        var rng = SeededGenerator(seed: 42)
        for k in 0..<(n * n) {
            a[k] = Float(rng.uniform(-1, 1))
            b[k] = Float(rng.uniform(-1, 1))
            c[k] = 0
        }
        let seconds = BenchTimer.secondsPerCall(repeats: options.repeats, minimumSampleSeconds: options.minimumSampleSeconds) {
            Float.gemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: UnsafePointer(a.baseAddress!), lda: n,
                       b: UnsafePointer(b.baseAddress!), ldb: n, beta: 0, c: c.baseAddress!, ldc: n)
        }
        return (2 * Double(n) * Double(n) * Double(n) / seconds / 1e9, BLASRuntime.threadCount)
    }

    private func trainStep(width: Int, outputs: Int, batch: Int, threads: Int, limit: Double) throws(Failure) -> BenchmarkReport.TrainStep {
        let trainer: ModelTrainer<Float>
        do {
            trainer = try BenchFixtures.trainer(inputDim: options.inputDim, width: width, depth: options.depth, outputs: outputs,
                                                batch: batch, activation: options.activation, seed: UInt64(width * 100 + outputs))
        } catch {
            throw Failure(description: "cannot build the width-\(width) model: \(error)")
        }
        let seconds = BenchTimer.secondsPerCall(repeats: options.repeats, minimumSampleSeconds: options.minimumSampleSeconds) {
            trainer.trainStep()
        }
        let params = trainer.model.parameterCount
        let gflops = 6 * Double(params) * Double(batch) / seconds / 1e9
        return BenchmarkReport.TrainStep(
            width: width, depth: options.depth, inputDim: options.inputDim, batch: batch, outputs: outputs,
            activation: options.activation.rawValue, params: params, blasThreads: threads, ms: seconds * 1000,
            gflops: gflops, fractionOfSGEMM: limit > 0 ? gflops / limit : 0)
    }

    /// The training steps alone, one figure per width and C (`spectop bench
    /// --only train_step`): seconds instead of the whole suite's minute, and a
    /// driver short enough to run under an instruction-counting profiler
    /// (bench/profile_train_step.sh).
    static func trainStepFigures(_ options: BenchmarkOptions) -> [BenchmarkPlugin] {
        options.trainWidths.flatMap { width in
            options.outputs.map { outputs in
                BenchmarkPlugin(key: "train_step_w\(width)_c\(outputs)_ms",
                                label: "training step, width \(width), C=\(outputs), \(options.threads) BLAS thread(s)",
                                unit: "ms") { options in
                    let previousThreads = BLASRuntime.threadCount
                    defer { BLASRuntime.setThreadCount(previousThreads) }
                    BLASRuntime.setThreadCount(options.threads)
                    let suite = BenchmarkSuite(options: options)
                    return try suite.trainStep(width: width, outputs: outputs, batch: options.batch,
                                               threads: BLASRuntime.threadCount, limit: 0).ms
                }
            }
        }
    }

    private func probeFixture(samples: Int, width: Int, outputs: Int) throws(Failure) -> (MLP<Float>, LNPProbe<Float>) {
        do {
            let model = try BenchFixtures.model(inputDim: options.inputDim, width: width, depth: options.depth, outputs: outputs,
                                                activation: options.activation, seed: UInt64(7 + outputs))
            let data = BenchFixtures.regression(samples: samples, inputDim: options.inputDim, outputs: outputs, seed: UInt64(samples))
            return (model, try LNPProbe(model: model, probe: data))
        } catch {
            throw Failure(description: "cannot build the probe fixture (n=\(samples), width \(width), C=\(outputs)): \(error)")
        }
    }

    private func lnpMeasurement(outputs: Int, trainStepMs: Double) throws(Failure) -> BenchmarkReport.LNP {
        let (model, probe) = try probeFixture(samples: options.lnpProbe, width: options.lnpWidth, outputs: outputs)
        let seconds = BenchTimer.secondsPerCall(repeats: options.repeats, minimumSampleSeconds: options.minimumSampleSeconds) {
            _ = probe.measure(model)
        }
        let ms = seconds * 1000
        return BenchmarkReport.LNP(width: options.lnpWidth, depth: options.depth, inputDim: options.inputDim,
                                   probe: options.lnpProbe, outputs: outputs, ms: ms, trainStepMs: trainStepMs,
                                   stepsEquivalent: trainStepMs > 0 ? ms / trainStepMs : 0)
    }

    /// Times the three phases of one spectrum step separately; the first
    /// round is warm-up (it also sizes LAPACK's workspace and the page cache
    /// of the kernel buffers).
    private func kernelMeasurement(_ kernelCase: BenchmarkOptions.KernelCase) throws(Failure) -> BenchmarkReport.Kernel {
        let n = kernelCase.samples, outputs = kernelCase.outputs
        let (model, probe) = try probeFixture(samples: n, width: options.kernelWidth, outputs: outputs)
        let factors = KernelFactors(model: model, rows: n)
        // The engine's path: one workspace, reused by every round.
        let workspace = SpectrumWorkspace(capacity: n * outputs, rows: n)
        var factorTimes: [Double] = [], kernelTimes: [Double] = [], eighTimes: [Double] = [], totals: [Double] = []
        for round in 0...max(1, options.kernelRepeats) {
            let tFactors = BenchTimer.seconds { _ = probe.measure(model, kernelFactors: factors) }
            let tKernel = BenchTimer.seconds { _ = EmpiricalNTK.build(factors, into: workspace) }
            var failure: Error?
            let tEigh = BenchTimer.seconds {
                do { _ = try SpectrumAnalysis.analyze(workspace: workspace, size: n * outputs, residualGradient: probe.residualGradient, step: 0) } catch {
                    failure = error
                }
            }
            if let failure { throw Failure(description: "eigen-decomposition failed for n=\(n), C=\(outputs): \(failure)") }
            if round == 0 { continue }
            factorTimes.append(tFactors)
            kernelTimes.append(tKernel)
            eighTimes.append(tEigh)
            totals.append(tFactors + tKernel + tEigh)
        }
        return BenchmarkReport.Kernel(
            n: n, outputs: outputs, width: options.kernelWidth, depth: options.depth, inputDim: options.inputDim,
            kernelSize: n * outputs, factorsMs: BenchTimer.median(factorTimes) * 1000,
            kernelMs: BenchTimer.median(kernelTimes) * 1000, eighMs: BenchTimer.median(eighTimes) * 1000,
            totalMs: BenchTimer.median(totals) * 1000)
    }

    private func peakMemory(progress: (String) -> Void) -> (mib: Double?, method: String, steps: Int?, note: String?) {
        let preset = Presets.defaultName
        switch options.memoryRun {
        case .skip(let reason):
            return (nil, "skipped", nil, "not measured: \(reason)")
        case .childProcess(let executable, let steps):
            progress("peak RSS: \(preset) preset, \(steps) steps, child process")
            switch PeakMemoryProbe.childProcess(executable: executable, preset: preset, steps: steps) {
            case .success(let mib):
                return (mib, "child_process", steps,
                        "`spectop run --preset \(preset) --headless --steps \(steps)` as a child process; its VmHWM from /proc, polled every 20 ms")
            case .failure(let failure):
                return (nil, "child_process", steps, "not measured: \(failure)")
            }
        case .inProcess(let steps):
            progress("peak RSS: \(preset) preset, \(steps) steps, in this process")
            switch PeakMemoryProbe.inProcess(preset: preset, steps: steps) {
            case .success(let mib):
                return (mib, "in_process", steps,
                        "the \(preset) preset for \(steps) steps inside the bench process, VmHWM after a reset: an upper bound "
                            + "(includes the bench's own memory)")
            case .failure(let failure):
                return (nil, "in_process", steps, "not measured: \(failure)")
            }
        }
    }
}
