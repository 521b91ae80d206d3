/// A consistent picture of the whole engine at one moment.
public struct EngineSnapshot: Sendable, Equatable {
    public var state: EngineState
    public var models: [ModelSnapshot]
    /// Seconds since start.
    public var elapsed: Double
    /// Seconds of `elapsed` the live engine spent paused: the header's clock
    /// counts training time (`elapsed` stays on the record's wall clock).
    public var pausedSeconds: Double = 0
    /// Sum of the models' steps per second.
    public var stepsPerSecond: Double
    /// The records behind the models when several are watched (`spectop watch`); empty otherwise.
    public var runs: [RunSummary]
    /// Events to mark on the charts, oldest first (at most `RunMark.limit`).
    public var marks: [RunMark] = []
    /// Memory and CPU of the training process (the live monitor only).
    public var process: ProcessUsage?

    public init(state: EngineState, models: [ModelSnapshot], elapsed: Double, stepsPerSecond: Double, runs: [RunSummary] = []) {
        self.state = state; self.models = models; self.elapsed = elapsed; self.stepsPerSecond = stepsPerSecond
        self.runs = runs
    }
}
