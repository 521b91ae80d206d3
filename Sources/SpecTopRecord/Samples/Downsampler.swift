/// The one downsampling rule of the chart histories (`MetricHistory`,
/// `UserScalarSeries`): keep every `stride`-th sample; when the kept points
/// reach `capacity`, drop every other one and double the stride, so a whole
/// run of any length stays visible at bounded memory and copy cost.
public struct Downsampler: Sendable, Equatable {
    public let capacity: Int
    /// Samples per kept point now (1, 2, 4, …).
    public private(set) var stride = 1
    /// Samples seen since the last kept one.
    private var pending = 0

    public init(capacity: Int) {
        precondition(capacity >= 2)
        self.capacity = capacity
    }

    /// Whether the next sample is kept.
    public mutating func admits() -> Bool {
        pending += 1
        guard pending >= stride else { return false }
        pending = 0
        return true
    }

    /// After a kept point: true when the arrays, now `count` long, are full
    /// and must each be halved with `halved` (the stride has doubled).
    public mutating func isFull(count: Int) -> Bool {
        guard count >= capacity else { return false }
        stride *= 2
        return true
    }

    /// Every other element, the first kept: what a full history keeps.
    public static func halved<T>(_ values: [T]) -> [T] {
        Swift.stride(from: 0, to: values.count, by: 2).map { values[$0] }
    }
}
