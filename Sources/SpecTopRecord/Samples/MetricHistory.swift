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
    /// With a log schedule: each point's window centre (−1 outside every window).
    public private(set) var window: [Int] = []
    /// True once any point belongs to a window.
    public private(set) var hasWindows = false
    private var sampler: Downsampler
    public var stride: Int { sampler.stride }
    public var capacity: Int { sampler.capacity }

    public init(capacity: Int = 1024) {
        sampler = Downsampler(capacity: capacity)
    }

    public var count: Int { steps.count }

    public mutating func append(_ sample: MetricSample) {
        guard sampler.admits() else { return }
        steps.append(sample.step)
        loss.append(sample.loss)
        chiNet.append(sample.chiNet)
        chiPos.append(sample.chiPos ?? .nan)
        wall.append(sample.wall)
        crossChiPos.append(sample.cross?.chiPos ?? .nan)
        if sample.cross != nil { hasCross = true }
        chiNetNormalized.append(sample.normalizedChiNet ?? .nan)
        window.append(sample.window ?? -1)
        if sample.window != nil { hasWindows = true }
        if sampler.isFull(count: steps.count) { halve() }
    }

    /// A step measured again (a foreign log's step reopened by values logged
    /// late): its point, when the downsampler kept it as the last one, takes
    /// the new values in place, so the step stays one point; nothing else moves.
    public mutating func updateLast(_ sample: MetricSample) {
        guard let last = steps.indices.last, steps[last] == sample.step else { return }
        loss[last] = sample.loss
        chiNet[last] = sample.chiNet
        chiPos[last] = sample.chiPos ?? .nan
        wall[last] = sample.wall
        crossChiPos[last] = sample.cross?.chiPos ?? .nan
        if sample.cross != nil { hasCross = true }
        chiNetNormalized[last] = sample.normalizedChiNet ?? .nan
        window[last] = sample.window ?? -1
        if sample.window != nil { hasWindows = true }
    }

    /// Equal histories hold the same points; a gap (NaN) equals a gap.
    public static func == (a: MetricHistory, b: MetricHistory) -> Bool {
        func same(_ x: [Double], _ y: [Double]) -> Bool {
            x.count == y.count && zip(x, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        }
        return a.steps == b.steps && a.sampler == b.sampler && a.hasCross == b.hasCross
            && a.window == b.window
            && same(a.loss, b.loss) && same(a.chiNet, b.chiNet) && same(a.chiPos, b.chiPos) && same(a.wall, b.wall)
            && same(a.crossChiPos, b.crossChiPos) && same(a.chiNetNormalized, b.chiNetNormalized)
    }

    private mutating func halve() {
        func keep<T>(_ values: [T]) -> [T] { Downsampler.halved(values) }
        steps = keep(steps); loss = keep(loss); chiNet = keep(chiNet); chiPos = keep(chiPos); wall = keep(wall)
        crossChiPos = keep(crossChiPos); chiNetNormalized = keep(chiNetNormalized); window = keep(window)
    }

    /// `ys` at `xs` as one point per measurement window (log schedules): the
    /// window's x is its first point's, its value the mean of its members,
    /// `low`/`high` their extremes (the spread). Points outside every window
    /// stand alone. NaN members are left out; a window of only NaN is NaN.
    public func windowMeans(xs: [Double], ys: [Double]) -> (x: [Double], mean: [Double], low: [Double], high: [Double]) {
        var x: [Double] = [], mean: [Double] = [], low: [Double] = [], high: [Double] = []
        var index = 0
        let count = Swift.min(xs.count, ys.count, window.count)
        while index < count {
            var end = index + 1
            if window[index] >= 0 { while end < count && window[end] == window[index] { end += 1 } }
            let members = ys[index..<end].filter { !$0.isNaN }
            x.append(xs[index])
            if members.isEmpty {
                mean.append(.nan); low.append(.nan); high.append(.nan)
            } else {
                mean.append(members.reduce(0, +) / Double(members.count))
                low.append(members.min()!); high.append(members.max()!)
            }
            index = end
        }
        return (x, mean, low, high)
    }
}
