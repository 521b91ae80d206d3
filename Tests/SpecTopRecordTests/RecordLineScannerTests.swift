import XCTest
import Foundation
import SpecTopRecord

/// The hand-written record-line reader against Foundation's `JSONDecoder`
/// (exact, but about 20× slower) on thousands of random lines: every field
/// type, escapes, surrogate pairs, nested unknown fields, wrong types, nulls,
/// odd whitespace and number forms — and every line cut short, which both must
/// reject.
final class RecordLineScannerTests: XCTestCase {
    /// The reference: the same lenient schema through `JSONDecoder`.
    struct Reference: Decodable {
        var line: RecordLine = .ignored

        enum Key: String, CodingKey {
            case type, model, step, loss, chi_loss, chi_net, chi_pos, grad_sq, wall, chi_net_estimate, chi_net_stderr
            case layer_chi_net, layer_grad_sq, eigenvalues, weights, chi_pos_exact, lambda_eff, r_eff, effective_rank
            case event, detail, reason
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            func number(_ key: Key) -> Double? { (try? c.decodeIfPresent(Double.self, forKey: key)) ?? nil }
            func text(_ key: Key) -> String? { (try? c.decodeIfPresent(String.self, forKey: key)) ?? nil }
            func array(_ key: Key) -> [Double]? {
                guard c.contains(key) else { return nil }
                if let values = try? c.decode([Double].self, forKey: key) { return values }
                return (try? c.decode([Double?].self, forKey: key))?.compactMap { $0 }
            }
            let step = number(.step).flatMap { $0 == $0.rounded() && abs($0) < 1e15 ? Int($0) : nil }
            let model = text(.model)
            switch text(.type) {
            case "step":
                guard let model, let step else { return }
                line = .step(model: model, MetricSample(
                    step: step, loss: number(.loss) ?? .nan, chiLoss: number(.chi_loss) ?? .nan, chiNet: number(.chi_net) ?? .nan,
                    chiPos: number(.chi_pos), gradSq: number(.grad_sq) ?? .nan, wall: number(.wall) ?? 0,
                    traceIsEstimate: ((try? c.decodeIfPresent(Bool.self, forKey: .chi_net_estimate)) ?? nil) ?? false,
                    chiNetStandardError: number(.chi_net_stderr),
                    layerChiNet: array(.layer_chi_net) ?? [], layerGradSq: array(.layer_grad_sq) ?? []))
            case "spectrum":
                guard let model, let step else { return }
                let eigenvalues = array(.eigenvalues) ?? [], weights = array(.weights) ?? []
                line = .spectrum(model: model, SpectrumSample(
                    step: step, eigenvalues: eigenvalues, weights: weights, chiPosExact: number(.chi_pos_exact),
                    lambdaEff: number(.lambda_eff), rEff: number(.r_eff),
                    effectiveRank: number(.effective_rank) ?? SpectrumSample.effectiveRank(eigenvalues),
                    histogram: SpectrumHistogram(eigenvalues: eigenvalues, weights: weights, lambdaEff: number(.lambda_eff))))
            case "event":
                line = .event(RunRecord.Event(kind: RecordEventKind(text(.event) ?? "event"), model: model, step: step, wall: number(.wall) ?? 0,
                                              detail: text(.detail)))
            case "end":
                line = .end(reason: text(.reason), wall: number(.wall), detail: text(.detail))
            default:
                return
            }
        }

        static func decode(_ data: Data) -> RecordLine? {
            (try? JSONDecoder().decode(Reference.self, from: data))?.line
        }
    }

