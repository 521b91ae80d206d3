import XCTest
import Foundation
@testable import SpecTopReaders
@testable import SpecTopUI
import SpecTopRecord

/// Structure-aware mutations of a real-shaped record through every reader and
/// every view: each numeric field (top level, inside arrays, inside a
/// matrix-free spectrum's `density`) set to values that break conversions and
/// drawing (±2⁶³, ±1.7e308, overflow to ±inf, subnormals, huge and negative
/// counts), lines duplicated, reordered and dropped. Nothing may crash; a
/// record that cannot be read says why.
///
/// These are the shapes a held-out battery of 17,000 mutations found crashes
/// with: `marker_bin` = 1e19 (`Int(_:)` before the range check), metric
/// values of both signs near ±1.7e308 on a linear scale (span = inf in the
/// sparkline), step walls spanning ±1.7e308 with an event mark in the
/// compare view's wall-time axis.
final class RecordMutationTests: XCTestCase {
    /// Values that overflow `Int`, overflow a difference, or are not finite.
    static let hostile = ["1e19", "-1e19", "9.3e18", "1.7e308", "-1.7e308", "1e999", "-1e999",
                          "4.9e-324", "-0", "0", "1e15", "0.5", "-1", "1e-300"]
    /// The ones each field takes alone: past Int, past a span, past Double, below zero.
    static let hostileAlone: Set<String> = ["1e19", "-1.7e308", "1e999"]

