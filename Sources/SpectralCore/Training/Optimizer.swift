/// Optimizer settings as a user writes them.
public struct OptimizerConfig: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        case sgd
        case adam
    }
    public var kind: Kind
    public var learningRate: Double
    /// SGD momentum μ (0 = plain SGD); ignored by Adam.
    public var momentum: Double
    /// Steps of linear warm-up from 0 to `learningRate` (0 = none).
    public var warmupSteps: Int
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double

    public init(kind: Kind = .sgd, learningRate: Double, momentum: Double = 0, warmupSteps: Int = 0,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.kind = kind; self.learningRate = learningRate; self.momentum = momentum
        self.warmupSteps = warmupSteps; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    }

    public func validate() throws(ConfigurationError) {
        guard learningRate.isFinite, learningRate > 0 else {
            throw .invalid("learning rate must be a positive number, got \(learningRate)")
        }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw .invalid("momentum must be in [0, 1), got \(momentum)")
        }
        guard warmupSteps >= 0 else { throw .invalid("warm-up steps must be 0 or more, got \(warmupSteps)") }
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
            throw .invalid("Adam betas must be in [0, 1), got \(beta1), \(beta2)")
        }
        guard epsilon.isFinite, epsilon > 0 else { throw .invalid("Adam epsilon must be positive, got \(epsilon)") }
    }

    /// Learning rate at 0-based `step`: linear warm-up, then constant.
    public func learningRate(atStep step: Int) -> Double {
        guard warmupSteps > 0, step < warmupSteps else { return learningRate }
        return learningRate * Double(step + 1) / Double(warmupSteps)
    }
}

/// Updates θ[offset...] from the matching gradients. State buffers are
/// allocated once for the whole parameter vector, so freezing features later
/// just narrows the updated range.
public final class Optimizer<Scalar: BLASScalar>: @unchecked Sendable {
    // @unchecked: owned by one worker together with its model.
    public let config: OptimizerConfig
    private let first: UnsafeMutableBufferPointer<Scalar>
    private let second: UnsafeMutableBufferPointer<Scalar>
    public private(set) var stepCount = 0

    public init(_ config: OptimizerConfig, parameterCount: Int) {
        self.config = config
        first = .allocate(capacity: parameterCount)
        first.initialize(repeating: 0)
        second = .allocate(capacity: config.kind == .adam ? parameterCount : 0)
        second.initialize(repeating: 0)
    }

    deinit {
        first.deallocate()
        second.deallocate()
    }

    /// One update of the model's trainable parameters.
    public func step(_ model: MLP<Scalar>) {
        let lr = config.learningRate(atStep: stepCount)
        stepCount += 1
        let theta = model.parameters.baseAddress!
        let grad = model.gradients.baseAddress!
        let range = model.trainableOffset..<model.parameterCount
        switch config.kind {
        case .sgd:
            let eta = Scalar(lr)
            if config.momentum == 0 {
                for i in range { theta[i] -= eta * grad[i] }
            } else {
                let mu = Scalar(config.momentum)
                let v = first.baseAddress!
                for i in range {
                    v[i] = mu * v[i] + grad[i]
                    theta[i] -= eta * v[i]
                }
            }
        case .adam:
            let b1 = Scalar(config.beta1), b2 = Scalar(config.beta2)
            let correction1 = 1 - Foundation.pow(config.beta1, Double(stepCount))
            let correction2 = 1 - Foundation.pow(config.beta2, Double(stepCount))
            let stepSize = Scalar(lr / correction1)
            let invSqrtCorrection2 = Scalar(1 / correction2.squareRoot())
            let eps = Scalar(config.epsilon)
            let m = first.baseAddress!, v = second.baseAddress!
            for i in range {
                let g = grad[i]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                theta[i] -= stepSize * m[i] / ((v[i]).squareRoot() * invSqrtCorrection2 + eps)
            }
        }
    }
}

import Foundation
