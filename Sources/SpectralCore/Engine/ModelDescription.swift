/// One model of an engine as its readers need it: the plan it was built from
/// and its parameter counts (the record header's `models` entry).
public struct ModelDescription: Sendable {
    public let plan: ModelPlan
    public let parameterCount: Int
    /// The parameters it trains: all of them, or a frozen model's readout.
    public let trainableParameterCount: Int
}
