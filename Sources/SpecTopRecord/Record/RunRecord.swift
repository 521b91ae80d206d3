import Foundation

/// A recorded run read back from JSON Lines, for `replay` and `claims`.
///
/// Tolerates a last line cut off by a killed process (it is dropped and a
/// warning says so) and a file still being written. Refuses files whose
/// first line is not a spectop `run` line or whose version is unknown, with a
/// `RecordError`. Needs no engine: histograms are binned by the contract's
/// `SpectrumHistogram`, the same code the engine bins with.
public struct RunRecord: Sendable {
    public struct ModelInfo: Sendable, Equatable {
        public var id: String
        public var width: Int
        public var depth: Int
        public var parameterCount: Int
        /// "all" or "readout".
        public var trainable: String
        public var mode: TrainingMode
    }

    public struct Event: Sendable, Equatable {
        public var kind: String
        public var model: String?
        public var step: Int?
        public var wall: Double
        public var detail: String?
    }

    public static let supportedVersion = 1

    public var file: String
    public var version: Int
    public var seed: UInt64?
    public var preset: String?
    public var dataName: String?
    public var blas: String?
    public var toolVersion: String?
    public var models: [ModelInfo] = []
    public var steps: [String: [MetricSample]] = [:]
    public var spectra: [String: [SpectrumSample]] = [:]
    public var events: [Event] = []
    public var endReason: String?
    public var endWall: Double?
    /// Problems the reader worked around (e.g. a cut-off last line).
    public var warnings: [String] = []

