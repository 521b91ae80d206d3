/// SpectralCore publishes the contract it fills: every user of the engine
/// also sees the snapshot, sample, histogram and record types of SpecTopRecord.
@_exported import SpecTopRecord
