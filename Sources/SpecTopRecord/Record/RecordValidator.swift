import Foundation

/// Checks a record against the specification (docs/RECORD.md,
/// docs/record.schema.json): what `spectop check` prints.
///
/// The readers are lenient — a field of the wrong type reads as absent, an
/// unknown line is skipped — so a writer's mistake shows up only as a number
/// missing from a chart. This says what is wrong and where, for people who
/// write records from their own tools and for the cross-language tests.
public enum RecordValidator {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        /// 1-based line number.
        public var line: Int
        public var message: String
        /// A note is allowed by the specification (an unknown line type or
        /// event kind, a model the header does not list) and fails nothing.
        public var isNote: Bool

        public var description: String { (isNote ? "note: " : "") + "line \(line): \(message)" }
    }


    /// Every problem and note of the record in `data`, in line order.
    public static func validate(_ data: Data) -> [Finding] {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        if endsWithNewline, lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first, !first.isEmpty else { return [Finding(line: 1, message: "empty file: a record starts with its run line", isNote: false)] }
        var state = State()
        state.header(Data(first))
        for (index, raw) in lines.enumerated().dropFirst() {
            state.lineNumber = index + 1
            if raw.isEmpty {
                state.problem("empty line")
                continue
            }
            if index == lines.count - 1 && !endsWithNewline && RecordJSON.object(Data(raw)) == nil {
                state.problem("cut off: the last line has no newline and is no JSON object (a writer still running or killed)")
                continue
            }
            state.body(Data(raw))
        }
        return state.findings
    }

    private struct State {
        var findings: [Finding] = []
        var lineNumber = 1
        var headerModels: Set<String> = []
        var unlisted: Set<String> = []
        var lastStep: [String: Int] = [:]
        var lastSpectrum: [String: Int] = [:]
        var lastScalars: [String: Int] = [:]
        var ended = false

        mutating func problem(_ message: String) { findings.append(Finding(line: lineNumber, message: message, isNote: false)) }
        mutating func note(_ message: String) { findings.append(Finding(line: lineNumber, message: message, isNote: true)) }

        mutating func header(_ raw: Data) {
            guard let object = RecordJSON.object(raw) else { return problem("not a JSON object (the first line must be the run line)") }
            guard object["type"] as? String == "run" else { return problem("the first line must have \"type\":\"run\"") }
            var fields = Fields(object, line: lineNumber)
            if let version = fields.require("version", .integer) {
                if RecordJSON.int(version) != RunRecord.supportedVersion {
                    problem("version \(RecordJSON.describe(version)) is not one this spectop knows (it reads version \(RunRecord.supportedVersion))")
                }
            }
            fields.optional("name", .string); fields.optional("tool", .string); fields.optional("preset", .string)
            fields.optional("seed", .number); fields.optional("blas", .string); fields.optional("data", .object)
            if let data = object["data"] as? [String: Any] {
                var inner = Fields(data, line: lineNumber, prefix: "data.")
                inner.optional("name", .string); inner.optional("loss", .string)
                for key in ["train", "probe", "input_dim", "outputs"] { inner.optional(key, .count) }
                findings += inner.findings
            }
            if let models = fields.require("models", .array) as? [Any] {
                for (index, entry) in models.enumerated() {
                    guard let model = entry as? [String: Any] else {
                        fields.findings.append(Finding(line: lineNumber, message: "models[\(index)] is not an object", isNote: false))
                        continue
                    }
                    var inner = Fields(model, line: lineNumber, prefix: "models[\(index)].")
                    if let id = inner.require("id", .string) as? String {
                        if id.isEmpty { inner.findings.append(Finding(line: lineNumber, message: "models[\(index)].id is empty", isNote: false)) }
                        if !headerModels.insert(id).inserted {
                            inner.findings.append(Finding(line: lineNumber, message: "model \(id) is listed twice", isNote: false))
                        }
                    }
                    for key in ["width", "depth", "params", "trainable_params", "steps", "batch"] { inner.optional(key, .count) }
                    inner.optional("trainable", .string)
                    inner.optional("mode", .oneOf(["active", "frozen"]))
                    findings += inner.findings
                }
            }
            findings += fields.findings
        }

        mutating func body(_ raw: Data) {
            guard let object = RecordJSON.object(raw) else { return problem("not a JSON object") }
            guard let type = object["type"] as? String else { return problem("no \"type\" (a string naming the line type)") }
            if ended { problem("a \(type) line after the end line (the end line is the last)") }
            var fields = Fields(object, line: lineNumber)
            switch type {
            case "step":
                let model = fields.require("model", .string) as? String
                let step = fields.require("step", .count).flatMap(RecordJSON.int)
                for key in ["loss", "chi_loss", "chi_net", "chi_pos", "grad_sq"] { fields.require(key, .measurement) }
                fields.require("wall", .number)
                fields.optional("chi_net_estimate", .boolean)
                fields.optional("chi_net_stderr", .measurement)
                fields.optional("layer_chi_net", .measurements)
                fields.optional("layer_grad_sq", .measurements)
                for key in ["rows", "cross_rows"] {
                    if let rows = fields.optional(key, .count).flatMap(RecordJSON.int), rows < 1 {
                        fields.findings.append(Finding(line: lineNumber, message: "\"\(key)\" is 0, not a row count ≥ 1", isNote: false))
                    }
                }
                fields.optional("window", .count)
                fields.optional("cross_chi_net_estimate", .boolean)
                for key in ["chi_loss_normalized", "chi_net_normalized", "cross_loss", "cross_grad_dot", "cross_chi_loss", "cross_chi_net",
                            "cross_chi_loss_normalized", "cross_chi_net_normalized", "cross_chi_net_stderr"] {
                    fields.optional(key, .measurement)
                }
                // Cauchy–Schwarz bounds χ_pos^{AB} by 1 (a little round-off aside; an estimated χ_net^{AB} may pass it).
                if let crossChiPos = fields.optional("cross_chi_pos", .measurement) as? NSNumber, abs(crossChiPos.doubleValue) > 1 + 1e-9,
                   object["cross_chi_net_estimate"] == nil {
                    fields.findings.append(Finding(line: lineNumber, message: "\"cross_chi_pos\" is \(crossChiPos.doubleValue), outside [-1, 1]", isNote: false))
                }
                // Fields that only mean something together come together (RECORD.md).
                for group in RecordValidator.fieldGroups {
                    let present = group.filter { object[$0] != nil }
                    if !present.isEmpty && present.count < group.count {
                        let missing = group.filter { object[$0] == nil }
                        fields.findings.append(Finding(line: lineNumber, message: "\(present.joined(separator: ", ")) without \(missing.joined(separator: ", ")) (these come together)", isNote: false))
                    }
                }
                findings += fields.findings
                if let model, let step { order(model, step, spectrum: false) }
                if let model { listed(model) }
            case "spectrum":
                let model = fields.require("model", .string) as? String
                let step = fields.require("step", .count).flatMap(RecordJSON.int)
                let eigenvalues = fields.require("eigenvalues", .measurements) as? [Any]
                let weights = fields.require("weights", .measurements) as? [Any]
                for key in ["chi_pos_exact", "lambda_eff", "r_eff", "effective_rank", "r_eff_uncertainty", "rest_weight"] {
                    fields.optional(key, .measurement)
                }
                let method = fields.optional("method", .oneOf(["exact", "lanczos"])) as? String
                // A matrix-free spectrum lists the top k of m modes: without m, readers take k for it.
                if method == "lanczos" { fields.require("mode_count", .count) } else { fields.optional("mode_count", .count) }
                // No weights at all is allowed: the mode weights are undefined when g = 0.
                if let eigenvalues, let weights, !weights.isEmpty, eigenvalues.count != weights.count {
                    fields.findings.append(Finding(line: lineNumber, message: "\(eigenvalues.count) eigenvalues but \(weights.count) weights", isNote: false))
                }
                if method == "lanczos" {
                    if let density = fields.require("density", .object) as? [String: Any] { self.density(density, into: &fields) }
                }
                findings += fields.findings
                if let model, let step { order(model, step, spectrum: true) }
                if let model { listed(model) }
            case "event":
                let kind = fields.require("event", .string) as? String
                fields.require("wall", .number)
                let model = fields.optional("model", .string) as? String
                fields.optional("step", .count)
                fields.optional("detail", .string)
                findings += fields.findings
                if let kind, !RecordEventKind(kind).isKnown {
                    note("event kind \"\(kind)\" is not in the specification (readers keep it and show it as such)")
                }
                if let model { listed(model) }
            case "end":
                fields.require("reason", .string)
                fields.optional("wall", .number)
                fields.optional("detail", .string)
                findings += fields.findings
                ended = true
            case "scalars":
                let model = fields.require("model", .string) as? String
                let step = fields.require("step", .count).flatMap(RecordJSON.int)
                fields.require("wall", .number)
                if let values = fields.require("values", .object) as? [String: Any] {
                    if values.isEmpty { fields.findings.append(Finding(line: lineNumber, message: "\"values\" is empty (a scalars line has at least one)", isNote: false)) }
                    for name in values.keys.sorted() {
                        if name.isEmpty { fields.findings.append(Finding(line: lineNumber, message: "\"values\" has an empty name", isNote: false)) }
                        if let value = values[name], !Kind.measurement.accepts(value) {
                            fields.findings.append(Finding(line: lineNumber, message: "\"values.\(name)\" is \(RecordJSON.describe(value)), not a number or null", isNote: false))
                        }
                    }
                }
                findings += fields.findings
                if let model, let step {
                    if let previous = lastScalars[model], step < previous {
                        problem("scalars line of \(model) at step \(step) after step \(previous): its steps must not go back")
                    }
                    lastScalars[model] = max(step, lastScalars[model] ?? step)
                }
                if let model { listed(model) }
            case "usage":
                fields.require("wall", .number)
                fields.optional("rss_bytes", .count)
                fields.optional("gpu_memory_bytes", .count)
                for name in ["cpu_percent", "step_seconds", "gpu_utilization"] {
                    if let value = fields.optional(name, .number) as? NSNumber, !(value.doubleValue >= 0) {
                        fields.findings.append(Finding(line: lineNumber, message: "\"\(name)\" is \(value), not ≥ 0", isNote: false))
                    }
                }
                findings += fields.findings
            case "run":
                problem("a second run line (a record has one, first)")
            default:
                note("line type \"\(type)\" is not in the specification (readers skip it)")
            }
        }

        /// A matrix-free spectrum's histogram: arrays that fit together.
        mutating func density(_ density: [String: Any], into fields: inout Fields) {
            var inner = Fields(density, line: lineNumber, prefix: "density.")
            let edges = inner.require("log10_edges", .numbers) as? [Any]
            let counts = inner.require("counts", .counts) as? [Any]
            let uncertainty = inner.require("counts_uncertainty", .numbers) as? [Any]
            let residual = inner.require("residual_weights", .numbers) as? [Any]
            inner.optional("near_zero_count", .count)
            inner.optional("near_zero_weight", .number)
            let marker = inner.optional("marker_bin", .count).flatMap(RecordJSON.int)
            if let edges, let counts, edges.count != counts.count + 1 {
                inner.findings.append(Finding(line: lineNumber, message: "density has \(edges.count) log10_edges for \(counts.count) counts (needs one more)", isNote: false))
            }
            for (name, array) in [("counts_uncertainty", uncertainty), ("residual_weights", residual)] {
                if let array, let counts, array.count != counts.count {
                    inner.findings.append(Finding(line: lineNumber, message: "density.\(name) has \(array.count) entries for \(counts.count) counts", isNote: false))
                }
            }
            if let marker, let counts, marker >= counts.count {
                inner.findings.append(Finding(line: lineNumber, message: "density.marker_bin \(marker) is past the \(counts.count) bins", isNote: false))
            }
            fields.findings += inner.findings
        }

        mutating func order(_ model: String, _ step: Int, spectrum: Bool) {
            let previous = spectrum ? lastSpectrum[model] : lastStep[model]
            if let previous, step <= previous {
                problem("\(spectrum ? "spectrum" : "step") line of \(model) at step \(step) after step \(previous): steps of a model must increase")
            }
            let latest = max(step, previous ?? step)
            if spectrum { lastSpectrum[model] = latest } else { lastStep[model] = latest }
        }

        mutating func listed(_ model: String) {
            if !headerModels.contains(model) && unlisted.insert(model).inserted {
                note("model \(model) is not in the run line's models (readers show it without a size)")
            }
        }
    }

    /// Step-line fields that come all together or not at all.
    static let fieldGroups = [
        ["rows", "chi_loss_normalized", "chi_net_normalized"],
        ["cross_loss", "cross_grad_dot", "cross_chi_loss", "cross_chi_net", "cross_chi_pos", "cross_rows",
         "cross_chi_loss_normalized", "cross_chi_net_normalized"],
    ]

    /// The JSON types the specification uses.
    enum Kind {
        case string, boolean, number, object, array
        /// A whole number ≥ 0 (a step, a count, a size).
        case integer, count
        /// A number, or null for a value that is undefined or not finite.
        case measurement
        case numbers, measurements
        /// An array of whole numbers ≥ 0.
        case counts
        case oneOf([String])

        var name: String {
            switch self {
            case .string: return "a string"
            case .boolean: return "true or false"
            case .number: return "a number"
            case .object: return "an object"
            case .array: return "an array"
            case .integer: return "a whole number"
            case .count: return "a whole number ≥ 0"
            case .measurement: return "a number or null"
            case .numbers: return "an array of numbers"
            case .measurements: return "an array of numbers or nulls"
            case .counts: return "an array of whole numbers ≥ 0"
            case .oneOf(let values): return values.map { "\"\($0)\"" }.joined(separator: " or ")
            }
        }

        func accepts(_ value: Any) -> Bool {
            func number(_ value: Any) -> Bool {
                guard let n = value as? NSNumber, !RecordJSON.isBoolean(n) else { return false }
                return n.doubleValue.isFinite
            }
            switch self {
            case .string: return value is String
            case .boolean: return (value as? NSNumber).map(RecordJSON.isBoolean) ?? false
            case .number: return number(value)
            case .object: return value is [String: Any]
            case .array: return value is [Any]
            case .integer: return RecordJSON.int(value) != nil
            case .count: return (RecordJSON.int(value) ?? -1) >= 0
            case .measurement: return value is NSNull || number(value)
            case .numbers: return (value as? [Any])?.allSatisfy(number) ?? false
            case .measurements: return (value as? [Any])?.allSatisfy { $0 is NSNull || number($0) } ?? false
            case .counts: return (value as? [Any])?.allSatisfy { (RecordJSON.int($0) ?? -1) >= 0 } ?? false
            case .oneOf(let values): return (value as? String).map(values.contains) ?? false
            }
        }
    }

    /// The fields of one object, checked key by key.
    struct Fields {
        let object: [String: Any]
        let line: Int
        var prefix = ""
        var findings: [Finding] = []

        init(_ object: [String: Any], line: Int, prefix: String = "") {
            self.object = object; self.line = line; self.prefix = prefix
        }

        /// The value of `key` when present and of the right kind; a finding otherwise.
        @discardableResult
        mutating func require(_ key: String, _ kind: Kind) -> Any? {
            guard let value = object[key] else {
                findings.append(Finding(line: line, message: "no \"\(prefix)\(key)\" (\(kind.name), required)", isNote: false))
                return nil
            }
            return check(key, value, kind)
        }

        @discardableResult
        mutating func optional(_ key: String, _ kind: Kind) -> Any? {
            guard let value = object[key] else { return nil }
            return check(key, value, kind)
        }

        private mutating func check(_ key: String, _ value: Any, _ kind: Kind) -> Any? {
            guard kind.accepts(value) else {
                findings.append(Finding(line: line, message: "\"\(prefix)\(key)\" is \(RecordJSON.describe(value)), not \(kind.name)", isNote: false))
                return nil
            }
            return value
        }
    }
}
