import XCTest
import TestSupport
import Foundation
import SpectralCore
@testable import SpecTopApp
@testable import SpecTopReaders

/// spectop's numbers against an independent NumPy computation: small
/// experiments run in-process, write a state dump, and `scripts/check_dump.py`
/// rebuilds every model from the dump, forms the full Jacobian by
/// back-propagation (not spectop's Gram–Hadamard formula), and compares loss,
/// χ_loss, χ_net, χ_pos (both forms), λ_eff, r_eff, the effective rank, the
/// eigenvalues and the mode weights (docs/METHOD.md; tolerances are explained
/// at the top of the script). Skipped where python3 with NumPy is missing.
final class NumPyReferenceTests: XCTestCase {
    /// The repository root, from this file's location.
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let script = repositoryRoot.appendingPathComponent("scripts/check_dump.py")

    private struct Output {
        var status: Int32
        var text: String
    }

    /// Runs `python3 arguments...` through `/usr/bin/env` with the same
    /// file-backed runner the CLI tests use; stdout and stderr together.
    private static func python(_ arguments: [String], timeout: Double = 300) throws -> Output {
        let result = try SpectopProcess.run(["python3"] + arguments, timeout: timeout,
                                            executable: URL(fileURLWithPath: "/usr/bin/env"))
        return Output(status: result.status, text: result.stdout + result.stderr)
    }

