/// What the training process costs the machine right now, for the header.
public struct ProcessUsage: Sendable, Equatable {
    /// Resident memory in bytes.
    public var residentBytes: Int
    /// CPU time over wall time since the previous sample, in percent of one
    /// core (200 = two cores busy).
    public var cpuPercent: Double

    public init(residentBytes: Int, cpuPercent: Double) {
        self.residentBytes = residentBytes; self.cpuPercent = cpuPercent
    }
}
