import SpecTopReaders
import SpectralCore

/// A value of an experiment-file key, as TOML gives it.
package enum ConfigValue: Sendable, Equatable {
    case integer(Int)
    case float(Double)
    case string(String)
    case bool(Bool)
    case integers([Int])
    case floats([Double])
    case strings([String])
}

/// One key of the experiment file, and everything about it in one place: its
/// section, type, meaning, range, and where it lives in `ExperimentConfig`.
/// The parser, the validation, `--print-config`, the README's key table and
/// the unknown-key suggestions all come from `ConfigKey.all`.
package struct ConfigKey: Sendable {
    package enum Kind: String, Sendable {
        case integer, float, string, bool
        case integerList = "list of integers"
        case stringList = "string or list of strings"
        case floatList = "number or list of numbers"
    }
    package let section: String
    package let name: String
    package let kind: Kind
    package let help: String
    /// For keys that name enum cases: the valid names (empty for free text).
    package var choices: [String] = []
    /// The key's value in a configuration.
    package let read: @Sendable (ExperimentConfig) -> ConfigValue
    /// Stores a value of the key's kind; throws the message for a value it
    /// cannot take (an unknown name for an enum key).
    package let write: @Sendable (inout ExperimentConfig, ConfigValue) throws(ConfigError) -> Void
    /// The range check: nil when the value is acceptable, else the message's
    /// rest after the key's name (" must be at least 1, got 0").
    package let requirement: @Sendable (ConfigValue) -> String?

    /// `name` or `[section] name`, as messages write it.
    package var qualifiedName: String { section.isEmpty ? name : "[\(section)] \(name)" }

    /// Checks `config`'s value of this key against its range.
    package func validate(_ config: ExperimentConfig) throws(ConfigError) {
        if let problem = requirement(read(config)) { throw ConfigError(qualifiedName + problem) }
    }
}

// MARK: Building entries

extension ConfigKey {
    package static func integer(_ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, Int> & Sendable, _ help: String,
                        atLeast minimum: Int? = nil, atMost maximum: Int? = nil) -> ConfigKey {
        ConfigKey(section: section, name: name, kind: .integer, help: help,
                  read: { .integer($0[keyPath: path]) },
                  write: { config, value throws(ConfigError) in if case .integer(let v) = value { config[keyPath: path] = v } },
                  requirement: { value in
                      guard case .integer(let v) = value else { return nil }
                      if let minimum, v < minimum { return minimum == 0 ? " must be 0 or more, got \(v)" : " must be at least \(minimum), got \(v)" }
                      if let maximum, v > maximum { return " must be at most \(maximum), got \(v)" }
                      return nil
                  })
    }

    package static func float(_ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, Double> & Sendable, _ help: String,
                      requirement: @escaping @Sendable (Double) -> String? = { $0.isFinite ? nil : "must be a finite number" }) -> ConfigKey {
        ConfigKey(section: section, name: name, kind: .float, help: help,
                  read: { .float($0[keyPath: path]) },
                  write: { config, value throws(ConfigError) in if case .float(let v) = value { config[keyPath: path] = v } },
                  requirement: { value in
                      guard case .float(let v) = value, let phrase = requirement(v) else { return nil }
                      return " \(phrase), got \(v)"
                  })
    }

    package static func string(_ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, String> & Sendable, _ help: String) -> ConfigKey {
        ConfigKey(section: section, name: name, kind: .string, help: help,
                  read: { .string($0[keyPath: path]) },
                  write: { config, value throws(ConfigError) in if case .string(let v) = value { config[keyPath: path] = v } },
                  requirement: { _ in nil })
    }

    package static func bool(_ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, Bool> & Sendable, _ help: String) -> ConfigKey {
        ConfigKey(section: section, name: name, kind: .bool, help: help,
                  read: { .bool($0[keyPath: path]) },
                  write: { config, value throws(ConfigError) in if case .bool(let v) = value { config[keyPath: path] = v } },
                  requirement: { _ in nil })
    }

