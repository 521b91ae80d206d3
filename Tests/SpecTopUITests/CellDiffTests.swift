@testable import SpecTopUI
import XCTest

/// The frame diff on its own, as ratatui tests its `Buffer::diff`.
final class CellDiffTests: XCTestCase {
    func testIdenticalFramesChangeNothing() {
        var a = CellBuffer(width: 10, height: 3)
        a.put("hello", x: 1, y: 1)
        XCTAssertEqual(CellDiff.runs(from: a, to: a), [])
    }

    func testOneChangedCellIsOneRunAtItsPlace() {
        var a = CellBuffer(width: 10, height: 3)
        a.put("hello", x: 1, y: 1)
        var b = a
        b.put("J", x: 1, y: 1)
        XCTAssertEqual(CellDiff.runs(from: a, to: b), [CellDiff.Run(x: 1, y: 1, cells: [Cell("J")])])
    }

    func testRunsBreakAtUnchangedCellsAndStyleChanges() {
        let a = CellBuffer(width: 8, height: 1)
        var b = a
        b.put("ab", x: 0, y: 0)
        b.put("c", x: 2, y: 0, role: .muted)
        b.put("d", x: 4, y: 0)
        XCTAssertEqual(CellDiff.runs(from: a, to: b), [
            CellDiff.Run(x: 0, y: 0, cells: [Cell("a"), Cell("b")]),
            CellDiff.Run(x: 2, y: 0, cells: [Cell("c", role: .muted)]),
            CellDiff.Run(x: 4, y: 0, cells: [Cell("d")]),
        ])
    }

    func testNoPreviousFrameOrANewSizeRepaintsEveryCell() {
        var next = CellBuffer(width: 6, height: 2)
        next.put("xy", x: 2, y: 1, role: .selection)
        for previous in [nil, CellBuffer(width: 5, height: 2)] {
            let runs = CellDiff.runs(from: previous, to: next)
            XCTAssertEqual(runs.reduce(0) { $0 + $1.cells.count }, 12)
            var blank = CellBuffer(width: 6, height: 2, filler: Cell("~"))
            CellDiff.apply(runs, to: &blank)
            XCTAssertEqual(blank, next)
        }
    }

    /// The property the backend relies on, over random frames: the terminal
    /// (previous + runs) ends up showing exactly the new frame.
    func testApplyingTheRunsToThePreviousFrameGivesTheNextOne() {
        var generator = TestRandom(seed: 7)
        let glyphs: [Unicode.Scalar] = [" ", "a", "b", "█", "▁", "χ"]
        let roles: [ColorRole] = [.text, .muted, .selection, .loss]
        func random(_ buffer: inout CellBuffer, changes: Int) {
            for _ in 0..<changes {
                let x = generator.index(below: buffer.width), y = generator.index(below: buffer.height)
                buffer[x, y] = Cell(glyphs[generator.index(below: glyphs.count)], role: roles[generator.index(below: roles.count)])
            }
        }
        for _ in 0..<200 {
            var previous = CellBuffer(width: 1 + generator.index(below: 40), height: 1 + generator.index(below: 10))
            random(&previous, changes: 50)
            var next = previous
            random(&next, changes: generator.index(below: 30))
            var shown = previous
            let runs = CellDiff.runs(from: previous, to: next)
            CellDiff.apply(runs, to: &shown)
            XCTAssertEqual(shown, next)
            // Only changed cells are written.
            let changed = zip(previous.cells, next.cells).filter { $0 != $1 }.count
            XCTAssertEqual(runs.reduce(0) { $0 + $1.cells.count }, changed)
        }
    }

    func testFrameBuffersSwapWithoutCopyingAndRepaintAfterInvalidate() {
        var frames = FrameBuffers()
        frames.current.reset(width: 4, height: 1)
        frames.current.put("ab", x: 0, y: 0)
        XCTAssertEqual(frames.changes().reduce(0) { $0 + $1.cells.count }, 4, "first frame: everything")
        frames.swap()
        frames.current.reset(width: 4, height: 1)
        frames.current.put("ab", x: 0, y: 0)
        XCTAssertEqual(frames.changes(), [], "same frame again: nothing")
        frames.swap()
        frames.invalidate()
        frames.current.reset(width: 4, height: 1)
        frames.current.put("ab", x: 0, y: 0)
        XCTAssertEqual(frames.changes().reduce(0) { $0 + $1.cells.count }, 4, "after invalidate: everything")
    }
}
