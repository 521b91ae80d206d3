import XCTest
@testable import SpectralCore
import AllocationCounter
import TestSupport

/// `ModelTrainer.trainStep()` must not touch the heap once warmed up: the
/// engine runs it thousands of times a second across models, and an
/// allocation per step costs malloc lock traffic between workers.
///
/// Counted with the counting malloc of the `AllocationCounter` target, which
/// replaces the test binary's allocator and sees every thread, OpenBLAS's
/// included. Allocations made by OpenBLAS itself are counted apart: its
/// threaded GEMM driver (0.3.21, `gemm_driver` in level3_thread.c) mallocs a
/// job table per multi-threaded call. With one BLAS thread — what the engine
/// uses whenever it trains several models — the whole step allocates nothing.
final class TrainStepAllocationTests: XCTestCase {
    /// Steps run before counting: the first calls may create lazily built
    /// state (OpenBLAS buffers, metadata caches of the Swift runtime).
    private let warmupSteps = 3
    /// Steps counted: enough to wrap the batch cursor and reshuffle several
    /// times (the training set below holds about three batches).
    private let countedSteps = 20

    private func requireCounter() throws {
        try XCTSkipUnless(spectop_allocation_counter_is_active() != 0,
                          "the counting malloc is disabled under a sanitizer")
        XCTAssertEqual(spectop_allocation_counter_attribute_library("cblas_sgemm"), 1,
                       "cannot locate OpenBLAS to tell its allocations apart")
    }

    /// What one counted run saw.
    private struct Counted {
        /// Everything but OpenBLAS, all threads: must be 0.
        var ours: Int
        /// Of `ours`, on the thread that trained.
        var caller: Int
        /// Made by OpenBLAS's own code.
        var openBLAS: Int
    }

    private func makeTrainer(width: Int, outputs: Int, loss: LossKind, optimizer: OptimizerConfig,
                             frozen: Bool, activation: Activation) throws -> ModelTrainer<Float> {
        let batch = 32, samples = 100, inputDim = 8
        var rng = SeededGenerator(seed: 5)
        var x = Matrix<Float>(rows: samples, cols: inputDim)
        for k in x.storage.indices { x.storage[k] = Float(rng.gaussian()) }
        let targets: Dataset.Targets
        switch loss {
        case .mse:
            var y = Matrix<Float>(rows: samples, cols: outputs)
            for k in y.storage.indices { y.storage[k] = Float(rng.gaussian()) }
            targets = .values(y)
        case .crossEntropy:
            targets = .labels((0..<samples).map { _ in rng.index(below: outputs) }, classes: outputs)
        }
        let data = Dataset(name: "synthetic", inputs: x, targets: targets)
        let architecture = MLPArchitecture(inputDim: inputDim, width: width, depth: 2, outputDim: outputs,
                                           activation: activation)
        let model = try MLP<Float>(architecture, generator: &rng)
        if frozen { model.freezeFeatures() }
        return try ModelTrainer(model: model, optimizer: optimizer, train: data, batchSize: batch,
                                generator: SeededGenerator(seed: 9))
    }

    /// Allocations during `countedSteps` steps after warm-up. No XCTest
    /// call may happen while counting: XCTest allocates.
    ///
    /// trainStep runs on the calling thread and OpenBLAS's threads only, but
    /// an unrelated thread of the test process (XCTest, the Swift runtime)
    /// may allocate while we count. So an allocation on another thread
    /// counts only when it repeats: up to three tries, keeping the cleanest.
    private func allocationsDuringSteps(_ trainer: ModelTrainer<Float>) -> Counted {
        for _ in 0..<warmupSteps { trainer.trainStep() }
        var best = countOnce(trainer)
        var tries = 1
        while best.ours > 0 && best.caller == 0 && tries < 3 {
            let next = countOnce(trainer)
            tries += 1
            if next.caller > 0 || next.ours < best.ours { best = next }
        }
        return best
    }

