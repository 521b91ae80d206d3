import XCTest
import Foundation
@testable import SpecTopApp
@testable import SpecTopBench
@testable import SpecTopReaders
@testable import SpectralCore
import SpecTopRecord
import SpecTopUI

/// Issue 16, item 5: an expensive configuration is named before training,
/// with the setting to change; the monitor and headless lines show progress,
/// ETA and what the process costs.
final class CostEstimateTests: XCTestCase {
    private func estimate(_ preset: String, edit: (inout ExperimentConfig) -> Void = { _ in }) throws -> CostEstimate {
        var config = try ConfigParser.parse(try XCTUnwrap(Presets.text(preset)), file: preset)
        edit(&config)
        // A fixed rate: the verdicts must not depend on how busy this machine is.
        return CostEstimate.of(try ExperimentBuilder.prepare(config).engine, gflops: 20)
    }

    func testTheReachExperimentOnDigitsWarnsAndNamesTheSetting() throws {
        let digits = try estimate("reach") { $0.data.kind = .digits }
        let warning = try XCTUnwrap(digits.warning, "2,560 outputs per spectrum every 20 steps")
        XCTAssertTrue(warning.contains("spectrum_every") && warning.contains("[metrics] probe"), warning)
        XCTAssertGreaterThan(digits.spectrumShare, 0.5)
        XCTAssertEqual(digits.models.first { $0.id == "w512-active" }?.outputs, 2560)
        XCTAssertEqual(digits.shortWarning, "spectra ~\(Int((digits.spectrumShare * 100).rounded()))% of time")
        // The same experiment on its teacher: 256 outputs, no warning.
        let teacher = try estimate("reach")
        XCTAssertNil(teacher.warning, teacher.warning ?? "")
        XCTAssertLessThan(teacher.spectrumShare, digits.spectrumShare / 4)
        XCTAssertNil(try estimate("tiny").warning)
    }

    /// Issue 33, defect 5: a built-in preset never warns about itself. The
    /// digits preset's spectra are most of its time but about 40 s in all; ten
    /// times the steps make that a remedy worth naming.
    func testNoPresetWarnsAboutItselfButALongSpectraHeavyRunDoes() throws {
        for preset in Presets.names {
            let cost = try estimate(preset)
            XCTAssertNil(cost.warning, "\(preset): \(cost.warning ?? "")")
        }
        let digits = try estimate("digits")
        XCTAssertGreaterThan(digits.spectrumShare, 0.5, "its spectra are most of its time")
        XCTAssertLessThan(digits.spectrumSeconds, CostEstimate.warningSeconds)
        let long = try estimate("digits") { $0.training.steps = 5000 }
        XCTAssertGreaterThanOrEqual(long.spectrumSeconds, CostEstimate.warningSeconds)
        XCTAssertTrue(long.warning?.contains("raise spectrum_every") == true, long.warning ?? "no warning")
    }

    func testTheSpectrumCostGrowsAsTheCubeOfTheOutputs() throws {
        // dsyevd dominates large spectra: doubling m (probe size) multiplies the time by about 8.
        // (m = 2,560 is above the default exact limit: raised so both are exact.)
        let small = try estimate("reach") { $0.data.kind = .digits; $0.metrics.probe = 128; $0.metrics.exactLimit = 4096 }
        let large = try estimate("reach") { $0.data.kind = .digits; $0.metrics.probe = 256; $0.metrics.exactLimit = 4096 }
        let ratio = try XCTUnwrap(large.models.last?.secondsPerSpectrum) / XCTUnwrap(small.models.last?.secondsPerSpectrum)
        XCTAssertEqual(ratio, 8, accuracy: 1.5)
        // Above the exact limit the spectrum is matrix-free: its cost is the
        // products', each linear in the probe, not cubic. (Their count falls
        // from m = 7,680 to 15,360: the quadrature's 6 random starts become 4.)
        let settings = MatrixFreeSettings()
        let products = Double(SpectrumPlan.expectedProducts(settings, size: 15_360)) / Double(SpectrumPlan.expectedProducts(settings, size: 7680))
        XCTAssertEqual(products, Double(48 * 5 + 1 + 192) / Double(48 * 7 + 1 + 192), accuracy: 1e-12)
        let huge = try estimate("reach") { $0.data.kind = .digits; $0.metrics.probe = 768 }
        let larger = try estimate("reach") { $0.data.kind = .digits; $0.metrics.probe = 1536 }
        var compared = 0
        for (a, b) in zip(huge.models, larger.models) where a.id.hasSuffix("active") {
            XCTAssertTrue(a.matrixFree, a.id)
            // (The widest may be refused at the larger probe: over the time limit.)
            guard let small = a.secondsPerSpectrum, let large = b.secondsPerSpectrum else { continue }
            XCTAssertEqual(large / small, 2 * products, accuracy: 0.05, a.id)
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 2)
        // An active model whose matrix-free spectrum is refused as too slow has no spectrum, so no spectrum cost.
        let refused = try estimate("reach") { $0.data.kind = .digits; $0.metrics.probe = 1024; $0.metrics.spectrumMaxSeconds = 1e-6 }
        XCTAssertTrue(refused.models.filter { $0.id.hasSuffix("active") }.allSatisfy { $0.secondsPerSpectrum == nil })
    }

