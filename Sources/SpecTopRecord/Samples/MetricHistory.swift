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
    /// The cross-batch χ_pos^{AB}; NaN where the step line has none.
    public private(set) var crossChiPos: [Double] = []
    /// χ_net/n (the normalised factor); NaN where n is unknown.
    public private(set) var chiNetNormalized: [Double] = []
    /// True once any point has a cross-batch χ_pos.
    public private(set) var hasCross = false
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
        crossChiPos.append(sample.cross?.chiPos ?? .nan)
        if sample.cross != nil { hasCross = true }
        chiNetNormalized.append(sample.normalizedChiNet ?? .nan)
        if steps.count >= capacity { decimate() }
    }

    /// Equal histories hold the same points; a gap (NaN) equals a gap.
    public static func == (a: MetricHistory, b: MetricHistory) -> Bool {
        func same(_ x: [Double], _ y: [Double]) -> Bool {
            x.count == y.count && zip(x, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        }
        return a.steps == b.steps && a.stride == b.stride && a.capacity == b.capacity && a.pending == b.pending && a.hasCross == b.hasCross
            && same(a.loss, b.loss) && same(a.chiNet, b.chiNet) && same(a.chiPos, b.chiPos) && same(a.wall, b.wall)
            && same(a.crossChiPos, b.crossChiPos) && same(a.chiNetNormalized, b.chiNetNormalized)
    }

    private mutating func decimate() {
        func keepEven<T>(_ a: [T]) -> [T] { Swift.stride(from: 0, to: a.count, by: 2).map { a[$0] } }
        steps = keepEven(steps); loss = keepEven(loss); chiNet = keepEven(chiNet); chiPos = keepEven(chiPos); wall = keepEven(wall)
        crossChiPos = keepEven(crossChiPos); chiNetNormalized = keepEven(chiNetNormalized)
        stride *= 2
    }
}
