import SpecTopUI
import SpecTopRecord
import Synchronization
import XCTest

/// The filler that tests prefill buffers with, so an undrawn cell shows.
let filler: Unicode.Scalar = "~"

/// The filler cell: `filler` in a role and attribute no view draws text
/// with, so a drawn "~" (an estimate mark, "loss ~ params^k") is no false alarm.
let fillerCell = Cell(filler, role: .background, attributes: [.underline])

/// A buffer prefilled with `fillerCell`.
func filledBuffer(width: Int, height: Int, asciiOnly: Bool = false) -> CellBuffer {
    CellBuffer(width: width, height: height, filler: fillerCell, asciiOnly: asciiOnly)
}

/// The cells of `buffer` still holding the filler.
func undrawnCells(_ buffer: CellBuffer) -> Int {
    var count = 0
    for y in 0..<buffer.height { for x in 0..<buffer.width where buffer[x, y] == fillerCell { count += 1 } }
    return count
}

/// Compares the whole screen as text, printing both on failure.
func assertScreen(_ buffer: CellBuffer, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
    let actual = buffer.lines
    guard actual != expected else { return }
    let message = "screen differs\n--- actual\n" + actual.joined(separator: "\n") + "\n--- expected\n" + expected.joined(separator: "\n")
    XCTFail(message, file: file, line: line)
}

/// True when `text` appears somewhere on the screen.
func assertScreenContains(_ buffer: CellBuffer, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
    if !buffer.lines.contains(where: { $0.contains(text) }) {
        XCTFail("\"\(text)\" not on screen:\n" + buffer.text, file: file, line: line)
    }
}

/// A model with `points` history samples and a spectrum.
func makeModel(width: Int, mode: TrainingMode, points: Int = 60, status: ModelStatus = .training, id: String? = nil) -> ModelSnapshot {
    var history = MetricHistory(capacity: 128)
    var latest: MetricSample?
    for step in 0..<points {
        let t = Double(step)
        let sample = MetricSample(step: step * 10, loss: 1 / (1 + t) / Double(width).squareRoot(), chiLoss: 1, chiNet: 100 + t,
                                  chiPos: step < 3 ? nil : 0.3 / (1 + t), gradSq: 1, wall: t)
        history.append(sample)
        latest = sample
    }
    let histogram = SpectrumHistogram(log10Edges: (0...12).map { -4 + 0.5 * Double($0) }, counts: [1, 2, 4, 8, 12, 9, 6, 3, 2, 1, 1, 1],
                                      residualWeights: [0, 0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.2, 0.05, 0.02, 0.01],
                                      nearZeroCount: 3, nearZeroWeight: 0.04, markerBin: 7)
    let spectrum = SpectrumSample(step: points * 10, eigenvalues: Array(repeating: 1, count: 53), weights: [], chiPosExact: 0.01,
                                  lambdaEff: 1.5, rEff: 0.2, effectiveRank: 12.5, histogram: histogram)
    let layers = (0..<3).map { LayerShare(layer: $0, chiNetShare: [0.2, 0.3, 0.5][$0], gradientShare: [0.1, 0.4, 0.5][$0], chiNet: 1, gradSq: 1) }
    return ModelSnapshot(id: id ?? "w\(width) \(mode.rawValue)", width: width, depth: 2, mode: mode, featuresFrozen: mode == .frozen,
                         parameterCount: 10 * width * width, trainableParameterCount: 10 * width, step: points * 10, stepBudget: 1000,
                         status: status, latest: latest, history: history, spectrum: spectrum, layers: layers,
                         minChiPos: 0.005, maxREff: 0.3, amplification: mode == .active ? 1.84 : 1, stepsPerSecond: 100)
}

/// `count` models: sizes 16, 32, … each with an active and a frozen run.
func makeSnapshot(models count: Int) -> EngineSnapshot {
    var models: [ModelSnapshot] = []
    var width = 16
    while models.count < count {
        models.append(makeModel(width: width, mode: .active))
        if models.count < count { models.append(makeModel(width: width, mode: .frozen)) }
        width *= 2
    }
    return EngineSnapshot(state: .running, models: models, elapsed: 125, stepsPerSecond: 1234)
}

let testInfo = MonitorInfo(preset: "tiny", dataset: "digits", blasCore: "OpenBLAS Haswell")

/// Records the commands the monitor sends.
final class RecordingSource: MonitorSource {
    private let state: Mutex<(snapshot: EngineSnapshot, commands: [MonitorCommand], snapshotCalls: Int)>

    init(_ snapshot: EngineSnapshot) {
        state = Mutex((snapshot, [], 0))
    }

    var commands: [MonitorCommand] { state.withLock { $0.commands } }
    var snapshotCalls: Int { state.withLock { $0.snapshotCalls } }

    func replace(_ snapshot: EngineSnapshot) { state.withLock { $0.snapshot = snapshot } }

    func snapshot() -> EngineSnapshot {
        state.withLock { s in
            s.snapshotCalls += 1
            return s.snapshot
        }
    }

    func perform(_ command: MonitorCommand) { state.withLock { $0.commands.append(command) } }
}

/// A seeded SplitMix64 for the UI tests, which do not link the engine's generator.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (bound > 0; the modulo bias is irrelevant here).
    mutating func index(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
