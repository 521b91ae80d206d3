import SpecTopRecord

/// Where the monitor gets its data and sends its commands: the engine when
/// training live, a replay reader when playing back a recording.
///
/// The monitor calls every method on its own (UI) thread, once per frame or
/// key press; implementations publish their latest state and return at once,
/// so the UI never waits on training.
public protocol MonitorSource: AnyObject, Sendable {
    /// The latest consistent picture of every model.
    func snapshot() -> EngineSnapshot
    /// Carries out a user command (asynchronously if it takes time).
    func perform(_ command: MonitorCommand)
    /// A one-line message to show, such as "export written to DIR" or a
    /// recorder error; nil for none. Polled every frame.
    func statusMessage() -> String?
}

extension MonitorSource {
    /// Sources without messages need not implement this.
    public func statusMessage() -> String? { nil }
}