    /// A key naming one case of `E`; its help lists the names.
    package static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, E> & Sendable, _ help: String? = nil
    ) -> ConfigKey where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        let qualified = section.isEmpty ? name : "[\(section)] \(name)"
        return ConfigKey(section: section, name: name, kind: .string, help: help ?? names.joined(separator: " | "), choices: names,
                         read: { .string($0[keyPath: path].rawValue) },
                         write: { config, value throws(ConfigError) in
                             guard case .string(let raw) = value else { return }
                             guard let parsed = E(rawValue: raw) else {
                                 throw ConfigError("\(qualified) must be one of \(names.joined(separator: ", ")), got '\(raw)'")
                             }
                             config[keyPath: path] = parsed
                         },
                         requirement: { _ in nil })
    }

    /// A key naming one or several cases of `E` (a string or a list).
    package static func choices<E: RawRepresentable & CaseIterable & Sendable>(
        _ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, [E]> & Sendable, _ help: String,
        empty: String, invalid: String? = nil
    ) -> ConfigKey where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        let phrase = invalid ?? "must be one of \(names.joined(separator: ", "))"
        let qualified = section.isEmpty ? name : "[\(section)] \(name)"
        return ConfigKey(section: section, name: name, kind: .stringList, help: help, choices: names,
                         read: { .strings($0[keyPath: path].map(\.rawValue)) },
                         write: { config, value throws(ConfigError) in
                             guard case .strings(let raws) = value else { return }
                             var parsed: [E] = []
                             for raw in raws {
                                 guard let item = E(rawValue: raw) else {
                                     throw ConfigError("\(qualified) \(phrase), got '\(raw)'")
                                 }
                                 parsed.append(item)
                             }
                             config[keyPath: path] = parsed
                         },
                         requirement: { value in
                             if case .strings(let v) = value, v.isEmpty { return " " + empty }
                             return nil
                         })
    }

    package static func integers(_ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, [Int]> & Sendable, _ help: String,
                         requirement: @escaping @Sendable ([Int]) -> String?) -> ConfigKey {
        ConfigKey(section: section, name: name, kind: .integerList, help: help,
                  read: { .integers($0[keyPath: path]) },
                  write: { config, value throws(ConfigError) in if case .integers(let v) = value { config[keyPath: path] = v } },
                  requirement: { value in if case .integers(let v) = value { return requirement(v) } else { return nil } })
    }

    package static func floats(_ section: String, _ name: String, _ path: WritableKeyPath<ExperimentConfig, [Double]> & Sendable, _ help: String,
                       requirement: @escaping @Sendable ([Double]) -> String?) -> ConfigKey {
        ConfigKey(section: section, name: name, kind: .floatList, help: help,
                  read: { .floats($0[keyPath: path]) },
                  write: { config, value throws(ConfigError) in if case .floats(let v) = value { config[keyPath: path] = v } },
                  requirement: { value in if case .floats(let v) = value { return requirement(v) } else { return nil } })
    }
}

// MARK: The table

extension ConfigKey {
    package static let sections = ["data", "models", "training", "metrics"]