    override func setUpWithError() throws {
        // Locally a missing NumPy skips with the reason; in CI (CI=true, where
        // `make test` installs NumPy) it fails, so the check cannot vanish unseen.
        func unavailable(_ reason: String) -> any Error {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("NumPy reference check cannot run in CI: \(reason)")
                return XCTSkip("failed above")
            }
            return XCTSkip("NumPy reference check skipped: \(reason)")
        }
        let probe: Output
        do { probe = try Self.python(["-c", "import numpy"], timeout: 60) } catch {
            throw unavailable("python3 could not be started (\(error))")
        }
        if probe.status != 0 {
            let detail = probe.text.trimmingCharacters(in: .whitespacesAndNewlines)
            throw unavailable("`python3 -c 'import numpy'` failed (pip install numpy to run it)" + (detail.isEmpty ? "" : ": \(detail)"))
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.script.path), "missing \(Self.script.path)")
    }

    private func scratch() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-numpy-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Trains `config` to the end in-process and writes its state dump.
    private func dump(_ config: ExperimentConfig, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let directory = scratch()
        let prepared = try ExperimentBuilder.prepare(config)
        let session = try TrainingSession(prepared, dumpDirectory: directory.path)
        session.engine.start()
        XCTAssertTrue(session.engine.waitUntilFinished(timeout: 300), "training did not finish", file: file, line: line)
        let result = session.exportDump(final: true)
        XCTAssertFalse(result.failed, result.message, file: file, line: line)
        return directory
    }

    private func check(_ directory: URL, extra: [String] = []) throws -> Output {
        try Self.python([Self.script.path, directory.path] + extra)
    }

    private func assertReferenceAgrees(_ config: ExperimentConfig, models: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = try dump(config, file: file, line: line)
        let folders = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0)/manifest.json").path) }
        XCTAssertEqual(folders.count, models, "models in the dump", file: file, line: line)
        let result = try check(directory)
        XCTAssertEqual(result.status, 0, "check_dump.py disagrees with spectop:\n\(result.text)", file: file, line: line)
        XCTAssertTrue(result.text.contains("\nOK"), result.text, file: file, line: line)
    }

    private func teacher(outputs: Int) -> ExperimentConfig {
        var config = ExperimentConfig()
        config.name = "numpy-reference-teacher-c\(outputs)"
        config.seed = 5
        config.data.kind = .teacher
        config.data.samples = 256
        config.data.inputDim = 6
        config.data.outputs = outputs
        config.models.widths = [8, 24]
        config.models.depth = 2
        config.models.modes = [.active, .frozen]
        config.training.optimizer = .sgd
        config.training.lr = 0.05
        config.training.momentum = 0.9
        config.training.batch = 32
        config.training.steps = 40
        config.metrics.every = 5
        config.metrics.probe = 32
        return config
    }

    func testTeacherMSEWithOneOutputMatchesNumPy() throws {
        var config = teacher(outputs: 1)
        config.models.activation = .tanh
        try assertReferenceAgrees(config, models: 4)
    }

    func testTeacherMSEWithThreeOutputsMatchesNumPy() throws {
        // Every parameterization's multipliers and a non-unit output scale.
        var config = teacher(outputs: 3)
        config.models.widths = [16]
        config.models.activation = .gelu
        config.models.parameterizations = [.standard, .ntk, .mup]
        config.models.outputScales = [0.5]
        try assertReferenceAgrees(config, models: 6)
    }

    func testDigitsCrossEntropyMatchesNumPy() throws {
        var config = ExperimentConfig()
        config.name = "numpy-reference-digits"
        config.seed = 2
        config.data.kind = .digits
        config.data.limit = 600
        config.models.widths = [16]
        config.models.depth = 2
        config.models.activation = .relu
        config.models.modes = [.active, .frozen]
        config.training.optimizer = .sgd
        config.training.lr = 0.1
        config.training.momentum = 0.9
        config.training.batch = 64
        config.training.steps = 30
        config.metrics.every = 5
        config.metrics.probe = 32
        try assertReferenceAgrees(config, models: 2)
    }

    /// The cross-batch quantities (held-out B, and a training batch B) from
    /// the dump's batch B against NumPy's two explicit Jacobians and gradients.
    func testCrossBatchQuantitiesMatchNumPy() throws {
        for (cross, outputs) in [(CrossKind.heldout, 1), (.train, 3)] {
            var config = teacher(outputs: outputs)
            config.models.widths = [8]
            config.metrics.cross = cross
            let directory = try dump(config)
            let manifest = try XCTUnwrap(JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appendingPathComponent("w8-active/manifest.json"))) as? [String: Any])
            XCTAssertEqual(manifest["cross_x"] as? String, "cross_x.npy", "\(cross)")
            let metrics = try XCTUnwrap(manifest["metrics"] as? [String: Any])
            XCTAssertNotNil(metrics["cross_chi_pos"] as? Double, "\(cross)")
            let result = try check(directory)
            XCTAssertEqual(result.status, 0, "\(cross): check_dump.py disagrees with spectop:\n\(result.text)")
            XCTAssertTrue(result.text.contains("cross_chi_pos") && result.text.contains("cross_grad_dot"), result.text)

            // A cross χ_pos off by 0.1 % is caught.
            let url = directory.appendingPathComponent("w8-active/manifest.json")
            var edited = manifest, editedMetrics = metrics
            editedMetrics["cross_chi_pos"] = try XCTUnwrap(metrics["cross_chi_pos"] as? Double) * 1.001
            edited["metrics"] = editedMetrics
            try JSONSerialization.data(withJSONObject: edited).write(to: url)
            let perturbed = try check(directory, extra: ["--quiet"])
            XCTAssertEqual(perturbed.status, 1, perturbed.text)
            XCTAssertTrue(perturbed.text.contains("cross_chi_pos"), perturbed.text)
        }
    }

    /// The check itself must be able to fail: a dump whose χ_pos is off by
    /// 0.1 % (or whose eigenvalue is) is rejected with exit status 1.
    func testCheckerRejectsAPerturbedDump() throws {
        var config = teacher(outputs: 2)
        config.models.widths = [8]
        config.models.modes = [.active]
        config.training.steps = 10
        let directory = try dump(config)
        let folder = directory.appendingPathComponent("w8-active")
        let manifestURL = folder.appendingPathComponent("manifest.json")
        let original = try Data(contentsOf: manifestURL)
        XCTAssertEqual(try check(directory).status, 0)

        var manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: original) as? [String: Any])
        var metrics = try XCTUnwrap(manifest["metrics"] as? [String: Any])
        metrics["chi_pos"] = try XCTUnwrap(metrics["chi_pos"] as? Double) * 1.001
        manifest["metrics"] = metrics
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
        let perturbed = try check(directory, extra: ["--quiet"])
        XCTAssertEqual(perturbed.status, 1, perturbed.text)
        XCTAssertTrue(perturbed.text.contains("chi_pos") && perturbed.text.contains("FAIL"), perturbed.text)

        try original.write(to: manifestURL)
        let eigenURL = folder.appendingPathComponent("eigenvalues.npy")
        var eigen = try NPYFile.decode(Data(contentsOf: eigenURL))
        eigen.values[0] *= 1.001
        try NPYFile.encode(eigen.values, shape: eigen.shape).write(to: eigenURL)
        let wrongSpectrum = try check(directory, extra: ["--quiet"])
        XCTAssertEqual(wrongSpectrum.status, 1, wrongSpectrum.text)
        XCTAssertTrue(wrongSpectrum.text.contains("eigenvalues"), wrongSpectrum.text)
    }
}
