import XCTest
import Foundation
import TestSupport
@testable import SpectralCore

final class StateDumpTests: XCTestCase {
    private func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-dump-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func load(_ url: URL) throws -> (shape: [Int], values: [Double]) {
        try NPYFile.decode(Data(contentsOf: url), name: url.lastPathComponent)
    }

    /// The forward pass rebuilt from the manifest and the .npy files alone,
    /// with plain loops (no spectop network code).
    private func rebuiltOutputs(_ folder: URL) throws -> (outputs: [Double], rows: Int, manifest: [String: Any]) {
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("manifest.json"))) as? [String: Any])
        XCTAssertEqual(manifest["format"] as? String, "spectop-dump")
        XCTAssertEqual(manifest["version"] as? Int, 1)
        let x = try load(folder.deletingLastPathComponent().appendingPathComponent("probe_x.npy"))
        var rows = x.shape[0]
        var a = x.values
        var width = x.shape[1]
        for layer in try XCTUnwrap(manifest["layers"] as? [[String: Any]]) {
            let w = try load(folder.appendingPathComponent(try XCTUnwrap(layer["weight"] as? String)))
            let b = try load(folder.appendingPathComponent(try XCTUnwrap(layer["bias"] as? String)))
            let s = try XCTUnwrap(layer["weight_multiplier"] as? Double)
            let t = try XCTUnwrap(layer["bias_multiplier"] as? Double)
            let activation = try XCTUnwrap(layer["activation"] as? String)
            let (out, inn) = (w.shape[0], w.shape[1])
            XCTAssertEqual(inn, width)
            var h = [Double](repeating: 0, count: rows * out)
            for i in 0..<rows {
                for o in 0..<out {
                    var sum = 0.0
                    for k in 0..<inn { sum += a[i * inn + k] * w.values[o * inn + k] }
                    let z = s * sum + t * b.values[o]
                    switch activation {
                    case "relu": h[i * out + o] = max(0, z)
                    case "tanh": h[i * out + o] = Foundation.tanh(z)
                    case "gelu": h[i * out + o] = z * (1 + Foundation.erf(z / 2.0.squareRoot())) / 2
                    case "identity": h[i * out + o] = z
                    default: XCTFail("unexpected activation \(activation)")
                    }
                }
            }
            a = h
            width = out
        }
        rows = x.shape[0]
        return (a, rows, manifest)
    }

    func testDumpRoundTripReproducesProbeOutputsAndMetrics() throws {
        for (activation, kind) in [(Activation.gelu, LossKind.mse), (.relu, .crossEntropy)] {
            var data = syntheticRegression(samples: 128, outputs: 3)
            if kind == .crossEntropy {
                guard case .values(let y) = data.targets else { return XCTFail() }
                data.targets = .labels((0..<data.count).map { i in (0..<3).max { y[i, $0] < y[i, $1] }! }, classes: 3)
            }
            var models = plans(widths: [16], steps: 30, outputs: 3)
            for k in models.indices { models[k].architecture.activation = activation }
            let probe = data.subset(Array(0..<20))
            let engine = try Engine(EngineConfiguration(models: models, train: data, probe: probe, seed: 1, spectrumEvery: 10, workers: 1))
            engine.start()
            XCTAssertTrue(engine.waitUntilFinished(timeout: 60))
            let directory = temporaryDirectory()
            let report = try engine.withModelsIdle { try StateDump.write(runs: $0, probe: probe, to: directory) }
            XCTAssertEqual(report.failures, [])
            let folders = report.written
            XCTAssertEqual(folders.map(\.lastPathComponent), ["w16-active", "w16-frozen"])
            let y = try load(directory.appendingPathComponent("probe_y.npy"))
            XCTAssertEqual(y.shape, kind == .mse ? [20, 3] : [20])
            for (folder, run) in zip(folders, engine.modelRuns) {
                let (outputs, rows, manifest) = try rebuiltOutputs(folder)
                let reference = run.probe.outputs(of: run.model)
                XCTAssertEqual(rows, reference.rows)
                // The model runs in Float32: agreement to 1e-6, absolute below 1 and relative above.
                assertClose(outputs, reference.storage, tolerance: 1e-6, floor: 1, folder.lastPathComponent)
                XCTAssertEqual(manifest["step"] as? Int, 30)
                XCTAssertEqual(manifest["loss"] as? String, kind.rawValue)
                XCTAssertEqual(manifest["trainable"] as? String, run.plan.mode == .frozen ? "readout" : "all")
                let metrics = try XCTUnwrap(manifest["metrics"] as? [String: Any])
                for key in ["chi_loss", "chi_net", "chi_pos", "chi_pos_exact", "lambda_eff", "r_eff"] {
                    XCTAssertNotNil(metrics[key] as? Double, "metrics.\(key)")
                }
                let eigen = try load(folder.appendingPathComponent(try XCTUnwrap(metrics["eigenvalues"] as? String)))
                XCTAssertEqual(eigen.shape, [60])
                assertClose(eigen.values.reduce(0, +), try XCTUnwrap(metrics["chi_net"] as? Double), tolerance: 1e-4)
                // The MSE loss recomputed from the rebuilt outputs matches the manifest.
                if kind == .mse {
                    var loss = 0.0
                    for k in outputs.indices { loss += (outputs[k] - y.values[k]) * (outputs[k] - y.values[k]) / 2 }
                    assertClose(loss / Double(rows), try XCTUnwrap(metrics["loss"] as? Double), tolerance: 1e-5)
                }
            }
        }
    }

    func testNPYHeaderIsVersionOneAlignedAndRoundTrips() throws {
        let data = NPYFile.encode([1.5, -2, 3] as [Float], shape: [3])
        XCTAssertEqual(Array(data.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let decoded = try NPYFile.decode(data)
        XCTAssertEqual(decoded.shape, [3])
        XCTAssertEqual(decoded.values, [1.5, -2, 3])
        XCTAssertThrowsError(try NPYFile.decode(Data("hello".utf8), name: "bad.npy")) { error in
            XCTAssertTrue("\(error)".contains("bad.npy"))
        }
        XCTAssertThrowsError(try NPYFile.decode(data.dropLast(2), name: "cut.npy")) { error in
            XCTAssertTrue("\(error)".contains("expected 12 data bytes, found 10"))
        }
    }

    func testUnwritableDumpDirectoryIsAClearError() throws {
        let data = syntheticRegression(samples: 64)
        let engine = try Engine(EngineConfiguration(models: plans(widths: [4], steps: 1), train: data, probe: data.subset([0, 1, 2]), seed: 1))
        let blocker = temporaryDirectory()
        try Data("x".utf8).write(to: blocker)
        XCTAssertThrowsError(try engine.withModelsIdle { try StateDump.write(runs: $0, probe: data.subset([0, 1, 2]), to: blocker.appendingPathComponent("dump")) }) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot write the state dump to \(blocker.path)"), "\(error)")
        }
    }

    /// Above the exact limit the dump's spectrum is the matrix-free one, and
    /// the manifest says so: method, m and r_eff's half-width, with the top-k
    /// eigenvalues in eigenvalues.npy (a frozen model's stays exact).
    func testDumpAboveTheExactLimitSaysItsSpectrumIsAnEstimate() throws {
        let data = syntheticRegression(samples: 64, outputs: 2)
        let probe = data.subset(Array(0..<30))
        let engine = try Engine(EngineConfiguration(models: plans(widths: [8], steps: 2, outputs: 2), train: data, probe: probe, seed: 1,
                                                    maxKernelSize: 40, matrixFree: MatrixFreeSettings(topK: 6, starts: 4, steps: 20), workers: 1))
        let directory = temporaryDirectory()
        let report = try engine.writeStateDump(to: directory)
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(report.written.map(\.lastPathComponent), ["w8-active", "w8-frozen"])
        for folder in report.written {
            let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("manifest.json"))) as? [String: Any])
            let metrics = try XCTUnwrap(manifest["metrics"] as? [String: Any])
            if folder.lastPathComponent.hasSuffix("frozen") {
                // Exact at any size: the readout's Gram.
                XCTAssertEqual(metrics["spectrum_method"] as? String, "exact")
                XCTAssertNil(metrics["mode_count"])
                XCTAssertEqual(try load(folder.appendingPathComponent("eigenvalues.npy")).shape, [60])
            } else {
                XCTAssertEqual(metrics["spectrum_method"] as? String, "lanczos")
                XCTAssertEqual(metrics["mode_count"] as? Int, 60)
                XCTAssertNotNil(metrics["r_eff_uncertainty"] as? Double)
                XCTAssertEqual(try load(folder.appendingPathComponent("eigenvalues.npy")).shape, [6])
            }
        }
    }
}
