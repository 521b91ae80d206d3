/// One record being watched (`spectop watch`): its name and how it stands.
public struct RunSummary: Sendable, Equatable {
    public enum State: String, Sendable, Equatable, CaseIterable {
        /// The file does not exist yet, or has no complete header line.
        case waiting
        /// Lines are arriving.
        case live
        /// The file has not grown for the stale interval and has no end line.
        case stale
        /// It has an `end` line.
        case finished
        /// Not a record this spectop can show (the detail says why).
        case refused
    }

    public var name: String
    public var state: State
    /// The end reason of a finished run, the refusal, or the file of a waiting one.
    public var detail: String?
    /// The writer's process, from its latest `usage` line; nil when it wrote none.
    public var usage: ProcessUsage?

    public init(name: String, state: State, detail: String? = nil, usage: ProcessUsage? = nil) {
        self.name = name; self.state = state; self.detail = detail; self.usage = usage
    }
}
