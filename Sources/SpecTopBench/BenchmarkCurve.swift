import SpecTopApp
import SpecTopReaders
/// One cost curve of the human bench output: a title, a table (one row per
/// size), a log–log plot and notes — or the reason it was not measured.
/// The JSON report carries the same numbers as flat plugin figures; this is
/// only their picture.
struct BenchmarkCurve: Sendable, Equatable {
    var title: String
    var header: [String] = []
    var rows: [[String]] = []
    var plot: LogLogPlot?
    var notes: [String] = []
    /// Set when the curve was not measured (`--quick`): why.
    var skipped: String?

    /// The section of the human output, ending in a newline.
    func render() -> String {
        var out = "\(title)\n"
        if let skipped { return out + "  \(skipped)\n" }
        out += BenchmarkTable.table(header, rows)
        if let plot {
            out += "\n" + plot.render().map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        for note in notes { out += "  \(note)\n" }
        return out
    }
}

/// Where a curve comes from: the plugins whose keys start with `keyPrefix`
/// measure its points; `curve` draws it from what they measured (it never
/// measures itself, so `--only` with a longer prefix draws just those
/// points).
struct BenchmarkCurveSource: Sendable {
    var keyPrefix: String
    var curve: @Sendable (BenchmarkOptions) -> BenchmarkCurve?

    static let all = [
        BenchmarkCurveSource(keyPrefix: "spectrum_", curve: SpectrumCost.curve),
        BenchmarkCurveSource(keyPrefix: TrainWidthCost.keyPrefix, curve: TrainWidthCost.curve),
    ]

    /// The curves that any of `keys` contributes to, drawn.
    static func curves(for keys: [String], options: BenchmarkOptions, sources: [BenchmarkCurveSource] = all) -> [BenchmarkCurve] {
        sources.filter { source in keys.contains { $0.hasPrefix(source.keyPrefix) } }.compactMap { $0.curve(options) }
    }
}
