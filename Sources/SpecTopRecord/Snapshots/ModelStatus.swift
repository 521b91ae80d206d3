/// A model's state as the UI sees it.
public enum ModelStatus: String, Sendable, Equatable {
    case training
    case finished
    /// Loss became NaN or Inf; this model stopped, the others go on.
    case diverged
}