    /// Reads a record file.
    public static func read(path: String) throws -> RunRecord {
        var info = stat()
        if stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            // A FIFO would block the read forever; a directory is no record.
            throw RecordError("\(path): not a regular file, so not a spectop record")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RecordError(FileManager.default.fileExists(atPath: path)
                              ? "\(path): cannot read the file (permission denied)" : "\(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw RecordError("\(path): cannot read the file") }
        return try parse(data, file: path)
    }

    public static func parse(_ data: Data, file: String) throws -> RunRecord {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        if endsWithNewline, lines.last?.isEmpty == true { lines.removeLast() }
        guard let firstLine = lines.first, !firstLine.isEmpty else {
            throw RecordError("\(file): empty file, not a spectop record")
        }
        guard firstLine.count <= maxLineBytes, let header = object(Data(firstLine)), header["type"] as? String == "run" else {
            throw RecordError("\(file):1: not a spectop record (the first line must be a JSON object with \"type\":\"run\")")
        }
        guard let version = int(header["version"]) else { throw RecordError("\(file):1: the run line has no version") }
        guard version == supportedVersion else {
            throw RecordError("\(file):1: record version \(version) is not supported (this spectop reads version \(supportedVersion))")
        }
        var record = RunRecord(file: file, version: version)
        // Seeds use all 63 bits: read them as integers, not through Double.
        if let seed = header["seed"] as? NSNumber, !isBoolean(seed), seed.int64Value >= 0,
           seed.doubleValue.rounded() == seed.doubleValue {
            record.seed = UInt64(seed.int64Value)
        }
        record.preset = header["preset"] as? String
        record.blas = header["blas"] as? String
        record.toolVersion = header["tool"] as? String
        record.dataName = (header["data"] as? [String: Any])?["name"] as? String
        for entry in header["models"] as? [[String: Any]] ?? [] {
            guard let id = entry["id"] as? String else { continue }
            let trainable = entry["trainable"] as? String ?? "all"
            record.models.append(ModelInfo(
                id: id, width: int(entry["width"]) ?? 0, depth: int(entry["depth"]) ?? 0,
                parameterCount: int(entry["params"]) ?? 0, trainable: trainable,
                mode: TrainingMode(rawValue: entry["mode"] as? String ?? "") ?? (trainable == "readout" ? .frozen : .active)))
        }
        for (index, raw) in lines.enumerated().dropFirst() {
            let lineNumber = index + 1
            if raw.isEmpty { continue }
            guard raw.count <= maxLineBytes else {
                throw RecordError("\(file):\(lineNumber): line is longer than \(maxLineBytes >> 20) MiB, not a spectop record line")
            }
            guard let line = object(Data(raw)) else {
                if index == lines.count - 1 && !endsWithNewline {
                    record.warnings.append("\(file):\(lineNumber): last line is cut off (the run was interrupted); using the \(index) complete lines before it")
                    break
                }
                throw RecordError("\(file):\(lineNumber): not a JSON object")
            }
            switch line["type"] as? String {
            case "step":
                guard let model = line["model"] as? String, let step = int(line["step"]) else { continue }
                record.steps[model, default: []].append(MetricSample(
                    step: step, loss: double(line["loss"]) ?? .nan, chiLoss: double(line["chi_loss"]) ?? .nan,
                    chiNet: double(line["chi_net"]) ?? .nan, chiPos: double(line["chi_pos"]),
                    gradSq: double(line["grad_sq"]) ?? .nan, wall: double(line["wall"]) ?? 0,
                    traceIsEstimate: line["chi_net_estimate"] as? Bool ?? false,
                    layerChiNet: (line["layer_chi_net"] as? [Any] ?? []).compactMap(double),
                    layerGradSq: (line["layer_grad_sq"] as? [Any] ?? []).compactMap(double)))
            case "spectrum":
                guard let model = line["model"] as? String, let step = int(line["step"]) else { continue }
                let eigenvalues = (line["eigenvalues"] as? [Any] ?? []).compactMap(double)
                let weights = (line["weights"] as? [Any] ?? []).compactMap(double)
                let lambdaEff = double(line["lambda_eff"])
                // Lines without "method" (before matrix-free spectra) are exact.
                let method = (line["method"] as? String).flatMap(SpectrumMethod.init(rawValue:)) ?? .exact
                let density = method == .exact ? nil : line["density"] as? [String: Any]
                record.spectra[model, default: []].append(SpectrumSample(
                    step: step, eigenvalues: eigenvalues, weights: weights, chiPosExact: double(line["chi_pos_exact"]),
                    lambdaEff: lambdaEff, rEff: double(line["r_eff"]),
                    effectiveRank: double(line["effective_rank"]) ?? SpectrumSample.effectiveRank(eigenvalues),
                    histogram: density.flatMap(estimatedHistogram)
                        ?? SpectrumHistogram(eigenvalues: eigenvalues, weights: weights, lambdaEff: lambdaEff),
                    method: method, modeCount: int(line["mode_count"]) ?? eigenvalues.count,
                    rEffUncertainty: double(line["r_eff_uncertainty"]), restWeight: double(line["rest_weight"]) ?? 0))
            case "event":
                record.events.append(Event(kind: line["event"] as? String ?? "event", model: line["model"] as? String,
                                           step: int(line["step"]), wall: double(line["wall"]) ?? 0,
                                           detail: line["detail"] as? String))
            case "end":
                record.endReason = line["reason"] as? String
                record.endWall = double(line["wall"])
            default:
                continue  // unknown line types from newer minor versions are skipped
            }
        }
        // Models that appear only in step lines (a header written by hand).
        for id in record.steps.keys.sorted() where !record.models.contains(where: { $0.id == id }) {
            record.models.append(ModelInfo(id: id, width: 0, depth: 0, parameterCount: 0, trainable: "all", mode: .active))
        }
        return record
    }

    /// Models the run marked diverged or failed (stopped before their budget).
    public var divergedModels: Set<String> {
        Set(events.filter { $0.kind == "diverged" || $0.kind == "failed" }.compactMap(\.model))
    }

    /// JSON `true`/`false` arrive as NSNumber too: `"version": true` is no version.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// Longer lines are no spectop record line (a spectrum of 4,096 modes is
    /// about 200 KB); refusing them bounds what one line can cost to parse.
    public static let maxLineBytes = 16 << 20

    private static func object(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data, options: [])) as? [String: Any]
    }

    /// A matrix-free spectrum's histogram as written (`RecordLines`), nil
    /// when its arrays do not fit together.
    static func estimatedHistogram(_ density: [String: Any]) -> SpectrumHistogram? {
        let edges = (density["log10_edges"] as? [Any] ?? []).compactMap(double)
        let counts = (density["counts"] as? [Any] ?? []).compactMap(int)
        let uncertainty = (density["counts_uncertainty"] as? [Any] ?? []).compactMap(double)
        let residual = (density["residual_weights"] as? [Any] ?? []).compactMap(double)
        guard !counts.isEmpty, edges.count == counts.count + 1, uncertainty.count == counts.count, residual.count == counts.count else {
            return nil
        }
        let marker = int(density["marker_bin"]).flatMap { (0..<counts.count).contains($0) ? $0 : nil }
        return SpectrumHistogram(log10Edges: edges, counts: counts, residualWeights: residual,
                                 nearZeroCount: int(density["near_zero_count"]) ?? 0,
                                 nearZeroWeight: double(density["near_zero_weight"]) ?? 0, markerBin: marker,
                                 countUncertainty: uncertainty)
    }

    static func double(_ value: Any?) -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        if let n = value as? NSNumber, !isBoolean(n) { return n.doubleValue }
        return nil
    }

    static func int(_ value: Any?) -> Int? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }
}
