import Foundation
import SpecTopRecord
import XCTest

/// `spectop check`'s rules (docs/RECORD.md) on records shaped like the
/// engine's and the probe's, and on each way a hand-written one goes wrong.
/// The contract module alone: no engine, no BLAS.
final class RecordValidatorTests: XCTestCase {
    static let header = #"{"type":"run","version":1,"tool":"spectop 0.1.0","seed":1,"preset":"t","data":{"name":"teacher","train":64,"probe":16,"input_dim":4,"outputs":2,"loss":"mse"},"models":[{"id":"a","width":8,"depth":2,"params":58,"trainable":"all","mode":"active","steps":10,"batch":16},{"id":"f","width":8,"depth":2,"params":58,"trainable_params":18,"trainable":"readout","mode":"frozen","steps":10,"batch":16}]}"#

    static func step(_ model: String, _ step: Int) -> String {
        RecordLines.encode(.metrics(model: model, MetricSample(step: step, loss: 0.5, chiLoss: 0.25, chiNet: 10, chiPos: nil, gradSq: 0.3, wall: Double(step),
                                                                traceIsEstimate: step == 2, chiNetStandardError: step == 2 ? 0.5 : nil,
                                                                layerChiNet: [4, 6], layerGradSq: [0.1, 0.2])))
    }

    static var valid: [String] {
        let exact = SpectrumSample(step: 1, eigenvalues: [4, 1], weights: [0.5, 0.5], chiPosExact: 0.5, lambdaEff: 2.5, rEff: 0.5, effectiveRank: 1.6,
                                   histogram: SpectrumHistogram(eigenvalues: [4, 1], weights: [0.5, 0.5], lambdaEff: 2.5))
        let histogram = SpectrumHistogram(log10Edges: [-2, -1, 0], counts: [70, 9], residualWeights: [0.25, 0.5],
                                          nearZeroCount: 1, nearZeroWeight: 0.125, markerBin: 1, countUncertainty: [4.5, 1.25])
        let estimate = SpectrumSample(step: 2, eigenvalues: [1, 0.5], weights: [0.375, 0.125], chiPosExact: 0.25, lambdaEff: 0.5,
                                      rEff: 0.0625, effectiveRank: 12.5, histogram: histogram, method: .lanczos, modeCount: 80,
                                      rEffUncertainty: 0.015625, restWeight: 0.5)
        return [
            header,
            RecordLines.encode(.event(kind: "spectrum", model: "f", step: nil, wall: 0, detail: "m = 9000 is over exact_limit")),
            step("a", 0), step("f", 0), step("a", 1),
            RecordLines.encode(.spectrum(model: "a", exact)),
            step("a", 2),
            RecordLines.encode(.spectrum(model: "a", estimate)),
            RecordLines.encode(.event(kind: "freeze", model: "a", step: 2, wall: 1.5, detail: nil)),
            RecordLines.encode(.event(kind: "pause", model: nil, step: nil, wall: 1.7, detail: nil)),
            RecordLines.usage(ProcessUsage(residentBytes: 1 << 30, cpuPercent: 150, stepSeconds: 0.01, gpuMemoryBytes: 1 << 31, gpuUtilization: 50), wall: 1.8),
            RecordLines.end(reason: "steps", wall: 2.5),
        ]
    }

