import Foundation

/// One line of a record, decoded: the reader's half of the schema, shared by
/// `RunRecord` (replay, claims: the whole file) and `RecordFollower` (watch:
/// lines as they arrive).
public enum RecordLine: Sendable, Equatable {
    case step(model: String, MetricSample)
    case spectrum(model: String, SpectrumSample)
    case event(RunRecord.Event)
    case end(reason: String?, wall: Double?, detail: String?)
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
            self = .step(model: model, MetricSample(
                step: step, loss: fields[.loss] ?? .nan, chiLoss: fields[.chiLoss] ?? .nan,
                chiNet: fields[.chiNet] ?? .nan, chiPos: fields[.chiPos],
                gradSq: fields[.gradSq] ?? .nan, wall: fields[.wall] ?? 0,
                traceIsEstimate: fields.chiNetEstimate ?? false, chiNetStandardError: fields[.chiNetStandardError],
                layerChiNet: fields[.layerChiNet] ?? [], layerGradSq: fields[.layerGradSq] ?? []))
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
        default:
            self = .ignored
        }
    }
}

extension RecordLine {
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

/// The first line of a record: what the run is and which models it has.
public struct RecordHeader: Sendable, Equatable {
    public var version: Int
    /// The run's own name (`"name"` in the header), when the writer gave one.
    public var name: String?
    public var seed: UInt64?
    public var preset: String?
    public var dataName: String?
    public var blas: String?
    public var toolVersion: String?
    public var models: [RunRecord.ModelInfo] = []
    /// Ids the header lists more than once (the first entry of each is kept).
    public var duplicateModelIDs: [String] = []

    public init(version: Int, name: String? = nil, models: [RunRecord.ModelInfo] = []) {
        self.version = version; self.name = name; self.models = models
    }

    /// Decodes and checks a header line; `file` only names it in errors.
    public static func decode(_ raw: Data, file: String) throws -> RecordHeader {
        guard !raw.isEmpty else { throw RecordError("\(file): empty file, not a spectop record") }
        guard raw.count <= RunRecord.maxLineBytes, let header = RecordJSON.object(raw), header["type"] as? String == "run" else {
            throw RecordError("\(file):1: not a spectop record (the first line must be a JSON object with \"type\":\"run\")")
        }
        guard let version = RecordJSON.int(header["version"]) else {
            guard let value = header["version"], !(value is NSNull) else { throw RecordError("\(file):1: the run line has no version") }
            throw RecordError("\(file):1: the run line's version is \(RecordJSON.describe(value)), not a version number (this spectop reads version \(RunRecord.supportedVersion))")
        }
        guard version == RunRecord.supportedVersion else {
            let newer = version > RunRecord.supportedVersion ? "; it was written by a newer spectop, so update this one" : ""
            throw RecordError("\(file):1: record version \(version) is not supported (this spectop reads version \(RunRecord.supportedVersion)\(newer))")
        }
        var result = RecordHeader(version: version)
        // Seeds use all 63 bits: read them as integers, not through Double.
        if let seed = header["seed"] as? NSNumber, !RecordJSON.isBoolean(seed), seed.int64Value >= 0,
           seed.doubleValue.rounded() == seed.doubleValue {
            result.seed = UInt64(seed.int64Value)
        }
        result.name = (header["name"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        result.preset = header["preset"] as? String
        result.blas = header["blas"] as? String
        result.toolVersion = header["tool"] as? String
        result.dataName = (header["data"] as? [String: Any])?["name"] as? String
        var seen = Set<String>()
        for entry in header["models"] as? [[String: Any]] ?? [] {
            guard let id = entry["id"] as? String else { continue }
            // A model listed twice would double every row and count: the first entry stands.
            guard seen.insert(id).inserted else {
                if !result.duplicateModelIDs.contains(id) { result.duplicateModelIDs.append(id) }
                continue
            }
            let trainable = entry["trainable"] as? String ?? "all"
            let parameters = RecordJSON.int(entry["params"]) ?? 0
            result.models.append(RunRecord.ModelInfo(
                id: id, width: RecordJSON.int(entry["width"]) ?? 0, depth: RecordJSON.int(entry["depth"]) ?? 0,
                parameterCount: parameters,
                trainableParameterCount: RecordJSON.int(entry["trainable_params"]),
                stepBudget: RecordJSON.int(entry["steps"]) ?? 0, trainable: trainable,
                mode: TrainingMode(rawValue: entry["mode"] as? String ?? "") ?? (trainable == "readout" ? .frozen : .active)))
            result.models[result.models.count - 1].batchSize = RecordJSON.int(entry["batch"]) ?? 0
        }
        return result
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

    static func int(_ value: Any?) -> Int? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }
}
