/// Something that happened to the run or a model, marked on the charts:
/// a live freeze, an export, a pause and resume, a speed change, a divergence.
public struct RunMark: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case freeze, export, pause, resume, speed, diverged, failed

        /// The letter drawn under the chart at the mark's step (ASCII, so it reads anywhere).
        public var letter: Character {
            switch self {
            case .freeze: return "F"
            case .export: return "E"
            case .pause: return "P"
            case .resume: return "R"
            case .speed: return "S"
            case .diverged, .failed: return "!"
            }
        }
    }

    public var kind: Kind
    /// The step it happened at (the most advanced model's, for run-wide events).
    public var step: Int
    public var wall: Double
    /// The model it concerns; nil for the whole run.
    public var model: String?

    public init(kind: Kind, step: Int, wall: Double, model: String? = nil) {
        self.kind = kind; self.step = step; self.wall = wall; self.model = model
    }

    /// At most this many are kept (the latest): a run paused a thousand times stays cheap to draw.
    public static let limit = 64

    /// The mark a record's event line makes, when it is one; run-wide events
    /// without a step take `currentStep`.
    public static func from(kind: RecordEventKind, model: String?, step: Int?, wall: Double, currentStep: Int) -> RunMark? {
        guard let kind = Kind(rawValue: kind.name) else { return nil }
        return RunMark(kind: kind, step: step ?? currentStep, wall: wall, model: model)
    }
}
