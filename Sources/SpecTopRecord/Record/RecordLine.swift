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
    ///
    /// Through `JSONDecoder`, not `JSONSerialization`: on Linux the latter
    /// reads about half of all doubles one unit in the last place off (and
    /// is slower), and every number here must read back exactly as written.
    public static func decode(_ raw: Data) -> RecordLine? {
        guard raw.count <= RunRecord.maxLineBytes, let body = try? JSONDecoder().decode(Body.self, from: raw) else { return nil }
        return body.line
    }

    /// Every field a body line may have. Lenient per field: a value of the
    /// wrong type reads as absent, it does not make the line junk.
    struct Body: Decodable {
        var type: String?
        var model: String?
        var step: Int?
        var numbers: [Key: Double] = [:]
        var arrays: [Key: [Double]] = [:]
        var flags: [Key: Bool] = [:]
        var texts: [Key: String] = [:]

        enum Key: String, CodingKey, CaseIterable {
            case type, model, step, loss, chi_loss, chi_net, chi_pos, grad_sq, wall, chi_net_estimate, chi_net_stderr
            case layer_chi_net, layer_grad_sq, eigenvalues, weights, chi_pos_exact, lambda_eff, r_eff, effective_rank
            case event, detail, reason
        }
        static let numberKeys: [Key] = [.loss, .chi_loss, .chi_net, .chi_pos, .grad_sq, .wall, .chi_net_stderr,
                                        .chi_pos_exact, .lambda_eff, .r_eff, .effective_rank]
        static let arrayKeys: [Key] = [.layer_chi_net, .layer_grad_sq, .eigenvalues, .weights]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            type = try? c.decodeIfPresent(String.self, forKey: .type)
            model = try? c.decodeIfPresent(String.self, forKey: .model)
            if let step = try? c.decodeIfPresent(Double.self, forKey: .step), step.isFinite, step == step.rounded(), abs(step) < 1e15 {
                self.step = Int(step)
            }
            for key in Body.numberKeys {
                if let value = try? c.decodeIfPresent(Double.self, forKey: key) { numbers[key] = value }
            }
            for key in Body.arrayKeys where c.contains(key) {
                if let values = try? c.decode([Double].self, forKey: key) {
                    arrays[key] = values
                } else if let values = try? c.decode([Double?].self, forKey: key) {
                    arrays[key] = values.compactMap { $0 }
                }
            }
            if let flag = try? c.decodeIfPresent(Bool.self, forKey: .chi_net_estimate) { flags[.chi_net_estimate] = flag }
            for key in [Key.event, .detail, .reason] {
                if let text = try? c.decodeIfPresent(String.self, forKey: key) { texts[key] = text }
            }
        }

        var line: RecordLine {
            switch type {
            case "step":
                guard let model, let step else { return .ignored }
                return .step(model: model, MetricSample(
                    step: step, loss: numbers[.loss] ?? .nan, chiLoss: numbers[.chi_loss] ?? .nan,
                    chiNet: numbers[.chi_net] ?? .nan, chiPos: numbers[.chi_pos],
                    gradSq: numbers[.grad_sq] ?? .nan, wall: numbers[.wall] ?? 0,
                    traceIsEstimate: flags[.chi_net_estimate] ?? false, chiNetStandardError: numbers[.chi_net_stderr],
                    layerChiNet: arrays[.layer_chi_net] ?? [], layerGradSq: arrays[.layer_grad_sq] ?? []))
            case "spectrum":
                guard let model, let step else { return .ignored }
                let eigenvalues = arrays[.eigenvalues] ?? [], weights = arrays[.weights] ?? []
                let lambdaEff = numbers[.lambda_eff]
                return .spectrum(model: model, SpectrumSample(
                    step: step, eigenvalues: eigenvalues, weights: weights, chiPosExact: numbers[.chi_pos_exact],
                    lambdaEff: lambdaEff, rEff: numbers[.r_eff],
                    effectiveRank: numbers[.effective_rank] ?? SpectrumSample.effectiveRank(eigenvalues),
                    histogram: SpectrumHistogram(eigenvalues: eigenvalues, weights: weights, lambdaEff: lambdaEff)))
            case "event":
                return .event(RunRecord.Event(kind: texts[.event] ?? "event", model: model, step: step,
                                              wall: numbers[.wall] ?? 0, detail: texts[.detail]))
            case "end":
                return .end(reason: texts[.reason], wall: numbers[.wall], detail: texts[.detail])
            default:
                return .ignored
            }
        }
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

    public init(version: Int, name: String? = nil, models: [RunRecord.ModelInfo] = []) {
        self.version = version; self.name = name; self.models = models
    }

    /// Decodes and checks a header line; `file` only names it in errors.
    public static func decode(_ raw: Data, file: String) throws -> RecordHeader {
        guard !raw.isEmpty else { throw RecordError("\(file): empty file, not a spectop record") }
        guard raw.count <= RunRecord.maxLineBytes, let header = RecordJSON.object(raw), header["type"] as? String == "run" else {
            throw RecordError("\(file):1: not a spectop record (the first line must be a JSON object with \"type\":\"run\")")
        }
        guard let version = RecordJSON.int(header["version"]) else { throw RecordError("\(file):1: the run line has no version") }
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
        for entry in header["models"] as? [[String: Any]] ?? [] {
            guard let id = entry["id"] as? String else { continue }
            let trainable = entry["trainable"] as? String ?? "all"
            let parameters = RecordJSON.int(entry["params"]) ?? 0
            result.models.append(RunRecord.ModelInfo(
                id: id, width: RecordJSON.int(entry["width"]) ?? 0, depth: RecordJSON.int(entry["depth"]) ?? 0,
                parameterCount: parameters,
                trainableParameterCount: RecordJSON.int(entry["trainable_params"]),
                stepBudget: RecordJSON.int(entry["steps"]) ?? 0, trainable: trainable,
                mode: TrainingMode(rawValue: entry["mode"] as? String ?? "") ?? (trainable == "readout" ? .frozen : .active)))
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

    static func int(_ value: Any?) -> Int? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }
}
