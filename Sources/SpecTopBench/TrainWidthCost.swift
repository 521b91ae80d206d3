import SpecTopApp
import SpecTopReaders
import Foundation
import SpectralCore

/// The cost curve of one training step against width (issue 15): the
/// suite's `train_step` fixture (d = 64, depth 3, batch 256, C = 1, relu,
/// Float, OpenBLAS at `options.threads`) at widths 64 … 8192, and the power
/// law fitted over the upper part of the range next to what theory predicts.
///
/// A step costs 6·B·P flops with P = d·w + (depth − 1)·w² + w·C + biases,
/// so time ∝ w² asymptotically; over a finite range the flop count's own
/// log–log slope is a little below 2 (the d·w term), and that slope over the
/// same widths is the fair comparison for the fitted one.
///
/// Plugins: `train_width_step_ms_w<W>`, `train_width_gflops_w<W>`, then
/// `train_width_exponent_fitted`, `train_width_exponent_flops`,
/// `train_width_exponent_asymptotic` and `train_width_fit_min_width`.
/// All widths are measured once per options, at the first figure asked.
enum TrainWidthCost {
    static let keyPrefix = "train_width_"
    static let outputs = 1
    static let widths = (6...13).map { 1 << $0 }
    /// The fit covers the widths from here up, where the w² term dominates
    /// and the step is long enough that BLAS runs at full speed.
    static let fitMinWidth = 1024
    /// --quick: the same fixture at widths the debug test build times in
    /// seconds, fitted over its upper half.
    static let quickWidths = [64, 128, 256, 512]
    static let quickFitMinWidth = 256
    /// From this width on a step lasts a good fraction of a second (width
    /// 8192: about 200 GFLOP, seconds): one warm-up call and at most 3
    /// samples, one call each.
    static let longStepWidth = 2048

    struct Point: Sendable, Equatable {
        var width: Int
        var params: Int
        var ms: Double
        /// 6 · params · batch.
        var flops: Double
        var samples: Int
        var gflops: Double { ms > 0 ? flops / (ms / 1000) / 1e9 : 0 }
    }

    struct Figures: Sendable, Equatable {
        var points: [Point]
        var fitMinWidth: Int
        var fitted: PowerLawFit?
        var flopsFit: PowerLawFit?
        /// 2 for depth ≥ 2 (the (depth − 1)·w² term), 1 for one hidden layer.
        var asymptotic: Double
    }