    private func numberText(_ generator: inout SystemRandomNumberGenerator) -> String {
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: return String(Int.random(in: -1_000_000...1_000_000, using: &generator))
        case 1: return "\(Double.random(in: -1...1, using: &generator) * pow(10, Double(Int.random(in: -300...300, using: &generator))))"
        case 2: return "\(Double(bitPattern: UInt64.random(in: 0...0x7FEF_FFFF_FFFF_FFFF, using: &generator)))"
        case 3: return ["1.5E+3", "-0", "0.0001e-2", "2e0", "-12.75e-7", "0.1", "1E2"][Int.random(in: 0..<7, using: &generator)]
        case 4: return "\(Double.random(in: 0...1, using: &generator))"
        default: return "\(Float.random(in: -10...10, using: &generator))"
        }
    }

    private func stringText(_ generator: inout SystemRandomNumberGenerator) -> String {
        let pieces = ["w256-active", "gpt/neo", "caf\\u00e9", "\\ud83d\\ude00", "tab\\tnew\\nline", "quote\\\"s", "back\\\\slash",
                      "sl\\/ash", "μ-p", "日本", "", " spaced "]
        return "\"" + (0..<Int.random(in: 1...3, using: &generator)).map { _ in pieces[Int.random(in: 0..<pieces.count, using: &generator)] }.joined() + "\""
    }

    private func randomLine(_ generator: inout SystemRandomNumberGenerator) -> String {
        let types = ["\"step\"", "\"spectrum\"", "\"event\"", "\"end\"", "\"future\"", "3", "null"]
        var fields = ["\"type\":" + types[Int.random(in: 0..<types.count, using: &generator)]]
        // Each key at most once: JSON leaves duplicate names undefined (the writer never repeats one).
        let numberKeys = ["loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "wall", "chi_net_stderr", "chi_pos_exact",
                          "lambda_eff", "r_eff", "effective_rank"]
        let arrayKeys = ["layer_chi_net", "layer_grad_sq", "eigenvalues", "weights"]
        let textKeys = ["event", "detail", "reason"]
        if Int.random(in: 0..<4, using: &generator) > 0 {
            fields.append("\"model\":" + (Int.random(in: 0..<8, using: &generator) == 0 ? "7" : stringText(&generator)))
        }
        switch Int.random(in: 0..<8, using: &generator) {
        case 0: break
        case 1: fields.append("\"step\":" + numberText(&generator))
        case 2: fields.append("\"step\":" + (Bool.random(using: &generator) ? "null" : "\"12\""))
        default: fields.append("\"step\":\(Int.random(in: 0...100_000, using: &generator))")
        }
        for key in numberKeys where Int.random(in: 0..<3, using: &generator) == 0 {
            let value = Int.random(in: 0..<8, using: &generator)
            fields.append("\"\(key)\":" + (value == 0 ? "null" : value == 1 ? "\"text\"" : value == 2 ? "true" : numberText(&generator)))
        }
        for key in arrayKeys where Int.random(in: 0..<3, using: &generator) == 0 {
            var elements = (0..<Int.random(in: 0...6, using: &generator)).map { _ in numberText(&generator) }
            if Int.random(in: 0..<5, using: &generator) == 0 { elements.append("null") }
            if Int.random(in: 0..<8, using: &generator) == 0 { elements.append("\"x\"") }
            fields.append("\"\(key)\":[" + elements.joined(separator: ", ") + "]")
        }
        for key in textKeys where Int.random(in: 0..<3, using: &generator) == 0 {
            fields.append("\"\(key)\":" + (Int.random(in: 0..<6, using: &generator) == 0 ? "7" : stringText(&generator)))
        }
        if Bool.random(using: &generator) { fields.append("\"chi_net_estimate\":" + (Bool.random(using: &generator) ? "true" : "false")) }
        if Int.random(in: 0..<3, using: &generator) == 0 {
            fields.append("\"extra\":{\"nested\":[1,{\"a\":[true,false,null]},\"s\"],\"more\":-2.5e-3}")
        }
        fields.shuffle(using: &generator)
        let separator = Int.random(in: 0..<4, using: &generator) == 0 ? " ,\t" : ","
        return (Bool.random(using: &generator) ? " {" : "{") + fields.joined(separator: separator) + (Bool.random(using: &generator) ? "} " : "}")
    }

    func testTheScannerReadsWhatJSONDecoderReads() {
        var generator = SystemRandomNumberGenerator()
        var compared = 0, nonIgnored = 0
        for _ in 0..<4_000 {
            let text = randomLine(&generator)
            let data = Data(text.utf8)
            let expected = Reference.decode(data)
            let got = RecordLine.decode(data)
            XCTAssertNotNil(expected, "the generator writes valid JSON: \(text)")
            // NaN stands for absent numbers: compare the printed forms.
            XCTAssertEqual(got.map { String(reflecting: $0) }, expected.map { String(reflecting: $0) }, text)
            if let expected, expected != .ignored { nonIgnored += 1 }
            compared += 1
            // Every cut-short line is no JSON object, for both.
            let cut = Int.random(in: 0..<data.count, using: &generator)
            let truncated = data.prefix(cut)
            if Reference.decode(truncated) == nil {
                XCTAssertNil(RecordLine.decode(truncated), "cut at \(cut): \(String(decoding: truncated, as: UTF8.self))")
            }
        }
        XCTAssertGreaterThan(nonIgnored, compared / 4, "the generator exercises the real line types")
    }

    func testJunkIsRejected() {
        for junk in ["", "not json", "[1,2]", "\"step\"", "{", "{\"type\":\"step\"", "{\"type\":\"step\",}", "{\"a\":1}x", "{\"a\":01}",
                     "{\"a\":1.}", "{\"a\":.5}", "{\"a\":tru}", "{\"a\":\"\u{01}\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud83d\"}",
                     "{'type':'step'}", "{\"a\":[1,2}", String(repeating: "[", count: 10_000), "{\"a\":" + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}"] {
            XCTAssertNil(RecordLine.decode(Data(junk.utf8)), junk.prefix(60).description)
        }
        XCTAssertEqual(RecordLine.decode(Data("{}".utf8)), .ignored)
        XCTAssertEqual(RecordLine.decode(Data("{\"type\":\"step\",\"model\":\"m\",\"step\":2.0,\"loss\":0.1}".utf8)).map { String(reflecting: $0) },
                       Reference.decode(Data("{\"type\":\"step\",\"model\":\"m\",\"step\":2,\"loss\":0.1}".utf8)).map { String(reflecting: $0) })
    }

    func testNumbersReadBackExactly() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let value = Double(bitPattern: UInt64.random(in: 0...0x7FEF_FFFF_FFFF_FFFF, using: &generator)) * (Bool.random(using: &generator) ? 1 : -1)
            let line = RecordLines.encode(.metrics(model: "m", MetricSample(step: 1, loss: value, chiLoss: 0, chiNet: 0, chiPos: nil, gradSq: 0, wall: 0)))
            guard case .step(_, let sample)? = RecordLine.decode(Data(line.utf8)) else { return XCTFail(line) }
            XCTAssertEqual(sample.loss.bitPattern, value.bitPattern, line)
        }
    }
}