    package static let all: [ConfigKey] = [
        .string("", "name", \.name, "experiment name shown in the header"),
        .string("", "description", \.description, "one line shown by `spectop presets`"),
        ConfigKey(section: "", name: "seed", kind: .integer, help: "one seed for data, initialisation and batches",
                  read: { .integer(Int(clamping: $0.seed)) },
                  write: { config, value throws(ConfigError) in
                      guard case .integer(let v) = value else { return }
                      guard v >= 0 else { throw ConfigError("seed must be 0 or more, got \(v)") }
                      config.seed = UInt64(v)
                  },
                  requirement: { _ in nil }),
        .choice("data", "kind", \.data.kind),
        .string("data", "path", \.data.path, "idx: images file; csv: data file"),
        .string("data", "labels_path", \.data.labelsPath, "idx: labels file"),
        .string("data", "target", \.data.target, "csv: name of the target column"),
        .choice("data", "task", \.data.task, "csv: regression | classification"),
        .integer("data", "limit", \.data.limit, "digits/idx/csv: use at most this many samples (0 = all)", atLeast: 0),
        .integer("data", "samples", \.data.samples, "teacher: training samples"),
        .integer("data", "input_dim", \.data.inputDim, "teacher: input dimension"),
        .integer("data", "outputs", \.data.outputs, "teacher: output dimension C"),
        .float("data", "exponent", \.data.exponent, "teacher: power-law decay of the target's spectrum"),
        .float("data", "input_exponent", \.data.inputExponent, "teacher: input covariance eigenvalues k^-a"),
        .integer("data", "features", \.data.features, "teacher: random features in the teacher"),
        .float("data", "noise", \.data.noise, "teacher: label noise standard deviation"),
        .bool("data", "online", \.data.online, "teacher: fresh samples every batch (online training)"),
        .integers("models", "widths", \.models.widths, "hidden widths, one model size each") { widths in
            if widths.isEmpty { return " must list at least one width" }
            if let bad = widths.first(where: { $0 < 1 }) { return ": every width must be at least 1, got \(bad)" }
            if Set(widths).count != widths.count { return " lists a width twice" }
            return nil
        },
        .integer("models", "depth", \.models.depth, "hidden layers (0 = linear model)", atLeast: 0),
        .choice("models", "activation", \.models.activation),
        .choices("models", "parameterization", \.models.parameterizations, "standard | ntk | mup (several: one model each)",
                 empty: "must name at least one"),
        .floats("models", "output_scale", \.models.outputScales, "readout multiplier α: ≫1 lazy, ≪1 rich (several: one model each)") { scales in
            if scales.isEmpty { return " must give at least one value" }
            // Past 1e±6 the readout (and, with lr_output_scaling, lr/α²) leaves Float32's useful range.
            if let bad = scales.first(where: { !($0 >= 1e-6 && $0 <= 1e6) }) { return " must be between 1e-6 and 1e6, got \(bad)" }
            return nil
        },
        .choices("models", "modes", \.models.modes, "active and/or frozen", empty: "must name active, frozen or both",
                 invalid: "must be active and/or frozen"),
        .choice("training", "optimizer", \.training.optimizer, "sgd | adam"),
        .float("training", "lr", \.training.lr, "learning rate at lr_base_width") { $0 > 0 && $0.isFinite ? nil : "must be a positive number" },
        .float("training", "lr_width_exponent", \.training.lrWidthExponent, "lr(w) = lr·(w/lr_base_width)^-p"),
        .integer("training", "lr_base_width", \.training.lrBaseWidth, "width where lr applies as given (0 = smallest)", atLeast: 0),
        .bool("training", "lr_output_scaling", \.training.lrOutputScaling, "divide lr by α² for output scale α"),
        .float("training", "momentum", \.training.momentum, "SGD momentum in [0, 1)") { $0 >= 0 && $0 < 1 ? nil : "must be in [0, 1)" },
        .integer("training", "batch", \.training.batch, "minibatch size", atLeast: 1),
        .integer("training", "steps", \.training.steps, "training steps per model", atLeast: 1),
        .integer("training", "warmup", \.training.warmup, "linear warm-up steps", atLeast: 0),
        .integer("metrics", "every", \.metrics.every, "kernel-free LNP every this many steps", atLeast: 1),
        .choice("metrics", "schedule", \.metrics.schedule,
                "every (every `every` steps) | log (log-spaced windows, dense early, as the paper's authors measure)"),
        .integer("metrics", "points_per_decade", \.metrics.pointsPerDecade, "log schedule: window centres per factor of 10 in the step", atLeast: 1),
        .integer("metrics", "window", \.metrics.window, "log schedule: consecutive steps measured from each centre", atLeast: 1),
        .integer("metrics", "spectrum_every", \.metrics.spectrumEvery, "exact eNTK spectrum every this many steps (0 = time-based)", atLeast: 0),
        .float("metrics", "spectrum_interval", \.metrics.spectrumInterval, "time-based: at most one spectrum per model per this many seconds") {
            $0 >= 0 && $0.isFinite ? nil : "must be 0 or more seconds"
        },
        .integer("metrics", "probe", \.metrics.probe, "probe set size n", atLeast: 1),
        .choice("metrics", "probe_source", \.metrics.probeSource, "train | held_out | fresh (teacher only)"),
        .choice("metrics", "trace", \.metrics.trace, "exact | hutchinson (estimate of Tr Θ for large C)"),
        .choice("metrics", "cross", \.metrics.cross,
                "off | heldout (a fixed batch of probe size, taken out of training) | train (a fresh training batch each measurement): cross-batch χ_pos"),
        .integer("metrics", "hutchinson_samples", \.metrics.hutchinsonSamples, "Rademacher vectors per Hutchinson estimate", atLeast: 1),
        .integer("metrics", "exact_limit", \.metrics.exactLimit,
                 "largest n·C for the exact eNTK spectrum; above it top-k + Lanczos density (estimates)", atLeast: 0),
        .integer("metrics", "top_k", \.metrics.topK, "eigenpairs the matrix-free spectrum computes exactly (below n·C)", atLeast: 1),
        .float("metrics", "spectrum_max_seconds", \.metrics.spectrumMaxSeconds,
               "no matrix-free spectrum for a model whose spectrum would take longer (predicted)") {
            $0 > 0 && $0.isFinite ? nil : "must be a positive number of seconds"
        },
    ]

    /// The key `name` of `section`, if there is one.
    package static func named(_ name: String, in section: String) -> ConfigKey? {
        all.first { $0.section == section && $0.name == name }
    }

    /// The README's key table, one row per key with its default.
    package static func markdownTable() -> String {
        let defaults = ExperimentConfig()
        var rows = ["| section | key | default | meaning |", "|---|---|---|---|"]
        for key in all {
            let section = key.section.isEmpty ? "(top level)" : "[\(key.section)]"
            let help = key.help.replacingOccurrences(of: "|", with: "\\|")
            rows.append("| \(section) | `\(key.name)` | `\(ConfigParser.literal(key, in: defaults))` | \(help) |")
        }
        return rows.joined(separator: "\n") + "\n"
    }
}
