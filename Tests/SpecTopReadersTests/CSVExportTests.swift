import XCTest
import Foundation
@testable import SpecTopReaders
import SpecTopRecord

/// `spectop export`'s CSV, without the binary: columns, spectrum cells, the
/// wide form, and RFC 4180 quoting of ids a file may hold.
final class CSVExportTests: XCTestCase {
    /// RFC 4180 read back: quoted fields with doubled quotes, commas and line breaks inside.
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var scalars = Array(text.unicodeScalars)[...]
        while let c = scalars.popFirst() {
            if quoted {
                if c == "\"" {
                    if scalars.first == "\"" { field.unicodeScalars.append("\""); scalars.removeFirst() } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { row.append(field); field = "" }
            else if c == "\n" { row.append(field); rows.append(row); row = []; field = "" }
            else { field.unicodeScalars.append(c) }
        }
        return rows
    }

    private func record(ids: [String]) throws -> RunRecord {
        var lines = ["{\"type\":\"run\",\"version\":1,\"models\":[" + ids.map { "{\"id\":\(JSONLine.quote($0)),\"params\":10}" }.joined(separator: ",") + "]}"]
        for (k, id) in ids.enumerated() {
            for step in 0...2 {
                var sample = MetricSample(step: step, loss: 1 / Double(step + 1 + k), chiLoss: 0.5, chiNet: 100, chiPos: step == 0 ? nil : 0.25,
                                          gradSq: 3, wall: Double(step) * 0.5)
                if k == 1 { sample.traceIsEstimate = true; sample.chiNetStandardError = 4 }
                lines.append(RecordLines.encode(.metrics(model: id, sample)))
            }
            let h = SpectrumHistogram(eigenvalues: [2, 1], weights: [0.5, 0.5], lambdaEff: 1.5)
            lines.append(RecordLines.encode(.spectrum(model: id, SpectrumSample(step: 2, eigenvalues: [2, 1], weights: [0.5, 0.5], chiPosExact: 0.25,
                                                                                  lambdaEff: 1.5, rEff: 0.5, effectiveRank: 1.8, histogram: h))))
        }
        return try RunRecord.parse(Data((lines.joined(separator: "\n") + "\n").utf8), file: "x.jsonl")
    }

    func testLongFormHasOneRowPerModelAndStepWithEveryMetric() throws {
        let rows = Self.parse(CSVExport.text(try record(ids: ["w8-active", "w8-frozen"]), wide: false))
        XCTAssertEqual(rows[0], ["model", "step", "wall", "loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "chi_net_estimate", "chi_net_stderr",
                                 "lambda_eff", "r_eff", "chi_pos_exact", "effective_rank",
                                 "rows", "chi_loss_normalized", "chi_net_normalized", "cross_loss", "cross_grad_dot", "cross_chi_loss", "cross_chi_net",
                                 "cross_chi_pos", "cross_rows", "cross_chi_loss_normalized", "cross_chi_net_normalized"])
        XCTAssertEqual(rows.count, 1 + 6)
        XCTAssertTrue(rows.allSatisfy { $0.count == 25 })
        let noCross = Array(repeating: "", count: 11)
        XCTAssertEqual(rows[1], ["w8-active", "0", "0", "1", "0.5", "100", "", "3", "false", "", "", "", "", ""] + noCross, "chi_pos undefined at step 0: empty")
        XCTAssertEqual(rows[3], ["w8-active", "2", "1", "0.3333333333333333", "0.5", "100", "0.25", "3", "false", "", "1.5", "0.5", "0.25", "1.8"] + noCross)
        XCTAssertEqual(rows[4][0...1], ["w8-frozen", "0"])
        XCTAssertEqual(rows[4][8...9], ["true", "4"], "an estimate says so, with its standard error")
    }

    func testWideFormHasOneRowPerStepAndAColumnPerModelAndMetric() throws {
        let rows = Self.parse(CSVExport.text(try record(ids: ["a", "b"]), wide: true))
        XCTAssertEqual(rows[0].count, 1 + 2 * 23)
        XCTAssertEqual(rows[0][0...2], ["step", "a:wall", "a:loss"])
        XCTAssertEqual(rows[0][24...25], ["b:wall", "b:loss"])
        XCTAssertEqual(rows.map { $0[0] }, ["step", "0", "1", "2"])
        XCTAssertEqual(rows[3][rows[0].firstIndex(of: "b:r_eff")!], "0.5")
        XCTAssertEqual(rows[1][rows[0].firstIndex(of: "b:loss")!], "0.5")
    }

    func testIdsWithCommasQuotesAndLineBreaksRoundTrip() throws {
        let ids = ["w8,active", "say \"hi\"", "two\nlines", "cr\r\nlf", "plain"]
        let text = CSVExport.text(try record(ids: ids), wide: false)
        let rows = Self.parse(text)
        XCTAssertEqual(rows.count, 1 + 3 * ids.count)
        XCTAssertTrue(rows.allSatisfy { $0.count == 25 }, "every row keeps its 25 fields")
        XCTAssertEqual(Set(rows.dropFirst().map { $0[0] }), Set(ids))
        XCTAssertTrue(text.contains("\"say \"\"hi\"\"\",0,"), text)
        XCTAssertTrue(text.contains("\nplain,0,"), "plain fields stay unquoted")
        let wide = Self.parse(CSVExport.text(try record(ids: ids), wide: true))
        XCTAssertTrue(wide[0].contains("w8,active:loss") && wide[0].contains("say \"hi\":loss"), "\(wide[0])")
        XCTAssertTrue(wide.allSatisfy { $0.count == 1 + 23 * ids.count })
    }

    func testASpectrumWithoutAStepLineGetsItsOwnRowInStepOrder() throws {
        var record = try record(ids: ["m"])
        let h = SpectrumHistogram(eigenvalues: [1], weights: [1], lambdaEff: 1)
        record.spectra["m"]!.insert(SpectrumSample(step: 1, eigenvalues: [1], weights: [1], chiPosExact: 0.1, lambdaEff: 1, rEff: 1, effectiveRank: 1, histogram: h), at: 0)
        record.steps["m"]!.remove(at: 1)  // no step line at step 1
        let rows = Self.parse(CSVExport.text(record, wide: false))
        XCTAssertEqual(rows.dropFirst().map { $0[1] }, ["0", "1", "2"])
        XCTAssertEqual(rows[2][2...3], ["", ""], "no metrics at step 1")
        XCTAssertEqual(rows[2][11], "1")
    }

    func testChunkedWritingGivesTheSameText() throws {
        let record = try record(ids: ["a", "b", "c"])
        var chunks: [String] = []
        CSVExport.write(record, wide: false, chunkBytes: 64) { chunks.append($0) }
        XCTAssertGreaterThan(chunks.count, 3)
        XCTAssertEqual(chunks.joined(), CSVExport.text(record, wide: false))
    }

    /// A step line with rows and a cross measurement: n, the normalised
    /// factors and the cross columns, raw and normalised with √(|A||B|).
    func testTheCrossMeasurementAndTheNormalisedFactorsAreExported() throws {
        let text = """
        {"type":"run","version":1,"models":[{"id":"m"}]}
        {"type":"step","model":"m","step":3,"loss":1,"chi_loss":0.5,"chi_net":100,"chi_pos":0.25,"grad_sq":12.5,"wall":1,"rows":4,"chi_loss_normalized":2,"chi_net_normalized":25,"cross_loss":1.5,"cross_grad_dot":-2,"cross_chi_loss":0.25,"cross_chi_net":80,"cross_chi_pos":-0.1,"cross_rows":16,"cross_chi_loss_normalized":2,"cross_chi_net_normalized":10}

        """
        let rows = Self.parse(CSVExport.text(try RunRecord.parse(Data(text.utf8), file: "c.jsonl"), wide: false))
        let cells = Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1]))
        XCTAssertEqual(cells["rows"], "4")
        XCTAssertEqual(cells["chi_loss_normalized"], "2")      // 4 · 0.5
        XCTAssertEqual(cells["chi_net_normalized"], "25")      // 100 / 4
        XCTAssertEqual(cells["cross_chi_pos"], "-0.1")
        XCTAssertEqual(cells["cross_grad_dot"], "-2")
        XCTAssertEqual(cells["cross_loss"], "1.5")
        XCTAssertEqual(cells["cross_rows"], "16")
        XCTAssertEqual(cells["cross_chi_loss_normalized"], "2")  // √(4·16) · 0.25
        XCTAssertEqual(cells["cross_chi_net_normalized"], "10")  // 80 / √(4·16)
    }

    /// `--spectra`: from the rows alone a notebook rebuilds every histogram
    /// (edges, counts and their uncertainty, residual weights, the ≈0 bin,
    /// λ_eff's bin) and the listed modes, exact and matrix-free alike.
    func testTheSpectraCSVRebuildsEveryHistogramAndItsModes() throws {
        let estimatedHistogram = SpectrumHistogram(log10Edges: [-2, -1, 0.5], counts: [70, 9], residualWeights: [0.25, 0.5],
                                                   nearZeroCount: 1, nearZeroWeight: 0.125, markerBin: 1, countUncertainty: [4.5, 1.25])
        let estimate = SpectrumSample(step: 7, eigenvalues: [1, 0.5], weights: [0.375, 0.125], chiPosExact: 0.25, lambdaEff: 0.5,
                                      rEff: 0.0625, effectiveRank: 12.5, histogram: estimatedHistogram, method: .lanczos, modeCount: 80,
                                      rEffUncertainty: 0.015625, restWeight: 0.5)
        let exactHistogram = SpectrumHistogram(eigenvalues: [4, 1, 0.3, 1e-14], weights: [0.5, 0.25, 0.125, 0.125], lambdaEff: 2.2875)
        let exact = SpectrumSample(step: 2, eigenvalues: [4, 1, 0.3, 1e-14], weights: [0.5, 0.25, 0.125, 0.125], chiPosExact: 0.43,
                                   lambdaEff: 2.2875, rEff: 0.25, effectiveRank: 2.1, histogram: exactHistogram)
        let lines = [#"{"type":"run","version":1,"models":[{"id":"=w8"},{"id":"b"}]}"#,
                     RecordLines.encode(.spectrum(model: "=w8", exact)), RecordLines.encode(.spectrum(model: "=w8", estimate)),
                     RecordLines.encode(.spectrum(model: "b", exact))]
        let record = try RunRecord.parse(Data((lines.joined(separator: "\n") + "\n").utf8), file: "s.jsonl")
        let rows = Self.parse(SpectraExport.text(record))
        XCTAssertEqual(rows[0], SpectraExport.columns)
        let table = rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
        XCTAssertEqual(Set(table.map { $0["model"]! }), ["'=w8", "b"], "a formula-like id is made inert")
        for (model, spectrum) in [("'=w8", exact), ("'=w8", estimate), ("b", exact)] {
            let mine = table.filter { $0["model"] == model && $0["step"] == String(spectrum.step) }
            let bins = mine.filter { $0["kind"] == "bin" }
            let h = spectrum.histogram
            XCTAssertEqual(bins.map { Int($0["value"]!)! }, h.counts)
            XCTAssertEqual(bins.map { Double($0["weight"]!)! }, h.residualWeights)
            XCTAssertEqual(bins.map { Double($0["log10_low"]!)! } + [Double(bins.last!["log10_high"]!)!], h.log10Edges)
            XCTAssertEqual(bins.firstIndex { $0["marker"] == "1" }, h.markerBin)
            XCTAssertEqual(bins.compactMap { Double($0["uncertainty"]!) }, h.countUncertainty)
            let nearZero = try XCTUnwrap(mine.first { $0["kind"] == "near_zero" })
            XCTAssertEqual(Int(nearZero["value"]!), h.nearZeroCount)
            XCTAssertEqual(Double(nearZero["weight"]!), h.nearZeroWeight)
            let modes = mine.filter { $0["kind"] == "mode" }
            XCTAssertEqual(modes.map { Double($0["value"]!)! }, spectrum.eigenvalues)
            XCTAssertEqual(modes.map { Double($0["weight"]!)! }, spectrum.weights)
            XCTAssertEqual(modes.map { Int($0["index"]!)! }, Array(1...spectrum.eigenvalues.count))
            XCTAssertTrue(mine.allSatisfy { $0["method"] == spectrum.method.rawValue && $0["mode_count"] == String(spectrum.modeCount) })
            XCTAssertTrue(mine.allSatisfy { Double($0["lambda_eff"]!) == spectrum.lambdaEff && Double($0["rest_weight"]!) == spectrum.restWeight })
        }
        XCTAssertEqual(SpectraExport.count(record), 3)
    }
}
