/// Training compute as the paper's Fig. 1 plots it: FLOPs ≈ 6·N·D, with N the
/// trainable parameters and D the training samples processed (steps × batch).
///
/// The one place this is computed: the compare view's compute axis and the
/// report's χ_pos-against-compute panel both call it, so the two agree.
public enum TrainingCompute {
    /// 6·N·B, the FLOPs of one training step (N trainable parameters, B
    /// samples a step); nil when the batch size or N is unknown (0).
    public static func flopsPerStep(trainableParameters: Int, batchSize: Int) -> Double? {
        batchSize > 0 && trainableParameters > 0 ? 6 * Double(trainableParameters) * Double(batchSize) : nil
    }

    /// A recorded model's FLOPs per step: its trainable parameters where the
    /// header says (the probe's `trainable_params`), else all of them, as the
    /// reducer takes them for the monitor.
    public static func flopsPerStep(_ model: RunRecord.ModelInfo) -> Double? {
        flopsPerStep(trainableParameters: model.trainableParameterCount ?? model.parameterCount, batchSize: model.batchSize)
    }
}
