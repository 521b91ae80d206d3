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
    /// Read from a record whose run ended (quit, a signal, the probe closed)
    /// before this model reached its step budget: not done, stopped.
    case ended

    /// True for a model that stopped before its budget (diverged, failed, or its run ended).
    public var stoppedEarly: Bool { self == .diverged || self == .failed || self == .ended }
}
