import CLinalg

/// The OpenBLAS library as loaded in this process.
public enum BLASRuntime {
    /// The kernel family OpenBLAS picked at load time, e.g. "Haswell",
    /// "Cooperlake", or the generic "Prescott" when it did not recognise the CPU.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Threads OpenBLAS uses for one call.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Sets the OpenBLAS thread count for the whole process. The engine sets
    /// it to 1 when its own worker pool trains models in parallel, so that the
    /// two levels of parallelism do not oversubscribe the cores.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }
}
