/// The monitor's screens.
public enum ViewKind: String, Sendable, CaseIterable {
    /// One panel per model (default).
    case grid
    /// Every model overlaid on one chart per metric.
    case compare
    /// Loss and spectral reach against parameter count, log-log.
    case scaling
    /// One model's eigenvalue spectrum (Enter).
    case spectrum
    /// The paper's claims on what is on screen.
    case claims

    /// The next view of the `v` cycle; the spectrum view leaves to the grid.
    public var next: ViewKind {
        switch self {
        case .grid: return .compare
        case .compare: return .scaling
        case .scaling: return .claims
        case .claims, .spectrum: return .grid
        }
    }
}
