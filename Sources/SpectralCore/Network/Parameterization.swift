/// How weights are initialised and scaled: each dense layer computes
/// `h = s·(a Wᵀ) + t·b`, and the parameterization chooses the multipliers
/// s (weight) and t (bias) and the initial distribution of W and b.
public enum Parameterization: String, Sendable, CaseIterable, Codable {
    /// PyTorch `nn.Linear` defaults: W, b ~ U(−1/√fan_in, 1/√fan_in), s = t = 1.
    case standard
    /// NTK parameterization (Jacot et al.): W ~ N(0, 1), b = 0,
    /// s = 1/√fan_in, t = 1.
    case ntk
    /// Maximal-update parameterization (Yang & Hu), abc form with one
    /// learning rate for all layers: input layer s = √(width/d) with
    /// W ~ N(0, 1/width); hidden s = 1, W ~ N(0, 1/width); readout
    /// s = 1/√width with W ~ N(0, 1/width), so the output starts near zero and
    /// features move by Θ(1) as width grows. Biases start at 0 with t = 1.
    case mup

    /// (weight multiplier, bias multiplier) for a layer.
    func multipliers(layer: Int, layerCount: Int, fanIn: Int, width: Int) -> (weight: Double, bias: Double) {
        switch self {
        case .standard:
            return (1, 1)
        case .ntk:
            return (1 / Double(fanIn).squareRoot(), 1)
        case .mup:
            if layerCount == 1 { return (1 / Double(fanIn).squareRoot(), 1) }  // no hidden layer: plain linear model
            if layer == 0 { return ((Double(width) / Double(fanIn)).squareRoot(), 1) }
            if layer == layerCount - 1 { return (1 / Double(width).squareRoot(), 1) }
            return (1, 1)
        }
    }

    /// Draws one initial weight.
    func initialWeight(layer: Int, layerCount: Int, fanIn: Int, width: Int, generator: inout SeededGenerator) -> Double {
        switch self {
        case .standard:
            let bound = 1 / Double(fanIn).squareRoot()
            return generator.uniform(-bound, bound)
        case .ntk:
            return generator.gaussian()
        case .mup:
            if layerCount == 1 { return generator.gaussian() }
            return generator.gaussian() / Double(width).squareRoot()
        }
    }

    /// Draws one initial bias.
    func initialBias(fanIn: Int, generator: inout SeededGenerator) -> Double {
        switch self {
        case .standard:
            let bound = 1 / Double(fanIn).squareRoot()
            return generator.uniform(-bound, bound)
        case .ntk, .mup:
            return 0
        }
    }
}
