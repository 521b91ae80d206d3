/// Downsampled metric history for plotting: at most `capacity` points; when
/// full, every other point is dropped and the stride doubles, so the whole run
/// stays visible at bounded memory and copy cost.
public struct MetricHistory: Sendable, Equatable {
    public private(set) var steps: [Int] = []
    public private(set) var loss: [Double] = []
    public private(set) var chiNet: [Double] = []
    /// NaN where χ_pos was undefined (drawn as a gap, never as zero).
    public private(set) var chiPos: [Double] = []
    /// Seconds since the start at each point (the compare view's wall-time axis).
    public private(set) var wall: [Double] = []
    public private(set) var stride: Int = 1
    public let capacity: Int
    private var pending = 0

    public init(capacity: Int = 1024) {
        precondition(capacity >= 2)
        self.capacity = capacity
    }

    public var count: Int { steps.count }

    public mutating func append(_ sample: MetricSample) {
        pending += 1
        guard pending >= stride else { return }
        pending = 0
        steps.append(sample.step)
        loss.append(sample.loss)
        chiNet.append(sample.chiNet)
        chiPos.append(sample.chiPos ?? .nan)
        wall.append(sample.wall)
        if steps.count >= capacity { decimate() }
    }

    private mutating func decimate() {
        func keepEven<T>(_ a: [T]) -> [T] { Swift.stride(from: 0, to: a.count, by: 2).map { a[$0] } }
        steps = keepEven(steps); loss = keepEven(loss); chiNet = keepEven(chiNet); chiPos = keepEven(chiPos); wall = keepEven(wall)
        stride *= 2
    }
}