    private func countOnce(_ trainer: ModelTrainer<Float>) -> Counted {
        spectop_allocation_counter_start()
        for _ in 0..<countedSteps { trainer.trainStep() }
        let ours = spectop_allocation_counter_stop()
        return Counted(ours: Int(ours), caller: Int(spectop_allocation_counter_calling_thread()),
                       openBLAS: Int(spectop_allocation_counter_library()))
    }

    /// The counter works: an allocation between start and stop is seen.
    /// Without this, a broken interposition would make the real test pass
    /// vacuously.
    func testCounterSeesAnAllocation() throws {
        try requireCounter()
        spectop_allocation_counter_start()
        let buffer = UnsafeMutablePointer<Double>.allocate(capacity: 1000)
        buffer.deallocate()
        let all = spectop_allocation_counter_stop()
        XCTAssertGreaterThanOrEqual(all, 1)
        XCTAssertGreaterThanOrEqual(spectop_allocation_counter_calling_thread(), 1)

        spectop_allocation_counter_start()
        let none = spectop_allocation_counter_stop()
        XCTAssertEqual(none, 0, "nothing allocated between start and stop, yet the counter moved")
    }

    /// OpenBLAS's own allocations land in their own count, not in ours, so
    /// the main test neither blames the caller for them nor hides ours.
    func testOpenBLASAllocationsAreAttributed() throws {
        try requireCounter()
        let previousThreads = BLASRuntime.threadCount
        defer { BLASRuntime.setThreadCount(previousThreads) }
        BLASRuntime.setThreadCount(2)
        try XCTSkipUnless(BLASRuntime.threadCount == 2, "OpenBLAS runs single-threaded here")
        let n = 256
        let a = [Float](repeating: 1, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        func multiply() {
            a.withUnsafeBufferPointer { p in
                c.withUnsafeMutableBufferPointer { q in
                    Float.gemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: p.baseAddress!, lda: n,
                               b: p.baseAddress!, ldb: n, beta: 0, c: q.baseAddress!, ldc: n)
                }
            }
        }
        multiply()
        spectop_allocation_counter_start()
        multiply()
        let ours = spectop_allocation_counter_stop()
        let library = spectop_allocation_counter_library()
        XCTAssertEqual(ours, 0)
        XCTAssertGreaterThanOrEqual(library, 1, "a 2-thread SGEMM should show OpenBLAS's job-table allocation")
        XCTAssertEqual(c[0], Float(n))
    }

    func testTrainStepDoesNotAllocateAfterWarmup() throws {
        try requireCounter()
        let previousThreads = BLASRuntime.threadCount
        defer { BLASRuntime.setThreadCount(previousThreads) }
        let optimizers: [(String, OptimizerConfig)] = [
            ("sgd", OptimizerConfig(kind: .sgd, learningRate: 1e-3)),
            ("sgd+momentum", OptimizerConfig(kind: .sgd, learningRate: 1e-3, momentum: 0.9, warmupSteps: 5)),
            ("adam", OptimizerConfig(kind: .adam, learningRate: 1e-4)),
        ]
        // 1 thread: the engine's multi-model case; 2: one model, OpenBLAS's own threads.
        for threads in [1, 2] {
            BLASRuntime.setThreadCount(threads)
            for (name, optimizer) in optimizers {
                for loss in [LossKind.mse, .crossEntropy] {
                    for frozen in [false, true] {
                        let trainer = try makeTrainer(width: 128, outputs: 4, loss: loss, optimizer: optimizer,
                                                      frozen: frozen, activation: frozen ? .tanh : .relu)
                        let counted = allocationsDuringSteps(trainer)
                        let label = "BLAS threads \(threads), \(name), \(loss.rawValue), \(frozen ? "frozen" : "active")"
                        XCTAssertEqual(counted.ours, 0,
                                       "\(counted.ours) heap allocations (\(counted.caller) on the calling thread) in \(countedSteps) steps: \(label)")
                        if threads == 1 {
                            XCTAssertEqual(counted.openBLAS, 0, "OpenBLAS allocated on one thread: \(label)")
                        } else {
                            // At most one job table per GEMM call: 3 forward, 3 weight
                            // gradients and 2 deltas per step for depth 2.
                            XCTAssertLessThanOrEqual(counted.openBLAS, 8 * countedSteps, label)
                        }
                        XCTAssertTrue(trainer.lastBatchLoss.isFinite)
                    }
                }
            }
        }
    }

