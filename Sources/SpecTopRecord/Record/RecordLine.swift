import Foundation

/// One line of a record, decoded: the reader's half of the schema, shared by
/// `RunRecord` (replay, claims: the whole file) and `RecordFollower` (watch:
/// lines as they arrive).
public enum RecordLine: Sendable, Equatable {
    case step(model: String, MetricSample)
    case spectrum(model: String, SpectrumSample)
    case event(RunRecord.Event)
    case end(reason: String?, wall: Double?, detail: String?)
    /// The user's own numbers (`probe.log`).
    case scalars(model: String, ScalarsSample)
    /// What the writing process costs the machine (`usage`), run-wide.
    case usage(ProcessUsage, wall: Double)
    /// A line type this reader does not know (from a newer minor version), or a
    /// known type without the fields it needs: skipped, never an error.
    case ignored

    /// Decodes a body line (every line after the header). Nil when the bytes
    /// are no JSON object at all (junk, or a line cut off by a killed writer).
    public static func decode(_ raw: Data) -> RecordLine? {
        guard raw.count <= RunRecord.maxLineBytes, let fields = RecordLineScanner.scan(raw) else { return nil }
        return RecordLine(fields)
    }

    init(_ fields: RecordLineScanner.Fields) {
        let step = fields.step.flatMap { $0 == $0.rounded() && abs($0) < 1e15 ? Int($0) : nil }
        switch fields.type {
        case "step":
            guard let model = fields.model, let step else { self = .ignored; return }
            var sample = MetricSample(
                step: step, loss: fields[.loss] ?? .nan, chiLoss: fields[.chiLoss] ?? .nan,
                chiNet: fields[.chiNet] ?? .nan, chiPos: fields[.chiPos],
                gradSq: fields[.gradSq] ?? .nan, wall: fields[.wall] ?? 0,
                traceIsEstimate: fields.chiNetEstimate ?? false, chiNetStandardError: fields[.chiNetStandardError],
                layerChiNet: fields[.layerChiNet] ?? [], layerGradSq: fields[.layerGradSq] ?? [])
            sample.rows = RecordLine.count(fields[.rows])
            sample.recordedNormalizedChiLoss = fields[.chiLossNormalized]
            sample.recordedNormalizedChiNet = fields[.chiNetNormalized]
            sample.window = fields[.window].flatMap { $0 >= 0 && $0 < 1e15 && $0 == $0.rounded() ? Int($0) : nil }
            // A cross measurement needs its three values; its χ_pos may be null (undefined).
            if let dot = fields[.crossGradDot], let chiLoss = fields[.crossChiLoss], let chiNet = fields[.crossChiNet] {
                var cross = CrossBatchSample(loss: fields[.crossLoss] ?? .nan, gradDot: dot, chiLoss: chiLoss, chiNet: chiNet,
                                             chiPos: fields[.crossChiPos], rows: RecordLine.count(fields[.crossRows]))
                cross.recordedNormalizedChiLoss = fields[.crossChiLossNormalized]
                cross.recordedNormalizedChiNet = fields[.crossChiNetNormalized]
                sample.cross = cross
            }
            self = .step(model: model, sample)
        case "spectrum":
            guard let model = fields.model, let step else { self = .ignored; return }
            let eigenvalues = fields[.eigenvalues] ?? [], weights = fields[.weights] ?? []
            let lambdaEff = fields[.lambdaEff]
            // Lines without "method" (before matrix-free spectra) are exact.
            let method = fields.method.flatMap(SpectrumMethod.init(rawValue:)) ?? .exact
            let estimated = method == .exact ? nil : fields.density.flatMap(RecordLine.estimatedHistogram)
            self = .spectrum(model: model, SpectrumSample(
                step: step, eigenvalues: eigenvalues, weights: weights, chiPosExact: fields[.chiPosExact],
                lambdaEff: lambdaEff, rEff: fields[.rEff],
                effectiveRank: fields[.effectiveRank] ?? SpectrumSample.effectiveRank(eigenvalues),
                histogram: estimated ?? SpectrumHistogram(eigenvalues: eigenvalues, weights: weights, lambdaEff: lambdaEff),
                method: method, modeCount: fields[.modeCount].flatMap { $0 >= 0 && $0 < 1e15 ? Int($0) : nil } ?? eigenvalues.count,
                rEffUncertainty: fields[.rEffUncertainty], restWeight: fields[.restWeight] ?? 0))
        case "event":
            self = .event(RunRecord.Event(kind: RecordEventKind(fields.event ?? "event"), model: fields.model, step: step,
                                          wall: fields[.wall] ?? 0, detail: fields.detail))
        case "end":
            self = .end(reason: fields.reason, wall: fields[.wall], detail: fields.detail)
        case "scalars":
            guard let model = fields.model, let step, let values = fields.values else { self = .ignored; return }
            // An empty name is no name (the specification asks for non-empty ones).
            let kept = values.filter { !$0.0.isEmpty }.map { ScalarsSample.Value(name: $0.0, value: $0.1) }
            guard !kept.isEmpty else { self = .ignored; return }
            self = .scalars(model: model, ScalarsSample(step: step, wall: fields[.wall] ?? 0, values: kept))
        case "usage":
            // A negative or non-finite figure is no figure (rule 4: the wrong value reads as absent).
            func figure(_ field: RecordLineScanner.NumberField) -> Double? { fields[field].flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } }
            func bytes(_ field: RecordLineScanner.NumberField) -> Int? { figure(field).flatMap { $0 < 1e18 ? Int($0) : nil } }
            let usage = ProcessUsage(residentBytes: bytes(.rssBytes) ?? 0, cpuPercent: figure(.cpuPercent) ?? .nan,
                                     stepSeconds: figure(.stepSeconds), gpuMemoryBytes: bytes(.gpuMemoryBytes),
                                     gpuUtilization: figure(.gpuUtilization))
            guard usage.residentBytes > 0 || usage.cpuPercent.isFinite || usage.stepSeconds != nil || usage.gpuMemoryBytes != nil
                    || usage.gpuUtilization != nil else { self = .ignored; return }
            self = .usage(usage, wall: fields[.wall] ?? 0)
        default:
            self = .ignored
        }
    }
}

