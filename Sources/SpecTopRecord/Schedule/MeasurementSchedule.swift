import Foundation

/// The steps a model is measured at (docs/RECORD.md, `schedule`; METHOD.md,
/// *Log-spaced measurements*): every `n`-th step, or log-spaced windows as the
/// paper's authors measure — window centres 0 and ⌊10^{k/p} + 10⁻⁹⌋ (p per
/// decade), each followed by `window` consecutive steps, the centre included.
/// A step in several windows belongs to the one with the largest centre. The
/// probe's `LogSchedule` is the same definition, step for step.
public enum MeasurementSchedule: Sendable, Equatable {
    case every(Int)
    case log(pointsPerDecade: Int, window: Int)

    public static let defaultLog = MeasurementSchedule.log(pointsPerDecade: 10, window: 5)

    /// Keeps a centre that is a power of ten in exact arithmetic from rounding down.
    private static let guardBand = 1e-9

    /// The centres ≤ `step`, increasing (log schedules only).
    public static func centres(pointsPerDecade p: Int, upTo step: Int) -> [Int] {
        guard step >= 0 else { return [] }
        var result = [0]
        var k = 0
        while true {
            let centre = Int((pow(10, Double(k) / Double(p)) + guardBand).rounded(.down))
            if centre > step { return result }
            if centre > result[result.count - 1] { result.append(centre) }
            k += 1
        }
    }

    /// The centre of the window `step` belongs to; nil outside every window
    /// and for an `every` schedule.
    public func window(of step: Int) -> Int? {
        guard case .log(let p, let window) = self, step >= 0 else { return nil }
        // The largest centre c ≤ step with step < c + window: centres only grow,
        // so the last one that holds it wins.
        return MeasurementSchedule.centres(pointsPerDecade: p, upTo: step).last { step < $0 + window }
    }

    /// Whether `step` is measured.
    public func isDue(_ step: Int) -> Bool {
        switch self {
        case .every(let n): return n > 0 && step % n == 0
        case .log: return window(of: step) != nil
        }
    }

    /// Every measured step ≤ `last`, increasing.
    public func steps(upTo last: Int) -> [Int] {
        switch self {
        case .every(let n): return n > 0 && last >= 0 ? Array(stride(from: 0, through: last, by: n)) : []
        case .log(let p, let window):
            var measured = Set<Int>()
            for c in MeasurementSchedule.centres(pointsPerDecade: p, upTo: last) { measured.formUnion(c..<Swift.min(c + window, last + 1)) }
            return measured.sorted()
        }
    }

    /// The record's `schedule` object.
    public var json: String {
        var json = JSONLine()
        switch self {
        case .every(let n):
            json.add("kind", "every")
            json.add("every", n)
        case .log(let p, let window):
            json.add("kind", "log")
            json.add("points_per_decade", p)
            json.add("window", window)
        }
        return json.line
    }

    /// Reads a record's `schedule` object; nil when it is not one this reader knows.
    public init?(json object: [String: Any]) {
        switch object["kind"] as? String {
        case "every":
            guard let n = RecordJSON.int(object["every"]), n >= 1 else { return nil }
            self = .every(n)
        case "log":
            guard let p = RecordJSON.int(object["points_per_decade"]), p >= 1,
                  let w = RecordJSON.int(object["window"]), w >= 1 else { return nil }
            self = .log(pointsPerDecade: p, window: w)
        default:
            return nil
        }
    }
}
