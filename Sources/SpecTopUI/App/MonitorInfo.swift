/// Fixed facts about the run shown in the header.
public struct MonitorInfo: Sendable, Equatable {
    /// Shown first in the header (`spectop`).
    public var toolName: String
    /// The preset the run uses.
    public var preset: String
    /// The data set name.
    public var dataset: String
    /// The BLAS library and core it runs on, e.g. "OpenBLAS Haswell".
    public var blasCore: String
    /// A message to show until the source reports its own (e.g. a theme error).
    public var status: String?
    /// A standing warning for the header (e.g. "spectra ~85% of time").
    public var warning: String?

    public init(toolName: String = "spectop", preset: String, dataset: String, blasCore: String, status: String? = nil) {
        self.toolName = toolName; self.preset = preset; self.dataset = dataset
        self.blasCore = blasCore; self.status = status
    }
}