extension RecordLine {
    /// A count field as an Int: 0 (unknown) unless a whole number in 1 ..< 10^15.
    static func count(_ value: Double?) -> Int {
        guard let value, value >= 1, value < 1e15, value == value.rounded() else { return 0 }
        return Int(value)
    }

    /// A matrix-free spectrum's histogram as written (`RecordLines`), nil when
    /// its arrays do not fit together: its top-k eigenvalues cannot rebuild it.
    static func estimatedHistogram(_ density: (numbers: [RecordLineScanner.DensityNumber: Double],
                                               arrays: [RecordLineScanner.DensityArray: [Double]])) -> SpectrumHistogram? {
        let edges = density.arrays[.log10Edges] ?? [], counts = (density.arrays[.counts] ?? []).map { Int(max(0, min(1e15, $0)).rounded()) }
        let uncertainty = density.arrays[.countsUncertainty] ?? [], residual = density.arrays[.residualWeights] ?? []
        guard !counts.isEmpty, edges.count == counts.count + 1, uncertainty.count == counts.count, residual.count == counts.count else {
            return nil
        }
        // `Int(exactly:)` first: a bin number of 1e19 must read as absent, not trap.
        let marker = density.numbers[.markerBin].flatMap { Int(exactly: $0) }.flatMap { counts.indices.contains($0) ? $0 : nil }
        return SpectrumHistogram(log10Edges: edges, counts: counts, residualWeights: residual,
                                 nearZeroCount: Int(max(0, min(1e15, density.numbers[.nearZeroCount] ?? 0))),
                                 nearZeroWeight: density.numbers[.nearZeroWeight] ?? 0, markerBin: marker,
                                 countUncertainty: uncertainty)
    }
}

/// JSON helpers of the reader: numbers are never booleans, integers are exact.
enum RecordJSON {
    static func object(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data, options: [])) as? [String: Any]
    }

    /// JSON `true`/`false` arrive as NSNumber too: `"version": true` is no version.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// A JSON value as it appeared, for messages: `1.5`, `"1"`, `true`.
    static func describe(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let number = value as? NSNumber {
            if isBoolean(number) { return number.boolValue ? "true" : "false" }
            return JSONLine.number(number.doubleValue)
        }
        if let text = value as? String { return "\"" + String(text.prefix(40)) + "\"" }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        return "not a number"
    }

    /// A finite number (never a boolean), or nil.
    static func double(_ value: Any?) -> Double? {
        guard let n = value as? NSNumber, !isBoolean(n), n.doubleValue.isFinite else { return nil }
        return n.doubleValue
    }

    static func int(_ value: Any?) -> Int? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }
}
