/// Whether a model's hidden layers learn.
public enum TrainingMode: String, Sendable, CaseIterable, Codable {
    /// Every layer trains: feature learning is possible.
    case active
    /// Hidden layers keep their initial weights; only the readout trains.
    case frozen
}
