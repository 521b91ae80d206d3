/// What changed between two frames, as runs of cells that share one style:
/// the backend writes exactly these and nothing else. Pure, so it is tested
/// on its own (ratatui's `Buffer::diff` habit): applying the runs of
/// `diff(previous, next)` to `previous` gives `next`.
public enum CellDiff {
    /// Consecutive changed cells on one row, all of one role and attribute set.
    public struct Run: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public var cells: [Cell]
    }

    /// The runs that turn `previous` into `next`. Without a previous frame, or
    /// when the size changed, every cell is in a run (a full repaint).
    public static func runs(from previous: CellBuffer?, to next: CellBuffer) -> [Run] {
        let old = previous.flatMap { $0.width == next.width && $0.height == next.height ? $0.cells : nil }
        let cells = next.cells
        let width = next.width
        var runs: [Run] = []
        for y in 0..<next.height {
            var x = 0
            while x < width {
                let index = y * width + x
                if let old, old[index] == cells[index] { x += 1; continue }
                let style = cells[index]
                var run = Run(x: x, y: y, cells: [])
                while x < width {
                    let i = y * width + x
                    let cell = cells[i]
                    if let old, old[i] == cell { break }
                    guard cell.role == style.role && cell.attributes == style.attributes else { break }
                    run.cells.append(cell)
                    x += 1
                }
                runs.append(run)
            }
        }
        return runs
    }

    /// `buffer` with `runs` written over it (what a terminal shows afterwards).
    public static func apply(_ runs: [Run], to buffer: inout CellBuffer) {
        for run in runs {
            for (offset, cell) in run.cells.enumerated() { buffer[run.x + offset, run.y] = cell }
        }
    }
}

/// The two frames the monitor alternates between: it draws into `current`
/// while `previous` holds what the terminal shows, then swaps them, so no
/// frame copies the other (the single buffer it replaces was copied on every
/// frame, because the backend kept a reference to it).
public struct FrameBuffers: Sendable {
    public var current = CellBuffer(width: 0, height: 0)
    public private(set) var previous = CellBuffer(width: 0, height: 0)
    /// False until a frame was presented, and after `invalidate`.
    public private(set) var previousIsOnScreen = false

    public init() {}

    /// The runs to write for `current`.
    public func changes() -> [CellDiff.Run] {
        CellDiff.runs(from: previousIsOnScreen ? previous : nil, to: current)
    }

    /// After presenting: `current` becomes what is on screen; the old frame's
    /// storage is reused for the next one.
    public mutating func swap() {
        Swift.swap(&current, &previous)
        previousIsOnScreen = true
    }

    /// The terminal was cleared or resized: repaint everything next time.
    public mutating func invalidate() {
        previousIsOnScreen = false
    }
}