    private final class Cache: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        let lock = NSLock()
        var options: BenchmarkOptions?
        var figures: Figures?
    }
    private static let cache = Cache()

    static func widths(_ options: BenchmarkOptions) -> [Int] { options.quick ? quickWidths : widths }
    static func fitMinWidth(_ options: BenchmarkOptions) -> Int { options.quick ? quickFitMinWidth : fitMinWidth }

    struct NotMeasured: Error, CustomStringConvertible {
        var description: String
    }

    static var plugins: [BenchmarkPlugin] {
        // Keys for the standard widths and the quick ones: a width the
        // current options do not measure reports null with the reason.
        let allWidths = Array(Set(widths + quickWidths)).sorted()
        var plugins: [BenchmarkPlugin] = []
        for width in allWidths {
            plugins.append(BenchmarkPlugin(key: "\(keyPrefix)step_ms_w\(width)", label: "training step, width \(width)", unit: "ms",
                                           note: "median; d=64, depth 3, batch 256 (64 with --quick), C=1, as train_step; "
                                               + "one warm-up call and at most 3 samples from width \(longStepWidth)") {
                try point(width, $0).ms
            })
            plugins.append(BenchmarkPlugin(key: "\(keyPrefix)gflops_w\(width)", label: "training step GFLOP/s, width \(width)", unit: "GFLOP/s",
                                           note: "6*params*batch over the step time") {
                try point(width, $0).gflops
            })
        }
        plugins.append(BenchmarkPlugin(key: "\(keyPrefix)exponent_fitted", label: "training step ∝ width^b, fitted b", unit: "",
                                       note: "least-squares slope of log ms against log width over widths >= train_width_fit_min_width") {
            try measured($0).fitted?.exponent ?? .nan
        })
        plugins.append(BenchmarkPlugin(key: "\(keyPrefix)exponent_flops", label: "flops ∝ width^b over the fitted widths", unit: "",
                                       note: "the same slope of log(6*params*batch): what the flop count predicts over the fitted range") {
            try measured($0).flopsFit?.exponent ?? .nan
        })
        plugins.append(BenchmarkPlugin(key: "\(keyPrefix)exponent_asymptotic", label: "flops ∝ width^b as width -> infinity", unit: "",
                                       note: "the (depth-1)*width^2 term of the parameter count") {
            try measured($0).asymptotic
        })
        plugins.append(BenchmarkPlugin(key: "\(keyPrefix)fit_min_width", label: "training step fit from width", unit: "") {
            Double(fitMinWidth($0))
        })
        return plugins
    }

    private static func point(_ width: Int, _ options: BenchmarkOptions) throws -> Point {
        guard let point = try measured(options).points.first(where: { $0.width == width }) else {
            throw NotMeasured(description: "not measured: width \(width) is not in \(options.quick ? "--quick's" : "the") widths \(widths(options))")
        }
        return point
    }

    /// Fits `ms` and the flop count against width over the points at or
    /// above `minWidth`.
    static func fits(_ points: [Point], minWidth: Int) -> (time: PowerLawFit?, flops: PowerLawFit?) {
        let upper = points.filter { $0.width >= minWidth }
        let x = upper.map { Double($0.width) }
        return (PowerLawFit(x: x, y: upper.map(\.ms)), PowerLawFit(x: x, y: upper.map(\.flops)))
    }

    /// Milliseconds per flop that put the flop count's curve through the
    /// fitted points (the geometric mean of ms/flops there), so the plot
    /// shows where the measured curve bends away from pure flop counting;
    /// not one point, which on a shared machine may be the outlier.
    static func flopScale(_ points: [Point], minWidth: Int) -> Double? {
        let ratios = points.filter { $0.width >= minWidth && $0.ms > 0 && $0.flops > 0 }.map { Foundation.log($0.ms / $0.flops) }
        guard !ratios.isEmpty else { return nil }
        return Foundation.exp(ratios.reduce(0, +) / Double(ratios.count))
    }

    static func cached(_ options: BenchmarkOptions) -> Figures? {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        return cache.options == options ? cache.figures : nil
    }

    static func measured(_ options: BenchmarkOptions) throws -> Figures {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let figures = cache.figures, cache.options == options { return figures }
        let previousThreads = BLASRuntime.threadCount
        BLASRuntime.setThreadCount(options.threads)
        defer { BLASRuntime.setThreadCount(previousThreads) }

        var points: [Point] = []
        for width in widths(options) {
            let trainer = try BenchFixtures.trainer(inputDim: options.inputDim, width: width, depth: options.depth, outputs: outputs,
                                                    batch: options.batch, activation: options.activation,
                                                    seed: UInt64(width * 100 + outputs))
            let long = width >= longStepWidth
            let samples = long ? min(3, options.repeats) : options.repeats
            let seconds = BenchTimer.secondsPerCall(repeats: samples, warmupCalls: long ? 1 : 2,
                                                    minimumSampleSeconds: options.minimumSampleSeconds) {
                trainer.trainStep()
            }
            let params = trainer.model.parameterCount
            points.append(Point(width: width, params: params, ms: seconds * 1000, flops: 6 * Double(params) * Double(options.batch),
                                samples: max(1, samples)))
        }
        let minWidth = fitMinWidth(options)
        let (time, flops) = fits(points, minWidth: minWidth)
        let figures = Figures(points: points, fitMinWidth: minWidth, fitted: time, flopsFit: flops,
                              asymptotic: options.depth >= 2 ? 2 : 1)
        cache.options = options
        cache.figures = figures
        return figures
    }

    /// The table and log–log plot of what was measured with these options.
    static func curve(_ options: BenchmarkOptions) -> BenchmarkCurve? {
        guard let figures = cached(options) else { return nil }
        let title = "Training step against width (d = \(options.inputDim), depth \(options.depth), batch \(options.batch), C = \(outputs), "
            + "OpenBLAS at \(options.threads) thread(s))"
        let rows = figures.points.map { p in
            [String(p.width), String(p.params), BenchmarkTable.number(p.flops / 1e9), BenchmarkTable.number(p.ms),
             BenchmarkTable.number(p.gflops), String(p.samples), p.width >= figures.fitMinWidth ? "yes" : ""]
        }
        let scale = flopScale(figures.points, minWidth: figures.fitMinWidth)
        let plot = LogLogPlot(
            xLabel: "width", yLabel: "ms",
            series: [.init(name: "measured", glyph: "o", points: figures.points.map { (Double($0.width), $0.ms) }),
                     .init(name: "flops, scaled to the fitted widths", glyph: ".",
                           points: scale.map { k in figures.points.map { (Double($0.width), $0.flops * k) } } ?? [])])
        func exponent(_ fit: PowerLawFit?) -> String { fit.map { String(format: "%.2f", $0.exponent) } ?? "n/a" }
        var notes = [
            "fitted over widths >= \(figures.fitMinWidth): time ∝ width^\(exponent(figures.fitted))"
                + (figures.fitted.map { String(format: " (R^2 %.3f, %d points)", $0.rSquared, $0.pointCount) } ?? ""),
            "theory: the flop count 6*B*P over the same widths ∝ width^\(exponent(figures.flopsFit)); "
                + "asymptotically width^\(Int(figures.asymptotic)) (the (depth-1)*w^2 term)",
        ]
        if options.quick { notes.append("--quick: widths \(quickWidths) and batch \(options.batch) instead of 64...8192 and 256") }
        return BenchmarkCurve(title: title, header: ["width", "params", "GFLOP", "ms", "GFLOP/s", "samples", "fitted"],
                              rows: rows, plot: plot, notes: notes)
    }
}