    func findings(_ lines: [String]) -> [RecordValidator.Finding] {
        RecordValidator.validate(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    func testTheWritersLinesAreValid() {
        XCTAssertEqual(findings(Self.valid), [])
    }

    func testEachMistakeIsNamedAtItsLine() {
        var lines = Self.valid
        lines[3] = lines[3].replacingOccurrences(of: #""chi_loss":0.25,"#, with: "")                 // missing required field
        lines[4] = lines[4].replacingOccurrences(of: #""loss":0.5"#, with: #""loss":"0.5""#)         // wrong type
        lines[6] = Self.step("a", 1)                                                               // step goes back
        let found = findings(lines).filter { !$0.isNote }
        XCTAssertEqual(found.map(\.line), [4, 5, 7], "\(found)")
        XCTAssertEqual(found[0].message, #"no "chi_loss" (a number or null, required)"#)
        XCTAssertEqual(found[1].message, #""loss" is "0.5", not a number or null"#)
        XCTAssertEqual(found[2].message, "step line of a at step 1 after step 1: steps of a model must increase")
    }

    /// A usage line: known (no note), its figures held to their types and signs.
    func testAUsageLineIsCheckedNotNoted() {
        let usage = Self.valid.firstIndex { $0.hasPrefix(#"{"type":"usage""#) }!
        XCTAssertTrue(findings(Self.valid).isEmpty, "a usage line is in the specification: no note")
        var lines = Self.valid
        lines[usage] = #"{"type":"usage","rss_bytes":1.5,"cpu_percent":-3}"#
        let found = findings(lines).filter { !$0.isNote }
        XCTAssertEqual(found.map(\.line), [usage + 1, usage + 1, usage + 1], "\(found)")
        XCTAssertEqual(Set(found.map(\.message)), [#"no "wall" (a number, required)"#, #""rss_bytes" is 1.5, not a whole number ≥ 0"#,
                                                   #""cpu_percent" is -3, not ≥ 0"#])
    }

    func testAnUnknownVersionAndABrokenHeaderAreProblems() {
        var lines = Self.valid
        lines[0] = lines[0].replacingOccurrences(of: #""version":1"#, with: #""version":2"#)
        XCTAssertEqual(findings(lines).map(\.description), ["line 1: version 2 is not one this spectop knows (it reads version 1)"])
        lines[0] = #"{"type":"run","version":1,"models":[{"id":"a"},{"id":"a"},{"width":3}]}"#
        XCTAssertEqual(findings(lines).filter { !$0.isNote }.map(\.message),
                       ["model a is listed twice", #"no "models[2].id" (a string, required)"#])
        XCTAssertEqual(RecordValidator.validate(Data()).map(\.message), ["empty file: a record starts with its run line"])
    }

    func testAMatrixFreeSpectrumsHistogramMustFitTogether() {
        var lines = Self.valid
        lines[7] = lines[7].replacingOccurrences(of: #""log10_edges":[-2,-1,0]"#, with: #""log10_edges":[-2,-1]"#)
            .replacingOccurrences(of: #""marker_bin":1"#, with: #""marker_bin":1e19"#)
        XCTAssertEqual(findings(lines).map(\.message), [#""density.marker_bin" is 1e+19, not a whole number ≥ 0"#,
                                                        "density has 2 log10_edges for 2 counts (needs one more)"])
    }

    func testWhatReadersTolerateIsANoteNotAProblem() {
        var lines = Self.valid
        lines.insert(#"{"type":"checkpoint","step":3}"#, at: 5)
        lines.insert(#"{"type":"event","event":"lr_drop","wall":1}"#, at: 5)
        lines.insert(Self.step("ghost", 0), at: 5)
        let found = findings(lines)
        XCTAssertTrue(found.allSatisfy(\.isNote), "\(found)")
        XCTAssertEqual(found.map(\.line), [6, 7, 8])
    }

    func testNothingMayFollowTheEndAndACutLastLineIsSaid() {
        var lines = Self.valid
        lines.append(Self.step("a", 9))
        XCTAssertEqual(findings(lines).map(\.message), ["a step line after the end line (the end line is the last)"])
        let cut = (Self.valid.dropLast().joined(separator: "\n") + "\n" + #"{"type":"st"#)
        XCTAssertEqual(RecordValidator.validate(Data(cut.utf8)).map(\.line), [Self.valid.count])
    }
}

extension RecordValidatorTests {
    /// Both writers leave `weights` empty when the residual is undefined (g = 0).
    func testASpectrumWithoutModeWeightsIsValid() {
        var lines = Self.valid
        lines[5] = lines[5].replacingOccurrences(of: #""weights":[0.5,0.5]"#, with: #""weights":[]"#)
        XCTAssertTrue(lines[5].contains(#""weights":[]"#), lines[5])
        XCTAssertEqual(findings(lines), [])
    }

    func testAMatrixFreeSpectrumNamesItsModeCountAndWholeCounts() {
        var lines = Self.valid
        lines[7] = lines[7].replacingOccurrences(of: #""mode_count":80,"#, with: "").replacingOccurrences(of: #""counts":[70,9]"#, with: #""counts":[70.5,9]"#)
        XCTAssertEqual(findings(lines).map(\.message), [#"no "mode_count" (a whole number ≥ 0, required)"#,
                                                        #""density.counts" is an array, not an array of whole numbers ≥ 0"#])
    }
}