    /// Every activation's forward and derivative path, once.
    func testEveryActivationIsAllocationFree() throws {
        try requireCounter()
        for activation in Activation.allCases {
            let trainer = try makeTrainer(width: 16, outputs: 2, loss: .mse,
                                          optimizer: OptimizerConfig(kind: .sgd, learningRate: 1e-3),
                                          frozen: false, activation: activation)
            let counted = allocationsDuringSteps(trainer)
            XCTAssertEqual(counted.ours, 0,
                           "\(activation.rawValue): \(counted.ours) heap allocations (\(counted.caller) on the calling thread)")
        }
    }

    /// A spectrum step reuses the worker's `SpectrumWorkspace`: after warm-up
    /// it allocates no buffer anywhere near the kernel's m² doubles (the
    /// per-call path it replaced allocated about 7 m², in 1 m² blocks), only
    /// its small results: nothing larger than a few vectors of m doubles
    /// (eigenvalues, weights, the histogram's positive eigenvalues).
    func testSpectrumStepAllocatesNoKernelSizedBuffer() throws {
        try requireCounter()
        let data = syntheticRegression(samples: 200, outputs: 2)
        let plan = plans(widths: [32], steps: 10, outputs: 2)[0]
        let run = try ModelRun(plan: plan, train: data, probe: data.subset(Array(0..<100)), seed: 1)
        let m = run.kernelSize
        XCTAssertEqual(m, 200)
        let workspace = SpectrumWorkspace(capacity: m, rows: 100)
        _ = try run.measure(estimator: .exact, withSpectrum: true, workspace: workspace)
        spectop_allocation_counter_start()
        let (_, spectrum) = try run.measure(estimator: .exact, withSpectrum: true, workspace: workspace)
        _ = spectop_allocation_counter_stop()
        let largest = Int(spectop_allocation_counter_largest())
        XCTAssertNotNil(spectrum)
        XCTAssertLessThan(largest, m * m * 8 / 4, "a spectrum step allocated \(largest) bytes at once (m² doubles = \(m * m * 8))")
        XCTAssertLessThanOrEqual(largest, 4 * m * 8, "a spectrum step allocated \(largest) bytes at once: more than its O(m) results")
    }

    /// A matrix-free spectrum step reuses the model's `MatrixFreeWorkspace`:
    /// after warm-up nothing of ARPACK's Lanczos basis (m·(2k+1) doubles),
    /// the quadrature's block Krylov basis (m·b·s) or even one block of
    /// vectors (m·b) is allocated again, only small results.
    func testMatrixFreeSpectrumStepAllocatesNoOperatorSizedBuffer() throws {
        try requireCounter()
        let data = syntheticRegression(samples: 400, outputs: 2)
        let plan = plans(widths: [32], steps: 10, outputs: 2)[0]
        XCTAssertEqual(plan.mode, .active)
        let run = try ModelRun(plan: plan, train: data, probe: data.subset(Array(0..<200)), seed: 1)
        let m = run.kernelSize
        XCTAssertEqual(m, 400)
        let settings = MatrixFreeSettings(topK: 8, starts: 4, steps: 20)
        _ = try run.measure(estimator: .exact, withSpectrum: true, matrixFree: settings)
        spectop_allocation_counter_start()
        let (_, spectrum) = try run.measure(estimator: .exact, withSpectrum: true, matrixFree: settings)
        _ = spectop_allocation_counter_stop()
        let largest = Int(spectop_allocation_counter_largest())
        XCTAssertEqual(spectrum?.method, .lanczos)
        XCTAssertLessThan(largest, settings.blockSize(size: m) * m * 8, "a matrix-free spectrum step allocated \(largest) bytes at once: a block of vectors is \(settings.blockSize(size: m) * m * 8)")
        XCTAssertLessThanOrEqual(largest, 2 * m * 8, "a matrix-free spectrum step allocated \(largest) bytes at once: more than its small results")
    }
}
