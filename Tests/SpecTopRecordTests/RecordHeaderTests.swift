import Foundation
import SpecTopRecord
import XCTest

/// The run line is written and read in one place: what one side writes, the
/// other reads back field for field.
final class RecordHeaderTests: XCTestCase {
    func testEveryFieldRoundTrips() throws {
        var header = RecordHeader(version: 1, name: "sweep-3")
        header.toolVersion = "spectop 0.1.0"
        header.seed = UInt64(Int64.max)
        header.preset = "reach"
        header.config = "name = \"reach\"\n# a \"quoted\" comment\n"
        header.data = .init(name: "teacher", train: 4096, probe: 256, inputDim: 16, outputs: 1, loss: "mse")
        var active = RunRecord.ModelInfo(id: "w8-active", width: 8, depth: 2, parameterCount: 217, stepBudget: 3000, trainable: "all", mode: .active)
        active.batchSize = 64
        active.parameterization = "mup"
        active.activation = "tanh"
        active.outputScale = 0.5
        active.learningRate = 3.25e-4
        var frozen = RunRecord.ModelInfo(id: "w8-frozen", width: 8, depth: 2, parameterCount: 217, trainableParameterCount: 9,
                                         stepBudget: 3000, trainable: "readout", mode: .frozen)
        frozen.batchSize = 64
        header.models = [active, frozen]
        header.blas = "Haswell"
        header.workers = 2
        header.started = "2026-12-07T01:00:00Z"
        let line = header.encode()
        XCTAssertTrue(line.hasPrefix(#"{"type":"run","version":1,"name":"sweep-3","tool":"spectop 0.1.0","seed":9223372036854775807,"#), line)
        XCTAssertEqual(try RecordHeader.decode(Data(line.utf8), file: "h.jsonl"), header)
        XCTAssertTrue(RecordValidator.validate(Data((line + "\n").utf8)).isEmpty, "the written header follows the specification")
    }

    func testAMinimalHeaderFromAnotherWriterReadsWithDefaults() throws {
        let header = try RecordHeader.decode(Data(#"{"type":"run","version":1,"models":[{"id":"m","trainable":"readout"}]}"#.utf8), file: "m.jsonl")
        XCTAssertNil(header.data)
        XCTAssertNil(header.dataName)
        XCTAssertEqual(header.models.first?.mode, .frozen, "a readout-only model without a mode is frozen")
        XCTAssertEqual(header.models.first?.parameterCount, 0)
    }
}
