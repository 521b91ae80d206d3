/// What a training process costs the machine: the live monitor's own process
/// for its header, or a watched writer's, from its record's `usage` lines
/// (docs/RECORD.md), shown per run as btop and nvitop show a process line.
public struct ProcessUsage: Sendable, Equatable {
    /// Resident memory in bytes (0: not known).
    public var residentBytes: Int
    /// CPU time over wall time since the previous sample, in percent of one
    /// core (200 = two cores busy); NaN when not known.
    public var cpuPercent: Double
    /// Wall seconds per training step over the last interval (the probe's
    /// step time); nil when the writer does not say.
    public var stepSeconds: Double?
    /// GPU memory the process holds, in bytes (CUDA only).
    public var gpuMemoryBytes: Int?
    /// GPU utilisation in percent over the last sample period (CUDA with NVML only).
    public var gpuUtilization: Double?

    public init(residentBytes: Int, cpuPercent: Double, stepSeconds: Double? = nil, gpuMemoryBytes: Int? = nil, gpuUtilization: Double? = nil) {
        self.residentBytes = residentBytes; self.cpuPercent = cpuPercent
        self.stepSeconds = stepSeconds; self.gpuMemoryBytes = gpuMemoryBytes; self.gpuUtilization = gpuUtilization
    }
}
