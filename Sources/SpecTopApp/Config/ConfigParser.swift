import SpectralCore
import TOMLKit

/// A problem with an experiment file or a command-line value; the message
/// names the file, the line where known, the key and what was expected.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads experiment files (TOML, via TOMLKit) into `ExperimentConfig` and
/// writes them back.
public enum ConfigParser {
    /// Parses `text`; `file` names the source in messages.
    public static func parse(_ text: String, file: String) throws -> ExperimentConfig {
        try TOMLPrescan.check(text, file: file)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(file):\(error.source.begin.line):\(error.source.begin.column): TOML syntax error: \(error.description)")
        } catch {
            throw ConfigError("\(file): TOML syntax error: \(error)")
        }
        var config = ExperimentConfig()
        for key in table.keys {
            let value = table[key]!
            if ConfigKey.sections.contains(key) {
                guard let section = value.table else {
                    throw ConfigError("\(file): '\(key)' must be a table ([\(key)]), got \(describe(value))")
                }
                for inner in section.keys {
                    try assign(&config, section: key, key: inner, value: section[inner]!, file: file)
                }
            } else {
                try assign(&config, section: "", key: key, value: value, file: file)
            }
        }
        return config
    }

    /// The closest known key to `name` (edit distance), for "did you mean".
    static func suggestion(for name: String, section: String) -> String? {
        let candidates = ConfigKey.all.map { (key: $0, distance: editDistance(name, $0.name)) }
        guard let best = candidates.min(by: { a, b in
            a.distance != b.distance ? a.distance < b.distance : (a.key.section == section && b.key.section != section)
        }), best.distance <= max(2, name.count / 2) else { return nil }
        return best.key.section.isEmpty ? best.key.name : "[\(best.key.section)] \(best.key.name)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    private static func describe(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a number"
        case .bool: return "a boolean"
        case .array: return "a list"
        case .table: return "a table"
        default: return "a \(value.type)"
        }
    }

    private static func assign(_ config: inout ExperimentConfig, section: String, key: String,
                               value: TOMLValueConvertible, file: String) throws {
        let qualified = section.isEmpty ? key : "[\(section)] \(key)"
        guard let spec = ConfigKey.all.first(where: { $0.section == section && $0.name == key }) else {
            let hint = suggestion(for: key, section: section).map { "; did you mean \($0)?" } ?? ""
            let place = section.isEmpty ? "at the top level" : "in [\(section)]"
            throw ConfigError("\(file): unknown key '\(key)' \(place)\(hint)")
        }
        func wrongType() -> ConfigError {
            ConfigError("\(file): \(qualified) must be \(article(spec.kind)), got \(describe(value))")
        }
        func int() throws -> Int { guard let v = value.int else { throw wrongType() }; return v }
        func double() throws -> Double {
            if let v = value.double { return v }
            if let v = value.int { return Double(v) }
            throw wrongType()
        }
        func string() throws -> String { guard let v = value.string else { throw wrongType() }; return v }
        func bool() throws -> Bool { guard let v = value.bool else { throw wrongType() }; return v }
        func strings() throws -> [String] {
            if let v = value.string { return [v] }
            guard let array = value.array else { throw wrongType() }
            return try array.map { element in guard let s = element.string else { throw wrongType() }; return s }
        }
        func ints() throws -> [Int] {
            guard let array = value.array else { throw wrongType() }
            return try array.map { element in guard let i = element.int else { throw wrongType() }; return i }
        }
        func doubles() throws -> [Double] {
            if let v = value.double { return [v] }
            if let v = value.int { return [Double(v)] }
            guard let array = value.array else { throw wrongType() }
            return try array.map { element in
                if let d = element.double { return d }
                if let i = element.int { return Double(i) }
                throw wrongType()
            }
        }
        switch (section, key) {
        case ("", "name"): config.name = try string()
        case ("", "description"): config.description = try string()
        case ("", "seed"):
            let seed = try int()
            guard seed >= 0 else { throw ConfigError("\(file): seed must be 0 or more, got \(seed)") }
            config.seed = UInt64(seed)
        case ("data", "kind"): config.data.kind = try string()
        case ("data", "path"): config.data.path = try string()
        case ("data", "labels_path"): config.data.labelsPath = try string()
        case ("data", "target"): config.data.target = try string()
        case ("data", "task"): config.data.task = try string()
        case ("data", "limit"): config.data.limit = try int()
        case ("data", "samples"): config.data.samples = try int()
        case ("data", "input_dim"): config.data.inputDim = try int()
        case ("data", "outputs"): config.data.outputs = try int()
        case ("data", "exponent"): config.data.exponent = try double()
        case ("data", "input_exponent"): config.data.inputExponent = try double()
        case ("data", "features"): config.data.features = try int()
        case ("data", "noise"): config.data.noise = try double()
        case ("data", "online"): config.data.online = try bool()
        case ("models", "widths"): config.models.widths = try ints()
        case ("models", "depth"): config.models.depth = try int()
        case ("models", "activation"): config.models.activation = try string()
        case ("models", "parameterization"): config.models.parameterizations = try strings()
        case ("models", "output_scale"): config.models.outputScales = try doubles()
        case ("models", "modes"): config.models.modes = try strings()
        case ("training", "optimizer"): config.training.optimizer = try string()
        case ("training", "lr"): config.training.lr = try double()
        case ("training", "lr_width_exponent"): config.training.lrWidthExponent = try double()
        case ("training", "lr_base_width"): config.training.lrBaseWidth = try int()
        case ("training", "lr_output_scaling"): config.training.lrOutputScaling = try bool()
        case ("training", "momentum"): config.training.momentum = try double()
        case ("training", "batch"): config.training.batch = try int()
        case ("training", "steps"): config.training.steps = try int()
        case ("training", "warmup"): config.training.warmup = try int()
        case ("metrics", "every"): config.metrics.every = try int()
        case ("metrics", "spectrum_every"): config.metrics.spectrumEvery = try int()
        case ("metrics", "spectrum_interval"): config.metrics.spectrumInterval = try double()
        case ("metrics", "probe"): config.metrics.probe = try int()
        case ("metrics", "probe_source"): config.metrics.probeSource = try string()
        case ("metrics", "trace"): config.metrics.trace = try string()
        case ("metrics", "hutchinson_samples"): config.metrics.hutchinsonSamples = try int()
        default: throw ConfigError("\(file): key \(qualified) is known but not handled (a spectop bug)")
        }
    }

    private static func article(_ kind: ConfigKey.Kind) -> String {
        switch kind {
        case .integer: return "an integer"
        case .float: return "a number"
        case .string: return "a string"
        case .bool: return "true or false"
        case .integerList: return "a list of integers"
        case .stringList: return "a string or a list of strings"
        case .floatList: return "a number or a list of numbers"
        }
    }

    /// The TOML literal of a key's current value in `config`.
    public static func literal(_ key: ConfigKey, in config: ExperimentConfig) -> String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        func number(_ x: Double) -> String {
            if x == x.rounded(), abs(x) < 1e15 { return String(format: "%.1f", x) }
            return "\(x)"
        }
        func list(_ items: [String]) -> String { items.count == 1 ? items[0] : "[" + items.joined(separator: ", ") + "]" }
        switch (key.section, key.name) {
        case ("", "name"): return quoted(config.name)
        case ("", "description"): return quoted(config.description)
        case ("", "seed"): return "\(config.seed)"
        case ("data", "kind"): return quoted(config.data.kind)
        case ("data", "path"): return quoted(config.data.path)
        case ("data", "labels_path"): return quoted(config.data.labelsPath)
        case ("data", "target"): return quoted(config.data.target)
        case ("data", "task"): return quoted(config.data.task)
        case ("data", "limit"): return "\(config.data.limit)"
        case ("data", "samples"): return "\(config.data.samples)"
        case ("data", "input_dim"): return "\(config.data.inputDim)"
        case ("data", "outputs"): return "\(config.data.outputs)"
        case ("data", "exponent"): return number(config.data.exponent)
        case ("data", "input_exponent"): return number(config.data.inputExponent)
        case ("data", "features"): return "\(config.data.features)"
        case ("data", "noise"): return number(config.data.noise)
        case ("data", "online"): return config.data.online ? "true" : "false"
        case ("models", "widths"): return "[" + config.models.widths.map(String.init).joined(separator: ", ") + "]"
        case ("models", "depth"): return "\(config.models.depth)"
        case ("models", "activation"): return quoted(config.models.activation)
        case ("models", "parameterization"): return list(config.models.parameterizations.map(quoted))
        case ("models", "output_scale"): return list(config.models.outputScales.map(number))
        case ("models", "modes"): return "[" + config.models.modes.map(quoted).joined(separator: ", ") + "]"
        case ("training", "optimizer"): return quoted(config.training.optimizer)
        case ("training", "lr"): return number(config.training.lr)
        case ("training", "lr_width_exponent"): return number(config.training.lrWidthExponent)
        case ("training", "lr_base_width"): return "\(config.training.lrBaseWidth)"
        case ("training", "lr_output_scaling"): return config.training.lrOutputScaling ? "true" : "false"
        case ("training", "momentum"): return number(config.training.momentum)
        case ("training", "batch"): return "\(config.training.batch)"
        case ("training", "steps"): return "\(config.training.steps)"
        case ("training", "warmup"): return "\(config.training.warmup)"
        case ("metrics", "every"): return "\(config.metrics.every)"
        case ("metrics", "spectrum_every"): return "\(config.metrics.spectrumEvery)"
        case ("metrics", "spectrum_interval"): return number(config.metrics.spectrumInterval)
        case ("metrics", "probe"): return "\(config.metrics.probe)"
        case ("metrics", "probe_source"): return quoted(config.metrics.probeSource)
        case ("metrics", "trace"): return quoted(config.metrics.trace)
        case ("metrics", "hutchinson_samples"): return "\(config.metrics.hutchinsonSamples)"
        default: return "\"\""
        }
    }

    /// The whole configuration as a commented TOML file that parses back to
    /// the same value (`spectop run --print-config`).
    public static func render(_ config: ExperimentConfig) -> String {
        var lines = ["# spectop experiment file (README: \"Experiment files\")."]
        for section in [""] + ConfigKey.sections {
            if !section.isEmpty { lines.append(""); lines.append("[\(section)]") }
            for key in ConfigKey.all where key.section == section {
                let assignment = "\(key.name) = \(literal(key, in: config))"
                let padding = String(repeating: " ", count: max(1, 28 - assignment.count))
                lines.append(assignment + padding + "# " + key.help)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
