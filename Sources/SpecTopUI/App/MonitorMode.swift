/// What the monitor is showing, which decides its keys and header badge.
public enum MonitorMode: String, Sendable, Equatable {
    /// The monitor's own engine, which the keys control.
    case live
    /// A finished record, with a cursor the keys move.
    case replay
    /// Records other processes are writing (`spectop watch`): always the latest.
    case watch
}
