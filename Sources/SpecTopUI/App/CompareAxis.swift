/// The compare view's x axis (`x` cycles it): training step, wall time, or
/// compute as the paper's Fig. 1 plots it, FLOPs ≈ 6·N·D with N the trainable
/// parameters and D the training samples processed (step × batch).
public enum CompareAxis: String, Sendable, Cycling {
    case step
    case wall
    case compute

    /// The axis label under the charts.
    public var label: String {
        switch self {
        case .step: return "step"
        case .wall: return "wall s"
        case .compute: return "FLOPs"
        }
    }
}

/// How much of the x range the compare view shows (`z` cycles it): the whole
/// run, or only its latest half, quarter or tenth.
public enum CompareZoom: Int, Sendable, Cycling {
    case all = 1
    case half = 2
    case quarter = 4
    case tenth = 10

    public var label: String { self == .all ? "whole run" : "latest 1/\(rawValue)" }
}
