/// The shape of a multilayer perceptron: `depth` hidden layers of `width`
/// units between an input of `inputDim` and a linear readout of `outputDim`.
public struct MLPArchitecture: Sendable, Equatable, Codable {
    public var inputDim: Int
    public var width: Int
    public var depth: Int
    public var outputDim: Int
    public var activation: Activation
    public var parameterization: Parameterization
    /// Output scale α multiplying the readout's multipliers: f = α·(readout).
    /// Large α pushes a model towards the lazy (kernel) regime, small α
    /// towards feature learning (Chizat, Oyallon & Bach 2019).
    public var outputScale: Double

    public init(inputDim: Int, width: Int, depth: Int, outputDim: Int,
                activation: Activation = .relu, parameterization: Parameterization = .standard,
                outputScale: Double = 1) {
        self.inputDim = inputDim; self.width = width; self.depth = depth; self.outputDim = outputDim
        self.activation = activation; self.parameterization = parameterization; self.outputScale = outputScale
    }

    /// Checks every size; the message names the offending field.
    public func validate() throws(ConfigurationError) {
        if inputDim < 1 { throw .invalid("input dimension must be at least 1, got \(inputDim)") }
        if depth < 0 { throw .invalid("depth must be 0 or more, got \(depth)") }
        if depth > 0 && width < 1 { throw .invalid("width must be at least 1, got \(width)") }
        if outputDim < 1 { throw .invalid("output dimension must be at least 1, got \(outputDim)") }
        if width > 1 << 16 { throw .invalid("width \(width) is too large (at most 65536)") }
        if !(outputScale > 0 && outputScale.isFinite) { throw .invalid("output scale must be a positive number, got \(outputScale)") }
        if depth > 64 { throw .invalid("depth \(depth) is too large (at most 64)") }
    }

    /// Dense layers: `depth` hidden ones and the readout.
    public var layerCount: Int { depth + 1 }

    /// (fan in, fan out) of dense layer `l`.
    public func layerShape(_ l: Int) -> (fanIn: Int, fanOut: Int) {
        let fanIn = l == 0 ? inputDim : width
        let fanOut = l == depth ? outputDim : width
        return (fanIn, fanOut)
    }

    public var parameterCount: Int {
        (0..<layerCount).reduce(0) { sum, l in
            let (i, o) = layerShape(l)
            return sum + o * i + o
        }
    }
}

/// A configuration value that cannot be used, with a message a user can act on.
public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let message): return message
        }
    }
}
