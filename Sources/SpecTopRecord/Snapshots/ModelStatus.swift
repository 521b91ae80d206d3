/// A model's state as the UI sees it.
public enum ModelStatus: String, Sendable, Equatable {
    case training
    case finished
    /// Loss became NaN or Inf; this model stopped, the others go on.
    case diverged
    /// Something other than the numbers stopped this model (its online data
    /// sampler failed); the others go on.
    case failed
    /// Read from a record that stopped growing before it ended (`spectop
    /// watch`): the writer may be stuck, killed or on a node that went away.
    case stale

    /// True for a model that stopped before its budget (diverged or failed).
    public var stoppedEarly: Bool { self == .diverged || self == .failed }
}
