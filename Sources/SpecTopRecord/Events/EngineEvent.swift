/// What the engine reports to a recorder, in the order it happened per model.
public enum EngineEvent: Sendable, Equatable {
    case metrics(model: String, MetricSample)
    case spectrum(model: String, SpectrumSample)
    /// pause, resume, freeze, diverged, finished, export…
    case event(kind: RecordEventKind, model: String?, step: Int?, wall: Double, detail: String?)
}
