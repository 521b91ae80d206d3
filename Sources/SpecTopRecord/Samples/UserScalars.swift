/// The user's own numbers of one model at one step (a `scalars` line,
/// `probe.log(step, val_loss=…)`): names in the order the line gives them,
/// a null value as NaN (a gap).
public struct ScalarsSample: Sendable, Equatable {
    public var step: Int
    public var wall: Double
    public var values: [Value]

    public struct Value: Sendable, Equatable {
        public var name: String
        public var value: Double
        public init(name: String, value: Double) { self.name = name; self.value = value }

        public static func == (a: Value, b: Value) -> Bool {
            a.name == b.name && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
        }
    }

    public init(step: Int, wall: Double, values: [Value]) {
        self.step = step; self.wall = wall; self.values = values
    }
}

/// One user scalar of one model over the run, for the monitor: at most
/// `capacity` points (every other one dropped when full, as `MetricHistory`
/// does), and its latest value with its step.
public struct UserScalarSeries: Sendable, Equatable {
    public let name: String
    public private(set) var steps: [Int] = []
    public private(set) var values: [Double] = []
    public private(set) var wall: [Double] = []
    public private(set) var latest: (step: Int, value: Double)?
    /// The same rule as the metrics' history, so both charts thin alike.
    private var sampler: Downsampler
    public var capacity: Int { sampler.capacity }

    public init(name: String, capacity: Int = 1024) {
        self.name = name
        sampler = Downsampler(capacity: capacity)
    }

    public mutating func append(step: Int, value: Double, wall: Double) {
        // The same name twice at one step: the later value counts.
        if let last = steps.last, last == step, !steps.isEmpty {
            values[values.count - 1] = value
            latest = (step, value)
            return
        }
        latest = (step, value)
        guard sampler.admits() else { return }
        steps.append(step); values.append(value); self.wall.append(wall)
        if sampler.isFull(count: steps.count) {
            steps = Downsampler.halved(steps); values = Downsampler.halved(values); self.wall = Downsampler.halved(self.wall)
        }
    }

    public static func == (a: UserScalarSeries, b: UserScalarSeries) -> Bool {
        a.name == b.name && a.steps == b.steps && a.wall == b.wall && a.values.count == b.values.count
            && zip(a.values, b.values).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
            && a.latest?.step == b.latest?.step
    }
}
