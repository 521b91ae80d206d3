/// Settings a key steps through in their declared order, wrapping around
/// (`s` smoothing, `x` axis, `z` zoom).
public protocol Cycling: CaseIterable, Equatable {}

extension Cycling {
    /// The next setting, the first after the last.
    public var next: Self {
        let all = Array(Self.allCases)
        return all[((all.firstIndex(of: self) ?? 0) + 1) % all.count]
    }
}
