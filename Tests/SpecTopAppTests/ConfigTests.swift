import XCTest
import SpecTopUI
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders
@testable import SpectralCore

final class ConfigTests: XCTestCase {
    private func parseError(_ text: String, file: String = "exp.toml") -> String {
        do {
            _ = try ConfigParser.parse(text, file: file)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testEveryPresetParsesAndMatchesItsExampleFile() throws {
        for name in Presets.names {
            let text = try XCTUnwrap(Presets.text(name))
            let example = try String(contentsOf: SpectopProcess.repositoryRoot.appendingPathComponent("examples/\(name).toml"), encoding: .utf8)
            XCTAssertEqual(text, example, "examples/\(name).toml and the embedded preset differ: run scripts/make_presets_source.py")
            let config = try ConfigParser.parse(text, file: name)
            XCTAssertEqual(config.name, name)
            XCTAssertFalse(config.description.isEmpty)
            try ExperimentBuilder.validate(config)
        }
    }

    func testRenderedConfigParsesBackToTheSameValue() throws {
        for name in Presets.names {
            let config = try ConfigParser.parse(Presets.text(name)!, file: name)
            XCTAssertEqual(try ConfigParser.parse(ConfigParser.render(config), file: "rendered"), config, name)
        }
        var custom = ExperimentConfig()
        custom.models.parameterizations = [.ntk, .mup]
        custom.models.outputScales = [0.5, 2]
        custom.training.lr = 3.25e-4
        custom.data.online = true
        XCTAssertEqual(try ConfigParser.parse(ConfigParser.render(custom), file: "rendered"), custom)
    }

    func testEveryKeyIsDocumentedAndHandled() throws {
        // Each key set to a value unlike its default must change that key's
        // field and no other: a parser that wrote one key into another field
        // (even one with the same default) fails here.
        let defaults = ExperimentConfig()
        for key in ConfigKey.all {
            let old = ConfigParser.literal(key, in: defaults)
            let new: String
            switch key.kind {
            case .integer: new = "\((Int(old) ?? 0) + 3)"
            case .float: new = "1234.5"
            case .string where !key.choices.isEmpty: new = key.choices.map { "\"\($0)\"" }.first { $0 != old }!
            case .string: new = "\"x-\(key.name)\""
            case .stringList where !key.choices.isEmpty: new = "[" + key.choices.reversed().map { "\"\($0)\"" }.joined(separator: ", ") + "]"
            case .bool: new = old == "true" ? "false" : "true"
            case .integerList: new = "[3, 5]"
            case .stringList: new = "[\"a-\(key.name)\", \"b\"]"
            case .floatList: new = "[0.25, 4.0]"
            }
            XCTAssertNotEqual(new, old, key.name)
            let text = (key.section.isEmpty ? "" : "[\(key.section)]\n") + "\(key.name) = \(new)\n"
            let parsed = try ConfigParser.parse(text, file: "k.toml")
            XCTAssertEqual(ConfigParser.literal(key, in: parsed), new, "\(key.name) did not land in its own field")
            for other in ConfigKey.all where other.section != key.section || other.name != key.name {
                XCTAssertEqual(ConfigParser.literal(other, in: parsed), ConfigParser.literal(other, in: defaults),
                               "setting \(key.name) changed \(other.name)")
            }
            XCTAssertFalse(key.help.isEmpty)
        }
    }

    func testSyntaxErrorNamesFileLineAndProblem() {
        let message = parseError("[training]\nlr = 0.1\nsteps = = 3\n")
        XCTAssertTrue(message.hasPrefix("exp.toml:3:"), message)
        XCTAssertTrue(message.contains("TOML syntax error"), message)
    }

    func testUnknownKeySuggestsTheClosestValidKey() {
        XCTAssertEqual(parseError("[training]\nlearning_rat = 0.1\n"), "exp.toml: unknown key 'learning_rat' in [training]")
        XCTAssertEqual(parseError("[training]\nsteeps = 10\n"), "exp.toml: unknown key 'steeps' in [training]; did you mean [training] steps?")
        XCTAssertEqual(parseError("[models]\nwidth = [8]\n"), "exp.toml: unknown key 'width' in [models]; did you mean [models] widths?")
        XCTAssertEqual(parseError("sed = 3\n"), "exp.toml: unknown key 'sed' at the top level; did you mean seed?")
    }

    func testWrongTypesAreNamed() {
        XCTAssertEqual(parseError("[training]\nlr = \"fast\"\n"), "exp.toml: [training] lr must be a number, got a string")
        XCTAssertEqual(parseError("[models]\nwidths = 8\n"), "exp.toml: [models] widths must be a list of integers, got an integer")
        XCTAssertEqual(parseError("[models]\nwidths = [8, \"x\"]\n"), "exp.toml: [models] widths must be a list of integers, got a list")
        XCTAssertEqual(parseError("training = 3\n"), "exp.toml: 'training' must be a table ([training]), got an integer")
    }

    func testOutOfRangeValuesGetClearMessages() throws {
        func message(_ mutate: (inout ExperimentConfig) -> Void) -> String {
            var config = ExperimentConfig()
            config.training.steps = 5
            config.data.samples = 300
            config.metrics.probe = 32
            mutate(&config)
            do { _ = try ExperimentBuilder.prepare(config); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message { $0.models.widths = [0] }, "[models] widths: every width must be at least 1, got 0")
        XCTAssertEqual(message { $0.training.lr = 0 }, "[training] lr must be a positive number, got 0.0")
        XCTAssertEqual(message { $0.training.lr = -1 }, "[training] lr must be a positive number, got -1.0")
        XCTAssertEqual(message { $0.models.depth = -1 }, "[models] depth must be 0 or more, got -1")
        XCTAssertTrue(message { $0.metrics.probe = 10_000 }.contains("10000"), message { $0.metrics.probe = 10_000 })
        XCTAssertTrue(message { $0.training.batch = 301 }.contains("batch size 301 is larger than the training set (300 samples)"))
        XCTAssertEqual(message { $0.data.online = true; $0.data.kind = .digits }, "[data] online = true needs kind = \"teacher\" (fresh samples come from the teacher)")
        XCTAssertTrue(message { $0.data.kind = .csv; $0.data.path = "/nonexistent.csv"; $0.data.target = "y" }.contains("/nonexistent.csv"))
        XCTAssertEqual(message { $0.models.modes = [] }, "[models] modes must name active, frozen or both")
        XCTAssertEqual(message { $0.models.widths = [8, 8] }, "[models] widths lists a width twice")
        XCTAssertEqual(message { $0.training.momentum = 1 }, "[training] momentum must be in [0, 1), got 1.0")
        // A held-out batch B: probe-sized, outside the probe, leaving at least a batch to train on.
        XCTAssertEqual(message { $0.metrics.cross = .heldout; $0.metrics.probe = 200 },
                       "[metrics] cross = \"heldout\" holds out 200 samples (the probe size) that are not in the probe; the data has 100")
        XCTAssertEqual(message { $0.metrics.cross = .heldout; $0.metrics.probe = 128; $0.training.batch = 256 },
                       "[metrics] cross = \"heldout\" takes 128 samples out of training, leaving 172, fewer than a batch of 256")
        XCTAssertEqual(message { $0.metrics.cross = .heldout; $0.metrics.probe = 150; $0.training.batch = 150 }, "no error",
                       "B = the 150 rows outside the probe; training keeps the other 150, the probe")
        XCTAssertEqual(message { $0.metrics.hutchinsonSamples = 0 }, "[metrics] hutchinson_samples must be at least 1, got 0")
    }

    func testUnknownNamesAreRefusedWhereTheFileIsRead() {
        // Enum keys become enum values while parsing: an unknown name never reaches the builder.
        XCTAssertEqual(parseError("[models]\nactivation = \"sigmoid\"\n"), "exp.toml: [models] activation must be one of relu, gelu, gelu_tanh, tanh, identity, got 'sigmoid'")
        XCTAssertEqual(parseError("[data]\nkind = \"imagenet\"\n"), "exp.toml: [data] kind must be one of teacher, digits, idx, csv, got 'imagenet'")
        XCTAssertEqual(parseError("[metrics]\nprobe_source = \"test\"\n"), "exp.toml: [metrics] probe_source must be one of train, held_out, fresh, got 'test'")
        XCTAssertEqual(parseError("[models]\nmodes = [\"lazy\"]\n"), "exp.toml: [models] modes must be active and/or frozen, got 'lazy'")
        XCTAssertEqual(parseError("[models]\nparameterization = [\"ntk\", \"x\"]\n"), "exp.toml: [models] parameterization must be one of standard, ntk, mup, got 'x'")
        XCTAssertEqual(parseError("[training]\noptimizer = \"lbfgs\"\n"), "exp.toml: [training] optimizer must be one of sgd, adam, got 'lbfgs'")
        XCTAssertEqual(parseError("[metrics]\ntrace = \"guess\"\n"), "exp.toml: [metrics] trace must be one of exact, hutchinson, got 'guess'")
        XCTAssertEqual(parseError("[data]\ntask = \"ranking\"\n"), "exp.toml: [data] task must be one of regression, classification, got 'ranking'")
    }

    func testTheREADMEKeyTableIsTheKeyTable() throws {
        let readme = try String(contentsOf: SpectopProcess.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains(ConfigKey.markdownTable()),
                      "README's key table differs from ConfigKey.markdownTable(); it should read:\n<<<TABLE\n\(ConfigKey.markdownTable())TABLE>>>")
    }

    func testTheREADMEGlossaryIsTheMonitorsGlossary() throws {
        let readme = try String(contentsOf: SpectopProcess.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains(Glossary.markdown), "README's glossary differs from Glossary.markdown; it should read:\n\(Glossary.markdown)")
    }

    func testModelPlansFollowWidthsParameterizationsScalesAndModes() throws {
        var config = ExperimentConfig()
        config.models.widths = [8, 32]
        config.models.parameterizations = [.ntk, .mup]
        config.models.outputScales = [1]
        config.training.lr = 0.1
        config.training.lrWidthExponent = 1
        let plans = try ExperimentBuilder.modelPlans(config, inputDim: 4, outputs: 1)
        XCTAssertEqual(plans.map(\.id), ["w8-ntk-active", "w8-ntk-frozen", "w8-mup-active", "w8-mup-frozen",
                                         "w32-ntk-active", "w32-ntk-frozen", "w32-mup-active", "w32-mup-frozen"])
        XCTAssertEqual(plans[0].optimizer.learningRate, 0.1, accuracy: 1e-12)
        XCTAssertEqual(plans[4].optimizer.learningRate, 0.025, accuracy: 1e-12)
        XCTAssertEqual(plans[0].initStream, plans[1].initStream, "active and frozen twins start from the same weights")
        XCTAssertNotEqual(plans[0].initStream, plans[2].initStream)
        config.models.parameterizations = [.ntk]
        config.models.outputScales = [0.5, 2]
        config.training.lrWidthExponent = 0
        let scaled = try ExperimentBuilder.modelPlans(config, inputDim: 4, outputs: 1)
        XCTAssertEqual(scaled.map(\.id).prefix(4), ["w8-a0.5-active", "w8-a0.5-frozen", "w8-a2-active", "w8-a2-frozen"])
        XCTAssertEqual(scaled[0].optimizer.learningRate, 0.4, accuracy: 1e-12)
        XCTAssertEqual(scaled[2].optimizer.learningRate, 0.025, accuracy: 1e-12)
    }

    func testActiveAndFrozenTwinsStartIdentical() throws {
        var config = try ConfigParser.parse(Presets.text("tiny")!, file: "tiny")
        config.training.steps = 1
        let engine = try Engine(try ExperimentBuilder.prepare(config).engine)
        let runs = engine.modelRuns
        XCTAssertEqual(runs[0].model.parameterValues, runs[1].model.parameterValues)
        XCTAssertNotEqual(runs[0].model.parameterValues.count, runs[2].model.parameterValues.count)
    }
}
