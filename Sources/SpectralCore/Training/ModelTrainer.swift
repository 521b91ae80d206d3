/// Draws `count` fresh samples (online training: every batch is new data).
public typealias OnlineBatchSampler = @Sendable (_ count: Int, _ generator: inout SeededGenerator) throws -> Dataset

/// Trains one model with minibatch steps over a fixed training set, or on
/// fresh samples every step when given an `OnlineBatchSampler`.
///
/// Owns every buffer a step needs (workspace, batch targets, index order),
/// allocated once in `init`; `step()` allocates nothing.
public final class ModelTrainer<Scalar: BLASScalar>: @unchecked Sendable {
    // @unchecked: used by one worker at a time; the engine hands it over under a lock.
    public let model: MLP<Scalar>
    public let optimizer: Optimizer<Scalar>
    public let train: Dataset
    public let batchSize: Int
    public let lossKind: LossKind
    public private(set) var step = 0
    /// Loss of the most recent training batch.
    public private(set) var lastBatchLoss: Double = .nan
    /// Why the last step could not run (the online sampler failed), if it could not.
    public private(set) var lastFailure: String?

    private let workspace: MLPWorkspace<Scalar>
    private let targets: TargetBuffer<Scalar>
    private let order: UnsafeMutableBufferPointer<Int>
    private var cursor = 0
    private var generator: SeededGenerator
    private let online: OnlineBatchSampler?
    private let onlineRows: [Int]

    public init(model: MLP<Scalar>, optimizer config: OptimizerConfig, train: Dataset, batchSize: Int,
                generator: SeededGenerator, online: OnlineBatchSampler? = nil) throws(ConfigurationError) {
        try config.validate()
        guard train.count > 0 else { throw .invalid("the training set is empty") }
        guard batchSize >= 1 else { throw .invalid("batch size must be at least 1, got \(batchSize)") }
        guard batchSize <= train.count else {
            throw .invalid("batch size \(batchSize) is larger than the training set (\(train.count) samples)")
        }
        guard train.inputDim == model.architecture.inputDim, train.outputDim == model.outputDim else {
            throw .invalid("data has \(train.inputDim) inputs and \(train.outputDim) outputs, the model expects \(model.architecture.inputDim) and \(model.outputDim)")
        }
        self.model = model
        self.optimizer = Optimizer(config, parameterCount: model.parameterCount)
        self.train = train
        self.batchSize = batchSize
        self.lossKind = train.lossKind
        self.generator = generator
        self.online = online
        onlineRows = Array(0..<batchSize)
        workspace = MLPWorkspace(for: model, capacity: batchSize)
        targets = TargetBuffer(kind: train.lossKind, outputDim: model.outputDim, capacity: batchSize)
        order = .allocate(capacity: train.count)
        for i in 0..<train.count { order[i] = i }
        shuffleOrder()
    }

    deinit { order.deallocate() }

    private func shuffleOrder() {
        guard order.count > 1 else { return }
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = generator.index(below: i + 1)
            order.swapAt(i, j)
        }
    }

    /// One step: next batch, forward, loss, backward, update. Returns the
    /// batch loss (NaN or ±Inf when the model diverged).
    ///
    /// Exported specialized for Float: callers in other modules (the bench)
    /// would otherwise run the unspecialized generic body, where every
    /// element-wise operation goes through a witness table (tens of times
    /// slower than what the engine, specialized inside this module, runs).
    @discardableResult
    @_specialize(exported: true, where Scalar == Float)
    public func trainStep() -> Double {
        if let online {
            // Online data allocates its fresh batch; the fixed-data path below does not.
            let batch: Dataset
            do { batch = try online(batchSize, &generator) } catch {
                lastFailure = "the online data sampler failed: \(error)"
                return .nan
            }
            guard batch.count == batchSize else {
                lastFailure = "the online data sampler returned \(batch.count) samples instead of \(batchSize)"
                return .nan
            }
            onlineRows.withUnsafeBufferPointer { rows in
                workspace.loadInputs(batch.inputs, rows: rows)
                targets.load(batch.targets, rows: rows)
            }
            return finishStep()
        }
        if cursor + batchSize > order.count {
            shuffleOrder()
            cursor = 0
        }
        let batch = UnsafeBufferPointer(rebasing: order[cursor..<(cursor + batchSize)])
        cursor += batchSize
        workspace.loadInputs(train.inputs, rows: batch)
        targets.load(train.targets, rows: batch)
        return finishStep()
    }

    private func finishStep() -> Double {
        model.forward(rows: batchSize, workspace: workspace)
        let loss = Loss.evaluate(lossKind, outputs: workspace.output, targets: targets, rows: batchSize,
                                 gradient: workspace.outputGradient)
        model.backward(rows: batchSize, workspace: workspace)
        optimizer.step(model)
        step += 1
        lastBatchLoss = loss
        return loss
    }
}
