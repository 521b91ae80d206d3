import SpecTopApp
import SpecTopReaders
import Foundation
import SpectralCore

/// The cost curve of one spectrum against m = nC (issue 15): the exact path
/// (factors, Θ by Gram–Hadamard, `dsyevd` in place) and the matrix-free one
/// (factors, ARPACK top-32, Lanczos density) on the same digits-shaped model
/// (d = 64, C = 10, relu, depth 2, width 256), from m = 320 to 102,400, and
/// the crossover where matrix-free gets faster — the figure behind
/// `EngineConfiguration.defaultExactLimit`.
///
/// Registered as bench plugins, one figure each, grouped by m so that
/// `--only spectrum` prints each size as soon as it is done:
/// `spectrum_exact_ms_m<M>`, `spectrum_matrix_free_ms_m<M>`,
/// `spectrum_matrix_free_products_m<M>`, `spectrum_matrix_free_gemm_floor_ms_m<M>`,
/// `spectrum_peak_rss_mib_m<M>`, then
/// `spectrum_crossover_m`. Each m is measured once per options, at the first
/// of its figures asked. Each time includes collecting the factors (the C
/// backward passes both paths need).
enum SpectrumCost {
    struct Case: Sendable, Equatable {
        var size: Int
        /// Whether the exact path runs at this size (see `exactLimit`).
        var exact: Bool
        /// m = nC with C = `outputs`.
        var rows: Int { size / SpectrumCost.outputs }
    }

    static let outputs = 10
    static let width = 256
    /// The exact path holds about 4m² doubles (the kernel decomposed in
    /// place, the Gram scratch and `dsyevd`'s workspace): 0.84 GB at m =
    /// 5120, 3.4 GB at 10,240 — past the 2 GiB the engine lets a run use,
    /// and minutes of `dsyevd` per spectrum on two cores.
    static let exactLimit = 5120
    /// Above this m one matrix-free spectrum takes minutes: one round is
    /// timed and there is no separate warm-up round (which would double a
    /// run that already lasts up to a quarter of an hour). What a warm-up
    /// removes — first-touch page faults of the buffers, lazily sized
    /// LAPACK/ARPACK workspaces — is well under a second, within the noise
    /// of rounds that long on a shared machine.
    static let singleRoundAbove = 10240

    /// m from 320 (n = 32; 256 is no multiple of C = 10) by doublings to
    /// 10,240, then 25,600, 51,200 and 102,400.
    static let cases: [Case] = [320, 640, 1280, 2560, 5120, 10240, 25600, 51200, 102400].map {
        Case(size: $0, exact: $0 <= exactLimit)
    }

    struct NotMeasured: Error, CustomStringConvertible {
        var description: String
    }

    /// What one m measured. Times are medians in milliseconds.
    struct CaseFigures: Sendable, Equatable {
        var exactMs: Double?
        var matrixFreeMs: Double
        /// Products Θv of the last timed matrix-free spectrum (ARPACK's
        /// count varies a little with the start; the quadrature's is fixed).
        var products: Double
        /// The operator's GEMMs alone for those products (`gemmFloorMs`).
        var gemmFloorMs: Double
        /// VmHWM of the bench process while this m ran, reset before it: the
        /// peak of either path plus what the process already held.
        var peakRSSMiB: Double?
        /// Timed rounds per path (after `warmupRounds`).
        var rounds: Int
        var warmupRounds: Int
    }

