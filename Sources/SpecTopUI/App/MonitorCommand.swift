/// What the monitor asks its source (the engine, or a replay reader) to do.
public enum MonitorCommand: Sendable, Equatable {
    /// Pause or resume training (replay: play or pause).
    case togglePause
    /// One training step while paused (replay: one step forward).
    case singleStep
    /// Train (or play back) faster.
    case faster
    /// Train (or play back) slower.
    case slower
    /// Freeze the hidden layers of this active model from now on.
    case freezeFeatures(modelID: String)
    /// Write a state dump.
    case export
    /// Replay: move by this many records (negative: back).
    case scrub(by: Int)
    /// Replay: go to the first record.
    case jumpToStart
    /// Replay: go to the last record.
    case jumpToEnd
    /// The monitor is closing (sent once, on every way out of the loop).
    case quit
}
