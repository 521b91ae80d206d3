/// Why a measurement step produced no result.
public enum MeasurementError: Error, CustomStringConvertible, Equatable {
    /// A stop or pause arrived part-way; nothing was recorded.
    case interrupted
    /// The eNTK contains NaN or Inf: the model has diverged.
    case nonFiniteKernel
    /// LAPACK could not decompose a finite kernel.
    case spectrumFailed(String)

    /// True when the kernel-free metrics of the step can still be measured.
    var isRetryableWithoutSpectrum: Bool {
        if case .spectrumFailed = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .interrupted: return "measurement interrupted"
        case .nonFiniteKernel: return "the eNTK has non-finite entries (the model diverged)"
        case .spectrumFailed(let reason): return "the eNTK spectrum could not be computed (\(reason)); skipped for this step"
        }
    }
}