    private final class Cache: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        let lock = NSLock()
        var options: BenchmarkOptions?
        var figures: [Int: CaseFigures] = [:]
    }
    private static let cache = Cache()

    static let notMeasuredQuick = "not measured with --quick: the spectrum sizes run from m = 320 to 102,400 (up to an hour in all)"

    /// Why the exact path has no figure at `m`.
    static func exactSkipReason(_ m: Int) -> String {
        let gigabytes = 4 * Double(m) * Double(m) * 8 / 1e9
        return String(format: "not measured: the exact path needs about 4m^2 doubles (%.1f GB at m = %d); it runs only to m = %d",
                      gigabytes, m, exactLimit)
    }

    static var plugins: [BenchmarkPlugin] {
        func figure(_ key: String, _ label: String, unit: String, note: String? = nil,
                    _ pick: @escaping @Sendable (BenchmarkOptions) throws -> Double?) -> BenchmarkPlugin {
            BenchmarkPlugin(key: key, label: label, unit: unit, note: note) { options in
                guard !options.quick else { throw NotMeasured(description: notMeasuredQuick) }
                return try pick(options) ?? .nan
            }
        }
        var plugins: [BenchmarkPlugin] = []
        for spectrumCase in cases {
            let m = spectrumCase.size
            let rounds = m > singleRoundAbove
                ? "one timed round, no warm-up round (minutes each)"
                : "median of the timed rounds after one warm-up round"
            plugins.append(figure("spectrum_exact_ms_m\(m)", "spectrum, exact, m=\(m)", unit: "ms", note: spectrumCase.exact ? rounds : nil) { options in
                guard spectrumCase.exact else { throw NotMeasured(description: exactSkipReason(m)) }
                return try measured(spectrumCase, options).exactMs
            })
            plugins.append(figure("spectrum_matrix_free_ms_m\(m)", "spectrum, top-32 + density, m=\(m)", unit: "ms", note: rounds) {
                try measured(spectrumCase, $0).matrixFreeMs
            })
            plugins.append(figure("spectrum_matrix_free_products_m\(m)", "spectrum, products Θv, m=\(m)", unit: "") {
                try measured(spectrumCase, $0).products
            })
            plugins.append(figure("spectrum_matrix_free_gemm_floor_ms_m\(m)", "spectrum, its GEMMs alone, m=\(m)", unit: "ms",
                                  note: gemmFloorNote) {
                try measured(spectrumCase, $0).gemmFloorMs
            })
            plugins.append(figure("spectrum_peak_rss_mib_m\(m)", "spectrum, peak RSS, m=\(m)", unit: "MiB",
                                  note: "VmHWM of the bench process while m = \(m) ran (reset before it): both paths and what the process already held") {
                try measured(spectrumCase, $0).peakRSSMiB
            })
        }
        plugins.append(figure("spectrum_crossover_m", "spectrum, exact/matrix-free crossover", unit: "m",
                              note: "interpolated in log-log between the last m where exact was faster and the first where it was not") { options in
            var exact: [Int: Double] = [:], free: [Int: Double] = [:]
            for spectrumCase in cases where spectrumCase.exact {
                let figures = try measured(spectrumCase, options)
                exact[spectrumCase.size] = figures.exactMs
                free[spectrumCase.size] = figures.matrixFreeMs
            }
            return crossover(exact: exact, matrixFree: free)
        })
        return plugins
    }

    /// The figures of every m measured so far with these options, without
    /// measuring more (for the curve printed after `--only`).
    static func cached(_ options: BenchmarkOptions) -> [Int: CaseFigures] {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        return cache.options == options ? cache.figures : [:]
    }

    /// One m, measured once per options: `kernelRepeats` timed rounds after
    /// one warm-up round (one round, no warm-up, above `singleRoundAbove`),
    /// exact and matrix-free alternating within a round, OpenBLAS at
    /// `options.threads`.
    static func measured(_ spectrumCase: Case, _ options: BenchmarkOptions) throws -> CaseFigures {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if cache.options != options {
            cache.options = options
            cache.figures = [:]
        }
        if let figures = cache.figures[spectrumCase.size] { return figures }

        let previousThreads = BLASRuntime.threadCount
        BLASRuntime.setThreadCount(options.threads)
        defer { BLASRuntime.setThreadCount(previousThreads) }
        _ = PeakMemoryProbe.resetHighWaterMark()

        let m = spectrumCase.size, n = spectrumCase.rows
        let model = try BenchFixtures.model(inputDim: 64, width: width, depth: 2, outputs: outputs, activation: .relu, seed: 11)
        let probe = try LNPProbe(model: model, probe: BenchFixtures.regression(samples: n, inputDim: 64, outputs: outputs, seed: 12))
        let factors = KernelFactors(model: model, rows: n)
        let settings = MatrixFreeSettings()
        let op = NTKOperator(factors: factors, blockCapacity: settings.blockSize(size: m))
        let matrixFreeWorkspace = MatrixFreeWorkspace(size: m, settings: settings)
        let workspace = spectrumCase.exact ? SpectrumWorkspace(capacity: m, rows: n) : nil
        let warmupRounds = m > singleRoundAbove ? 0 : 1
        let timedRounds = m > singleRoundAbove ? 1 : max(1, options.kernelRepeats)

        var exactTimes: [Double] = [], freeTimes: [Double] = []
        var products = 0.0
        for round in 0..<(warmupRounds + timedRounds) {
            let timed = round >= warmupRounds
            if let workspace {
                var failure: Error?
                let t = BenchTimer.seconds {
                    _ = probe.measure(model, kernelFactors: factors)
                    _ = EmpiricalNTK.build(factors, into: workspace)
                    do { _ = try SpectrumAnalysis.analyze(workspace: workspace, size: m, residualGradient: probe.residualGradient, step: 0) } catch {
                        failure = error
                    }
                }
                if let failure { throw failure }
                if timed { exactTimes.append(t) }
            }
            let before = op.productCount
            var failure: Error?
            let t = BenchTimer.seconds {
                _ = probe.measure(model, kernelFactors: factors)
                do { _ = try MatrixFreeSpectrum.analyze(op, residualGradient: probe.residualGradient, step: round, settings: settings,
                                                        workspace: matrixFreeWorkspace) } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            if timed {
                freeTimes.append(t)
                products = Double(op.productCount - before)
            }
        }
        // Read before the GEMM timing's own buffers exist.
        let peakRSS = PeakMemoryProbe.highWaterMarkMiB()
        let floor = gemmFloorMs(singleMs: operatorGEMMSeconds(factors, vectors: 1) * 1000,
                                blockMs: operatorGEMMSeconds(factors, vectors: settings.blockSize(size: m)) * 1000,
                                products: Int(products), size: m, settings: settings)
        let figures = CaseFigures(
            exactMs: exactTimes.isEmpty ? nil : BenchTimer.median(exactTimes) * 1000,
            matrixFreeMs: BenchTimer.median(freeTimes) * 1000, products: products, gemmFloorMs: floor,
            peakRSSMiB: peakRSS, rounds: timedRounds, warmupRounds: warmupRounds)
        cache.figures[m] = figures
        return figures
    }

    static let gemmFloorNote = "the operator's two GEMMs per layer alone, on its shapes and thread count, timed apart from everything else (median of 9) and counted once per product: what no change around them can go below"

    /// Milliseconds of GEMMs in one matrix-free spectrum of `products`
    /// products at m = `size`: the quadrature's `steps` block calls of
    /// `blockSize(size:)` vectors (`blockMs` each) and every other product —
    /// ARPACK's and λ_eff's — one vector at a time (`singleMs` each).
    static func gemmFloorMs(singleMs: Double, blockMs: Double, products: Int, size m: Int, settings: MatrixFreeSettings) -> Double {
        let blockVectors = settings.steps * settings.blockSize(size: m)
        return Double(max(0, products - blockVectors)) * singleMs + Double(settings.steps) * blockMs
    }

    /// Seconds of the GEMMs of one `NTKOperator.apply` of `b` vectors on
    /// `factors`' shapes (`NTKOperator.layerGEMMs` per trainable layer), on
    /// buffers of their own (the values do not matter), median of 9.
    static func operatorGEMMSeconds(_ factors: KernelFactors, vectors b: Int) -> Double {
        let n = factors.rowCount
        let layers = (factors.firstLayer..<factors.deltas.count).map { (inputs: factors.scaledInputs[$0].cols, rowWidth: b * factors.deltas[$0].cols) }
        let combinedCount = max(1, layers.map { n * $0.rowWidth }.max() ?? 1)
        let combined = UnsafeMutablePointer<Double>.allocate(capacity: combinedCount)
        let parameters = UnsafeMutablePointer<Double>.allocate(capacity: max(1, layers.map { $0.rowWidth * $0.inputs }.max() ?? 1))
        let inputCount = max(1, n * (layers.map(\.inputs).max() ?? 1))
        let inputs = UnsafeMutablePointer<Double>.allocate(capacity: inputCount)
        defer { combined.deallocate(); parameters.deallocate(); inputs.deallocate() }
        inputs.initialize(repeating: 0.25, count: inputCount)
        var times: [Double] = []
        for round in 0..<11 {
            // δ̃ is overwritten by the tangents each time: refill it, untimed.
            combined.initialize(repeating: 0.5, count: combinedCount)
            let t = BenchTimer.seconds {
                for layer in layers {
                    NTKOperator.layerGEMMs(samples: n, rowWidth: layer.rowWidth, inputWidth: layer.inputs, inputs: inputs,
                                           combined: combined, parameters: parameters)
                }
            }
            if round >= 2 { times.append(t) }
        }
        return BenchTimer.median(times)
    }

    /// The m where the two cost curves cross, interpolated in log–log
    /// between the last size where exact was faster and the first where it
    /// was not; NaN when they do not cross within the sizes measured by both.
    static func crossover(exact: [Int: Double], matrixFree: [Int: Double]) -> Double {
        let sizes = exact.keys.filter { matrixFree[$0] != nil }.sorted()
        for (a, b) in zip(sizes, sizes.dropFirst()) {
            let ra = Foundation.log(exact[a]! / matrixFree[a]!), rb = Foundation.log(exact[b]! / matrixFree[b]!)
            if ra < 0 && rb >= 0 {
                let t = -ra / (rb - ra)
                return Foundation.exp(Foundation.log(Double(a)) + t * (Foundation.log(Double(b)) - Foundation.log(Double(a))))
            }
        }
        if let first = sizes.first, exact[first]! >= matrixFree[first]! { return Double(first) }
        return .nan
    }

    /// The curve for the human output: a table per m and a log–log plot of
    /// both paths, from whatever has been measured with these options.
    static func curve(_ options: BenchmarkOptions) -> BenchmarkCurve? {
        let title = "Spectrum cost against m = nC (width \(width), depth 2, d = 64, C = \(outputs); both include the factors)"
        if options.quick { return BenchmarkCurve(title: title, skipped: notMeasuredQuick) }
        let figures = cached(options)
        guard !figures.isEmpty else { return nil }
        let sizes = figures.keys.sorted()
        var exact: [Int: Double] = [:], free: [Int: Double] = [:]
        for m in sizes {
            if let ms = figures[m]?.exactMs { exact[m] = ms }
            free[m] = figures[m]?.matrixFreeMs
        }
        let cross = crossover(exact: exact, matrixFree: free)
        var rows: [[String]] = []
        for m in sizes {
            guard let f = figures[m] else { continue }
            rows.append([String(m), String(m / outputs), f.exactMs.map(BenchmarkTable.number) ?? "n/a", BenchmarkTable.number(f.matrixFreeMs),
                         String(Int(f.products)), BenchmarkTable.number(f.gemmFloorMs), f.peakRSSMiB.map(BenchmarkTable.number) ?? "n/a",
                         f.warmupRounds == 0 ? "1, no warm-up" : "\(f.rounds) after warm-up"])
        }
        var notes = ["exact: n/a above m = \(exactLimit) (about 4m^2 doubles: \(String(format: "%.1f", 4 * 10240.0 * 10240 * 8 / 1e9)) GB at 10,240)",
                     "rounds: one timed round, no warm-up, above m = \(singleRoundAbove) (a round lasts minutes there)",
                     "GEMMs alone: \(gemmFloorNote)"]
        notes.append(cross.isFinite ? "crossover (log-log interpolation): m = \(Int(cross.rounded()))"
                                    : "crossover: the curves do not cross within the sizes both paths measured")
        let plot = LogLogPlot(
            xLabel: "m", yLabel: "ms",
            series: [
                .init(name: "exact", glyph: "x", points: sizes.compactMap { m in exact[m].map { (Double(m), $0) } }),
                .init(name: "matrix-free", glyph: "o", points: sizes.compactMap { m in free[m].map { (Double(m), $0) } }),
            ],
            marker: cross.isFinite ? .init(x: cross, glyph: ":", name: "crossover") : nil)
        return BenchmarkCurve(title: title, header: ["m", "n", "exact ms", "matrix-free ms", "products", "GEMMs alone ms", "peak RSS MiB", "rounds"],
                              rows: rows, plot: plot, notes: notes)
    }
}
