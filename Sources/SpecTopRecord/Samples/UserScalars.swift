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
    private var stride = 1, pending = 0
    public let capacity: Int

    public init(name: String, capacity: Int = 1024) {
        precondition(capacity >= 2)
        self.name = name; self.capacity = capacity
    }

    public mutating func append(step: Int, value: Double, wall: Double) {
        // The same name twice at one step: the later value counts.
        if let last = steps.last, last == step, !steps.isEmpty {
            values[values.count - 1] = value
            latest = (step, value)
            return
        }
        latest = (step, value)
        pending += 1
        guard pending >= stride else { return }
        pending = 0
        steps.append(step); values.append(value); self.wall.append(wall)
        if steps.count >= capacity {
            func keepEven<T>(_ a: [T]) -> [T] { Swift.stride(from: 0, to: a.count, by: 2).map { a[$0] } }
            steps = keepEven(steps); values = keepEven(values); self.wall = keepEven(self.wall)
            stride *= 2
        }
    }

    public static func == (a: UserScalarSeries, b: UserScalarSeries) -> Bool {
        a.name == b.name && a.steps == b.steps && a.wall == b.wall && a.values.count == b.values.count
            && zip(a.values, b.values).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
            && a.latest?.step == b.latest?.step
    }
}
