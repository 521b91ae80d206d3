/// Why a file is not a readable spectop record. The description is the whole
/// message the user sees (it starts with the file name and, where known, the
/// line number).
public struct RecordError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
