import CLinalg
import Foundation

/// What a run will cost in time, estimated from the sizes before it starts,
/// so an expensive configuration is named with the setting to change instead
/// of being discovered at step 21 of 1,000 (issue 16: `kind = "digits"` in
/// the reach experiment made each exact spectrum take about 5 s).
///
/// Floating-point operations per model, as the engine does them:
/// - a training step: 6·P·batch (forward, backward, update; the usual count);
/// - a spectrum (METHOD.md, "Computing the exact eNTK"): the factors, one
///   forward and C backward passes over the n probe rows (2·P·n·(1 + 2C));
///   the Gram–Hadamard kernel, per layer n²·fan_in + m²·fan_out with m = n·C
///   (m² for the readout alone when frozen); and `dsyevd` with eigenvectors,
///   about 4·m³.
/// Above the exact limit an active model's matrix-free spectrum costs its
/// products Θv (`SpectrumPlan.matrixFreeSeconds`), and a frozen one's the
/// factors plus the readout's (fan_in+1)² Gram and its eigen-decomposition.
/// The rate comes from a short DGEMM measured on this machine at start.
public struct CostEstimate: Sendable, Equatable {
    public struct Model: Sendable, Equatable {
        public var id: String
        public var secondsPerStep: Double
        /// Nil when the model takes no spectrum (a Hutchinson trace, the
        /// matrix-free path off or refused as too slow).
        public var secondsPerSpectrum: Double?
        /// The spectrum is matrix-free (above the exact limit).
        public var matrixFree = false
        /// Steps between spectra when `spectrum_every` fixes them; nil when the engine spaces them by time.
        public var stepsPerSpectrum: Int?
        public var outputs: Int
        /// The model's step budget.
        public var steps: Int

        /// Seconds of training and of spectra over the whole budget.
        var trainingSeconds: Double { Double(steps) * secondsPerStep }
        var spectrumSecondsTotal: Double {
            guard let spectrum = secondsPerSpectrum, let every = stepsPerSpectrum else { return 0 }
            return spectrum * Double(steps / every + 1)
        }
    }

    /// The share of the run's time spent on spectra, when `spectrum_every`
    /// fixes them (0 when the engine spaces them by time: it keeps them within
    /// their fraction itself).
    public var spectrumShare: Double {
        let spectra = models.reduce(0) { $0 + $1.spectrumSecondsTotal }
        let training = models.reduce(0) { $0 + $1.trainingSeconds }
        return spectra + training > 0 ? spectra / (spectra + training) : 0
    }

    public var models: [Model]
    /// The measured double-precision GEMM rate the estimate uses.
    public var gflops: Double

    /// Spectra above this share of the time are worth a warning…
    public static let warningShare = 0.5
    /// …when they cost this many seconds in all (summed over the models): a
    /// short run whose spectra dominate (the `digits` preset: about 40 s at
    /// 20 GFLOP/s) needs no remedy, an hour-long one does.
    public static let warningSeconds = 60.0

    /// Seconds of spectra over the whole run, every model's added.
    public var spectrumSeconds: Double { models.reduce(0) { $0 + $1.spectrumSecondsTotal } }

    /// The share of spectra is worth a warning: large, and long in absolute terms.
    var spectraDominate: Bool { spectrumShare >= CostEstimate.warningShare && spectrumSeconds >= CostEstimate.warningSeconds }
    /// A single spectrum this long (seconds) is worth a warning even when time-spaced.
    public static let slowSpectrum = 2.0

