import Foundation
import SpectralCore

/// The cost curve of one spectrum against m = nC (issue 15): the exact path
/// (factors, Θ by Gram–Hadamard, `dsyevd` in place) and the matrix-free one
/// (factors, ARPACK top-32, Lanczos density) on the same digits-shaped model
/// (d = 64, C = 10, relu, depth 2), and the crossover where matrix-free gets
/// faster — the figure behind `EngineConfiguration.defaultExactLimit`.
/// Registered as bench plugins, one figure each: `spectrum_exact_ms_m<M>`,
/// `spectrum_matrix_free_ms_m<M>`, `spectrum_matrix_free_products_m<M>` and
/// `spectrum_crossover_m`. All cases run once, at the first figure asked;
/// the width is 256, the model `BenchFixtures.model`, each time includes
/// collecting the factors (the C backward passes both paths need).
enum SpectrumCost {
    struct Case: Sendable, Equatable {
        var size: Int
        var exact: Bool
    }

    /// m values and whether the exact path runs there (it needs 4m² doubles:
    /// 3.4 GB at m = 10,240, past the 2 GiB the engine may use).
    static let cases = [Case(size: 1280, exact: true), Case(size: 2560, exact: true), Case(size: 5120, exact: true),
                        Case(size: 10240, exact: false)]
    static let width = 256

    struct NotMeasured: Error, CustomStringConvertible {
        var description: String { "not measured with --quick: the spectrum sizes start at m = 1280 (minutes in all)" }
    }

    struct Figures: Sendable {
        var exactMs: [Int: Double] = [:]
        var matrixFreeMs: [Int: Double] = [:]
        var products: [Int: Double] = [:]
        var crossover: Double = .nan
    }

    private final class Cache: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        let lock = NSLock()
        var options: BenchmarkOptions?
        var figures: Figures?
    }
    private static let cache = Cache()

    static var plugins: [BenchmarkPlugin] {
        func figure(_ key: String, _ label: String, unit: String, _ pick: @escaping @Sendable (Figures) -> Double?) -> BenchmarkPlugin {
            BenchmarkPlugin(key: key, label: label, unit: unit) { options in
                guard !options.quick else { throw NotMeasured() }
                return pick(try measured(options)) ?? .nan
            }
        }
        var plugins: [BenchmarkPlugin] = []
        for spectrumCase in cases {
            let m = spectrumCase.size
            if spectrumCase.exact {
                plugins.append(figure("spectrum_exact_ms_m\(m)", "spectrum, exact, m=\(m)", unit: "ms") { $0.exactMs[m] })
            }
            plugins.append(figure("spectrum_matrix_free_ms_m\(m)", "spectrum, top-32 + density, m=\(m)", unit: "ms") { $0.matrixFreeMs[m] })
            plugins.append(figure("spectrum_matrix_free_products_m\(m)", "spectrum, products Θv, m=\(m)", unit: "") { $0.products[m] })
        }
        plugins.append(figure("spectrum_crossover_m", "spectrum, exact/matrix-free crossover", unit: "m") { $0.crossover })
        return plugins
    }

    /// Every case, measured once per options (median of `kernelRepeats`
    /// after one warm-up round).
    static func measured(_ options: BenchmarkOptions) throws -> Figures {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let figures = cache.figures, cache.options == options { return figures }
        var figures = Figures()
        for spectrumCase in cases {
            let n = spectrumCase.size / 10
            let model = try BenchFixtures.model(inputDim: 64, width: width, depth: 2, outputs: 10, activation: .relu, seed: 11)
            let probe = try LNPProbe(model: model, probe: BenchFixtures.regression(samples: n, inputDim: 64, outputs: 10, seed: 12))
            let factors = KernelFactors(model: model, rows: n)
            let settings = MatrixFreeSettings()
            let op = NTKOperator(factors: factors, blockCapacity: settings.blockSize)
            var exactTimes: [Double] = [], freeTimes: [Double] = []
            let workspace = spectrumCase.exact ? SpectrumWorkspace(capacity: spectrumCase.size, rows: n) : nil
            for round in 0...max(1, options.kernelRepeats) {
                if let workspace {
                    var failure: Error?
                    let t = BenchTimer.seconds {
                        _ = probe.measure(model, kernelFactors: factors)
                        _ = EmpiricalNTK.build(factors, into: workspace)
                        do { _ = try SpectrumAnalysis.analyze(workspace: workspace, size: spectrumCase.size, residualGradient: probe.residualGradient, step: 0) } catch {
                            failure = error
                        }
                    }
                    if let failure { throw failure }
                    if round > 0 { exactTimes.append(t) }
                }
                let before = op.productCount
                var failure: Error?
                let t = BenchTimer.seconds {
                    _ = probe.measure(model, kernelFactors: factors)
                    do { _ = try MatrixFreeSpectrum.analyze(op, residualGradient: probe.residualGradient, step: round, settings: settings) } catch {
                        failure = error
                    }
                }
                if let failure { throw failure }
                if round > 0 {
                    freeTimes.append(t)
                    figures.products[spectrumCase.size] = Double(op.productCount - before)
                }
            }
            if !exactTimes.isEmpty { figures.exactMs[spectrumCase.size] = BenchTimer.median(exactTimes) * 1000 }
            figures.matrixFreeMs[spectrumCase.size] = BenchTimer.median(freeTimes) * 1000
        }
        figures.crossover = crossover(exact: figures.exactMs, matrixFree: figures.matrixFreeMs)
        cache.options = options
        cache.figures = figures
        return figures
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
}
