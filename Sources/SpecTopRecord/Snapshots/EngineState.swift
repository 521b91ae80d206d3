/// The engine's run state.
public enum EngineState: String, Sendable, Equatable {
    case running, paused, finished, stopped
}