    public static func of(_ configuration: EngineConfiguration, gflops: Double) -> CostEstimate {
        let rate = max(1e-3, gflops) * 1e9
        let n = Double(configuration.probe.count)
        // The plans the engine would choose on this machine, at the rate measured.
        var estimated = configuration
        estimated.measuredGFLOPS = gflops
        let models = configuration.models.map { plan -> Model in
            let a = plan.architecture
            let fans = (0...a.depth).map { layer -> (fanIn: Double, fanOut: Double) in
                (Double(layer == 0 ? a.inputDim : a.width), Double(layer == a.depth ? a.outputDim : a.width))
            }
            let parameters = fans.reduce(0) { $0 + $1.fanIn * $1.fanOut + $1.fanOut }
            let c = Double(a.outputDim)
            let m = n * c
            // Small models are dominated by per-call overhead, not arithmetic: floors keep them honest.
            let step = max(2e-5, 6 * parameters * Double(plan.batchSize) / rate)
            var spectrum: Double?
            var matrixFree = false
            let factors = 2 * parameters * n * (1 + 2 * c)
            switch SpectrumPlan.choose(for: plan, in: estimated) {
            case .exact:
                let layers = plan.mode == .frozen ? [fans[fans.count - 1]] : fans
                let kernel = layers.reduce(0) { $0 + n * n * $1.fanIn + m * m * $1.fanOut }
                spectrum = max(1e-3, (factors + kernel + 4 * m * m * m) / rate)
            case .matrixFree(let settings):
                matrixFree = true
                if plan.mode == .frozen {
                    let readout = fans[fans.count - 1].fanIn + 1
                    spectrum = max(1e-3, (factors + 2 * n * readout * readout + 4 * readout * readout * readout) / rate)
                } else {
                    spectrum = max(1e-3, factors / rate + SpectrumPlan.matrixFreeSeconds(a, rows: configuration.probe.count,
                                                                                         settings: settings, gflops: gflops))
                }
            case .none:
                break
            }
            return Model(id: plan.id, secondsPerStep: step, secondsPerSpectrum: spectrum, matrixFree: matrixFree,
                         stepsPerSpectrum: configuration.spectrumEvery, outputs: a.outputDim * configuration.probe.count,
                         steps: plan.steps)
        }
        return CostEstimate(models: models, gflops: gflops)
    }

    /// One line naming the costly part and the setting that changes it, or nil when nothing stands out.
    public var warning: String? {
        let costliest = models.compactMap { model in model.secondsPerSpectrum.map { (model, $0) } }.max { $0.1 < $1.1 }
        if spectraDominate, let (model, spectrum) = costliest, let every = model.stepsPerSpectrum {
            return "\(model.matrixFree ? "matrix-free" : "exact") spectra would take about \(Int((spectrumShare * 100).rounded()))% of the run's time (up to "
                + "\(CostEstimate.seconds(spectrum)) each, \(model.id): \(model.outputs) outputs, every \(every) steps); "
                + "raise spectrum_every, lower [metrics] probe, or remove spectrum_every to let spectop space them"
        }
        if let (model, spectrum) = costliest, spectrum >= CostEstimate.slowSpectrum {
            return "each \(model.matrixFree ? "matrix-free" : "exact") spectrum of \(model.id) takes about \(CostEstimate.seconds(spectrum)) (\(model.outputs) outputs); "
                + "spectra are spaced to stay within their share of the time, so they will be rare; lower [metrics] probe for more"
        }
        return nil
    }

    /// A few words for the monitor's header (the full line goes to stderr and the footer).
    public var shortWarning: String? {
        guard warning != nil else { return nil }
        if spectraDominate {
            return "spectra ~\(Int((spectrumShare * 100).rounded()))% of time"
        }
        let slowest = models.compactMap(\.secondsPerSpectrum).max() ?? 0
        return "spectra ~\(CostEstimate.seconds(slowest)) each"
    }

    /// `# estimated time per step …` for `--print-config`.
    public var summary: String {
        let step = models.map(\.secondsPerStep).max() ?? 0
        let spectrum = models.compactMap(\.secondsPerSpectrum).max()
        return "estimated time (at \(Int(gflops.rounded())) GFLOP/s): a training step up to \(CostEstimate.seconds(step))"
            + (spectrum.map { ", a spectrum up to \(CostEstimate.seconds($0))" } ?? ", no spectra")
    }

    static func seconds(_ value: Double) -> String {
        value < 1 ? "\(Int((value * 1000).rounded())) ms" : String(format: "%.1f s", value)
    }

    /// GFLOP/s of a 256³ double GEMM on this thread (a few milliseconds): the
    /// rate the estimate divides by.
    public static func measureGFLOPS() -> Double {
        let size = 256
        var a = [Double](repeating: 0, count: size * size), b = a, c = a
        for k in 0..<a.count {
            a[k] = Double(k % 17) / 17
            b[k] = Double(k % 13) / 13
        }
        var best = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(size), Int32(size), Int32(size), 1,
                        a, Int32(size), b, Int32(size), 0, &c, Int32(size))
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return 2 * Double(size * size * size) / max(best, 1e-9) / 1e9
    }
}
