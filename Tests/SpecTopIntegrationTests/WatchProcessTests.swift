import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

/// `spectop watch`'s source against a separate writer process that appends at
/// a set pace — a line split across two writes, then a burst of 10,000 lines —
/// read by the real poll thread: every line once, in order, and the snapshot
/// ends at the writer's last line.
final class WatchProcessTests: XCTestCase {
    func testAPacedWriterWithASplitLineAndABurstIsReadExactlyOnceInOrder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spectop-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = directory.appendingPathComponent("run.jsonl").path

        // The writer's pieces, each appended by one `cat`, with sleeps between.
        func line(_ step: Int) -> String {
            RecordLines.encode(.metrics(model: "m", MetricSample(step: step, loss: 1 / Double(step), chiLoss: 0.5, chiNet: 10 + Double(step),
                                                                  chiPos: 0.1, gradSq: 0.2, wall: Double(step) / 1000))) + "\n"
        }
        var pieces = ["{\"type\":\"run\",\"version\":1,\"models\":[{\"id\":\"m\",\"width\":8,\"depth\":1,\"params\":9,\"trainable\":\"all\"}]}\n"]
        var step = 0
        for _ in 0..<40 {  // a steady pace: two lines every 20 ms
            pieces.append(line(step + 1) + line(step + 2))
            step += 2
        }
        step += 1
        let split = line(step)
        let cut = split.index(split.startIndex, offsetBy: 25)
        pieces.append(String(split[..<cut]))
        pieces.append(String(split[cut...]))
        pieces.append((step + 1...step + 10_000).map(line).joined())
        step += 10_000
        var script = ": > '\(record)'\n"
        for (index, piece) in pieces.enumerated() {
            let file = directory.appendingPathComponent("piece\(index)").path
            try Data(piece.utf8).write(to: URL(fileURLWithPath: file))
            script += "cat '\(file)' >> '\(record)'; sleep 0.02\n"
        }
        try Data(script.utf8).write(to: directory.appendingPathComponent("writer.sh"))

        let source = WatchSource(targets: [.file(record)], options: .init(poll: 0.05, historyCapacity: 1 << 20))
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = [directory.appendingPathComponent("writer.sh").path]
        try writer.run()
        source.start()
        defer { source.perform(.quit) }
        let done = BackgroundSpectop.wait(timeout: 30) { !writer.isRunning && source.snapshot().models.first?.step == step }
        writer.waitUntilExit()
        XCTAssertEqual(writer.terminationStatus, 0)
        XCTAssertTrue(done, "the watcher reached the writer's last step (at \(source.snapshot().models.first?.step ?? -1) of \(step))")
        let model = try XCTUnwrap(source.snapshot().models.first)
        XCTAssertEqual(model.history.steps, Array(1...step), "every line exactly once, in order")
        XCTAssertEqual(model.latest?.loss, 1 / Double(step))
        XCTAssertEqual(model.latest?.chiNet, 10 + Double(step))
        XCTAssertNil(source.statusMessage(), "no junk: the split line was joined, not counted")
    }
}
