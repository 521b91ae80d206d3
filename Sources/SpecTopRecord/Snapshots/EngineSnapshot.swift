/// A consistent picture of the whole engine at one moment.
public struct EngineSnapshot: Sendable, Equatable {
    public var state: EngineState
    public var models: [ModelSnapshot]
    /// Seconds since start.
    public var elapsed: Double
    /// Sum of the models' steps per second.
    public var stepsPerSecond: Double

    public init(state: EngineState, models: [ModelSnapshot], elapsed: Double, stepsPerSecond: Double) {
        self.state = state; self.models = models; self.elapsed = elapsed; self.stepsPerSecond = stepsPerSecond
    }
}
