/// The kind of an `event` line (docs/RECORD.md, "Event kinds"): the one
/// spelling every writer and reader shares. A kind this reader does not know
/// (a newer writer's) is kept as `.other` and shown by its name, never dropped.
public enum RecordEventKind: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    case pause, resume, speed, freeze, export, diverged, failed, finished, error
    /// The model gets no spectrum; the event's `detail` says why. Spelled
    /// `spectrum` in records; probe records before the specification said `no_spectrum`.
    case noSpectrum
    /// The probe's budget left a scheduled measurement out; `detail` says why.
    case budget
    case other(String)

    /// Every kind the specification defines.
    public static let known: [RecordEventKind] = [.pause, .resume, .speed, .freeze, .export, .diverged, .failed, .finished, .error, .noSpectrum, .budget]

    public init(_ name: String) {
        switch name {
        case "pause": self = .pause
        case "resume": self = .resume
        case "speed": self = .speed
        case "freeze": self = .freeze
        case "export": self = .export
        case "diverged": self = .diverged
        case "failed": self = .failed
        case "finished": self = .finished
        case "error": self = .error
        case "spectrum", "no_spectrum": self = .noSpectrum
        case "budget": self = .budget
        default: self = .other(name)
        }
    }

    public init(stringLiteral name: String) { self.init(name) }

    /// The spelling written to records.
    public var name: String {
        switch self {
        case .pause: return "pause"
        case .resume: return "resume"
        case .speed: return "speed"
        case .freeze: return "freeze"
        case .export: return "export"
        case .diverged: return "diverged"
        case .failed: return "failed"
        case .finished: return "finished"
        case .error: return "error"
        case .noSpectrum: return "spectrum"
        case .budget: return "budget"
        case .other(let name): return name
        }
    }

    public var description: String { name }

    /// False for a kind from a newer writer.
    public var isKnown: Bool {
        if case .other = self { return false }
        return true
    }

    /// A model's training stopped for good (it diverged or failed).
    public var stopsTheModel: Bool { self == .diverged || self == .failed }
}