    /// A record shaped like the engine's: three sizes active and frozen,
    /// steps, exact and matrix-free spectra, every event kind and an end.
    static let seed: [String] = {
        var lines = [#"{"type":"run","version":1,"seed":3,"preset":"t","tool":"spectop 0","blas":"Haswell","data":{"name":"teacher"},"models":["#
            + [(4, "all"), (4, "readout"), (8, "all"), (8, "readout"), (16, "all")].map { width, trainable in
                #"{"id":"w\#(width)-\#(trainable)","width":\#(width),"depth":2,"params":\#(width * 20),"trainable_params":\#(trainable == "all" ? width * 20 : width + 1),"steps":40,"batch":16,"trainable":"\#(trainable)","mode":"\#(trainable == "all" ? "active" : "frozen")"}"#
            }.joined(separator: ",") + "]}"]
        let ids = ["w4-all", "w4-readout", "w8-all", "w8-readout", "w16-all"]
        for step in stride(from: 0, through: 40, by: 10) {
            for (index, id) in ids.enumerated() {
                let loss = 1 / Double(step + 1 + index)
                lines.append(#"{"type":"step","model":"\#(id)","step":\#(step),"loss":\#(loss),"chi_loss":\#(loss * 2),"chi_net":\#(100 + step),"chi_pos":\#(0.3 / Double(step + 1)),"grad_sq":\#(loss),"wall":\#(Double(step) * 0.1),"chi_net_estimate":false,"layer_chi_net":[40,60],"layer_grad_sq":[0.25,0.75]}"#)
            }
            if step % 20 == 0 {
                lines.append(#"{"type":"spectrum","model":"w4-all","step":\#(step),"eigenvalues":[4,1,0.5,1e-9],"weights":[0.5,0.3,0.1,0.1],"chi_pos_exact":0.4,"lambda_eff":2.1,"r_eff":0.3,"effective_rank":2.2}"#)
                lines.append(#"{"type":"spectrum","model":"w16-all","step":\#(step),"method":"lanczos","eigenvalues":[9,3],"weights":[0.4,0.2],"chi_pos_exact":0.3,"lambda_eff":1.5,"r_eff":0.2,"r_eff_uncertainty":0.01,"effective_rank":30,"mode_count":320,"rest_weight":0.4,"density":{"log10_edges":[-3,-2,-1,0,1],"counts":[100,120,60,38],"counts_uncertainty":[5,6,4,2],"residual_weights":[0.05,0.1,0.15,0.1],"near_zero_count":2,"near_zero_weight":0.01,"marker_bin":2}}"#)
            }
        }
        lines.insert(#"{"type":"event","event":"spectrum","model":"w8-all","wall":0,"detail":"m = 9000 exceeds spectrum_max_seconds"}"#, at: 2)
        lines.append(#"{"type":"event","event":"pause","wall":1.2}"#)
        lines.append(#"{"type":"event","event":"resume","wall":1.5}"#)
        lines.append(#"{"type":"event","event":"freeze","model":"w8-all","step":20,"wall":2.1}"#)
        lines.append(#"{"type":"event","event":"export","step":25,"wall":2.6,"detail":"dump/step-000025"}"#)
        lines.append(#"{"type":"event","event":"speed","wall":3,"detail":"2x"}"#)
        lines.append(#"{"type":"event","event":"diverged","model":"w4-readout","step":35,"wall":3.5,"detail":"loss is inf"}"#)
        lines.append(#"{"type":"end","reason":"steps","wall":4.2}"#)
        return lines
    }()

    /// Every `"key":number` of a line (and each element of a numeric array)
    /// as the range of its number's text.
    static func numberRanges(_ line: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var index = line.startIndex
        var inString = false
        while index < line.endIndex {
            let character = line[index]
            if character == "\"" { inString.toggle(); index = line.index(after: index); continue }
            if inString {
                if character == "\\" { index = line.index(after: index) }
                index = line.index(after: index)
                continue
            }
            if character == "-" || character.isNumber {
                let start = index
                while index < line.endIndex, "+-.eE0123456789".contains(line[index]) { index = line.index(after: index) }
                ranges.append(start..<index)
                continue
            }
            index = line.index(after: index)
        }
        return ranges
    }

    /// Reads `text` the way every command does and draws it the way every view does.
    func exercise(_ text: String, context: String, drawing: Bool = true) {
        let data = Data(text.utf8)
        let record: RunRecord
        do {
            record = try RunRecord.parse(data, file: "mutant.jsonl")
        } catch {
            XCTAssertFalse("\(error)".isEmpty, context)
            return
        }
        // claims and export
        let report = ClaimsEvaluator.evaluate(record)
        _ = ClaimsEvaluator.render(report, record: record)
        _ = ClaimsEvaluator.json(report, record: record)
        _ = CSVExport.text(record, wide: false)
        _ = CSVExport.text(record, wide: true)
        // replay at its start, middle and end, in every view and axis
        let replay = ReplaySource(record: record)
        replay.perform(.togglePause)
        let info = MonitorInfo(preset: record.preset ?? "replay", dataset: record.dataName ?? "?", blasCore: record.blas ?? "?")
        replay.perform(.scrub(by: 50))
        _ = replay.snapshot()
        replay.perform(.jumpToEnd)
        if drawing { draw(replay.snapshot(), info: info, mode: .replay) }
        _ = replay.statusMessage()
        // watch: the same lines through the follower's reducer
        if drawing, let header = try? RecordHeader.decode(Data(text.split(separator: "\n", omittingEmptySubsequences: false)[0].utf8), file: "mutant.jsonl") {
            var live = LiveRun(header: header, historyCapacity: 64)
            for line in text.split(separator: "\n").dropFirst() {
                if let decoded = RecordLine.decode(Data(line.utf8)) { live.apply(decoded) }
            }
            var snapshot = EngineSnapshot(state: .running, models: live.modelSnapshots(run: "mutant", prefixingIDs: true), elapsed: 1, stepsPerSecond: 1)
            snapshot.marks = live.marks(run: "mutant", prefixingIDs: true)
            draw(snapshot, info: info, mode: .watch)
        }
    }

    /// Every view once, the compare view on its wall-time axis with linear
    /// scales and the value cursor on (the paths where spans overflow).
    func draw(_ snapshot: EngineSnapshot, info: MonitorInfo, mode: MonitorMode) {
        var states: [MonitorState] = []
        for view in [ViewKind.grid, .compare, .scaling, .spectrum] {
            var state = MonitorState(view: view, selectedModelID: snapshot.models.first?.id, mode: mode)
            if view != .spectrum { state.yScales = [.loss: .linear, .chiNet: .linear, .chiPos: .linear] }
            if view == .compare {
                state.xAxis = .wall
                state.cursor = 0.5
                states.append(state)
                state.xAxis = .compute
                state.yScales = [:]
            }
            states.append(state)
        }
        for state in states {
            _ = FrameRenderer.render(snapshot, info: info, state: state, width: 140, height: 44)
        }
    }

    /// One line of each shape (the header, a step line of an active and a
    /// frozen model, an exact and a matrix-free spectrum, every event, the
    /// end): each of its numbers alone set to the values that overflow `Int`,
    /// a span and `Double`, through every reader; and all of its
    /// numbers at once set to each hostile value, through every view too.
    func testEveryNumberOfEveryLineShapeTakesHostileValues() {
        let seed = Self.seed
        var shapes: [String: Int] = [:]
        for (index, line) in seed.enumerated() {
            let type = line.firstMatch(of: /"type":"([a-z]+)"/)?.1 ?? ""
            let kind = line.firstMatch(of: /"(event|method)":"([a-z]+)"/)?.2 ?? ""
            let frozen = line.contains("readout\"") ? "frozen" : ""
            let key = "\(type)/\(kind)/\(frozen)"
            // The middle occurrence of each shape, so history lies on both sides.
            if shapes[key] == nil || line.contains(#""step":20,"#) { shapes[key] = index }
        }
        for lineIndex in Set(shapes.values).sorted() {
            let line = seed[lineIndex]
            // The header's version stays valid when all numbers change: else nothing past it is read.
            let ranges = Self.numberRanges(line).filter { !line[..<$0.lowerBound].hasSuffix(#""version":"#) }
            for value in Self.hostile {
                var lines = seed
                for range in ranges where Self.hostileAlone.contains(value) {
                    var mutated = line
                    mutated.replaceSubrange(range, with: value)
                    lines[lineIndex] = mutated
                    exercise(lines.joined(separator: "\n") + "\n", context: "line \(lineIndex + 1): \(mutated)", drawing: false)
                }
                var all = line
                for range in ranges.reversed() { all.replaceSubrange(range, with: value) }
                lines[lineIndex] = all
                exercise(lines.joined(separator: "\n") + "\n", context: "line \(lineIndex + 1): \(all)")
            }
        }
    }

    /// Walls and metric values spanning ±1.7e308 at once, as a diverging or
    /// hostile writer could leave them, with marks on the wall axis.
    func testValuesSpanningTheWholeDoubleRangeAtOnce() {
        var lines = Self.seed
        var flip = false
        for index in lines.indices where lines[index].contains(#""type":"step""#) || lines[index].contains(#""type":"event""#) {
            flip.toggle()
            let big = flip ? "1.7e308" : "-1.7e308"
            for key in ["wall", "loss", "chi_net", "chi_pos", "chi_loss", "grad_sq"] {
                lines[index] = lines[index].replacingOccurrences(
                    of: #""\#(key)":[-0-9.e]+"#, with: #""\#(key)":\#(big)"#, options: .regularExpression)
            }
        }
        exercise(lines.joined(separator: "\n") + "\n", context: "whole range")
    }

    func testRandomStructuralMutationsNeverCrash() {
        let environment = ProcessInfo.processInfo.environment
        var rng = MutationRandom(seed: UInt64(environment["SPECTOP_FUZZ_SEED"] ?? "") ?? 2028)
        let iterations = Int(environment["SPECTOP_FUZZ_ITERATIONS"] ?? "") ?? 60
        for _ in 0..<iterations {
            var lines = Self.seed
            for _ in 0..<(1 + rng.index(below: 4)) {
                let index = 1 + rng.index(below: lines.count - 1)
                switch rng.index(below: 5) {
                case 0: lines.insert(lines[index], at: rng.index(below: lines.count))        // duplicate
                case 1: lines.swapAt(index, 1 + rng.index(below: lines.count - 1))            // reorder
                case 2: lines.remove(at: index)                                               // drop
                case 3:                                                                       // a number
                    let ranges = Self.numberRanges(lines[index])
                    if !ranges.isEmpty {
                        lines[index].replaceSubrange(ranges[rng.index(below: ranges.count)],
                                                     with: Self.hostile[rng.index(below: Self.hostile.count)])
                    }
                default:                                                                      // cut a line short
                    let line = lines[index]
                    lines[index] = String(line.prefix(rng.index(below: line.count)))
                }
            }
            exercise(lines.joined(separator: "\n") + "\n", context: "random")
        }
    }
}

/// splitmix64: the mutations are the same on every run and machine.
struct MutationRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func index(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