    /// The matrix-free time check divides by the measured rate: a model
    /// refused on a slow machine is measured on a fast one.
    func testTheMatrixFreeTimeCheckUsesTheMeasuredRate() throws {
        let config = try ConfigParser.parse(try XCTUnwrap(Presets.text("reach")), file: "reach")
        var edited = config
        edited.data.kind = .digits
        edited.metrics.probe = 1024
        var engine = try ExperimentBuilder.prepare(edited).engine
        let widest = try XCTUnwrap(engine.models.filter { $0.mode == .active }.max { $0.architecture.width < $1.architecture.width })
        let settings = try XCTUnwrap(engine.matrixFree)
        let at10 = SpectrumPlan.matrixFreeSeconds(widest.architecture, rows: 1024, settings: settings, gflops: 10)
        XCTAssertEqual(SpectrumPlan.matrixFreeSeconds(widest.architecture, rows: 1024, settings: settings, gflops: 20), at10 / 2, accuracy: 1e-9 * at10)
        // A rate that makes this model's spectrum just over the limit refuses it; twice that rate accepts it.
        let limitRate = 10 * at10 / engine.maxSpectrumSeconds
        engine.measuredGFLOPS = limitRate * 0.9
        guard case .none(let reason?) = SpectrumPlan.choose(for: widest, in: engine) else { return XCTFail("not refused at a slow rate") }
        XCTAssertTrue(reason.contains("would take about"), reason)
        engine.measuredGFLOPS = limitRate * 2
        XCTAssertEqual(SpectrumPlan.choose(for: widest, in: engine), .matrixFree(settings))
    }

    func testTheMeasuredRateIsPlausible() {
        let gflops = CostEstimate.measureGFLOPS()
        XCTAssertTrue(gflops > 0.1 && gflops < 10_000, "\(gflops) GFLOP/s")
    }

    func testTheHeaderShowsProgressETAAndProcessUsage() {
        var model = ModelSnapshot(id: "w8-active", width: 8, depth: 2, mode: .active, featuresFrozen: false, parameterCount: 100,
                                  trainableParameterCount: 100, step: 250, stepBudget: 1000, status: .training, stepsPerSecond: 10)
        model.spectrumSeconds = 0.25
        var snapshot = EngineSnapshot(state: .running, models: [model], elapsed: 30, stepsPerSecond: 10)
        snapshot.process = ProcessUsage(residentBytes: 412 << 20, cpuPercent: 198.4)
        XCTAssertEqual(model.secondsToGo, 75)
        var info = MonitorInfo(preset: "reach", dataset: "digits", blasCore: "OpenBLAS Zen")
        info.warning = "spectra ~86% of time"
        let buffer = FrameRenderer.render(snapshot, info: info, width: 160, height: 40)
        for part in ["25% ETA 1:15", "412M 198% CPU", "spectra ~86% of time"] {
            XCTAssertTrue(buffer.line(0).contains(part), "\(part) in \(buffer.line(0))")
        }
        var state = MonitorState()
        state.view = .spectrum
        let spectrum = FrameRenderer.render(snapshot, info: info, state: state, width: 160, height: 40)
        XCTAssertTrue(spectrum.text.contains("time per spectrum") && spectrum.text.contains("250 ms"), spectrum.text)
        XCTAssertTrue(spectrum.text.contains("100 ms"), "time per step at 10 steps/s")
    }

    func testResidentMemoryIsReadFromStatm() {
        XCTAssertEqual(ProcessUsageSampler.residentBytes(statm: "1000 250 10 1 0 100 0\n"), 250 * Int(sysconf(Int32(_SC_PAGESIZE))))
        XCTAssertNil(ProcessUsageSampler.residentBytes(statm: "garbage"))
        XCTAssertGreaterThan(ProcessUsageSampler.residentBytes() ?? 0, 1 << 20)
    }

    func testHeadlessDurationsReadLikeALog() {
        XCTAssertEqual(HeadlessRunner.duration(21.84), "21.8 s")
        XCTAssertEqual(HeadlessRunner.duration(185), "3m 05s")
        XCTAssertEqual(HeadlessRunner.duration(7260), "2h 01m")
        XCTAssertEqual(HeadlessRunner.duration(.nan), "?")
    }
}
