import CLinalg
import Foundation

/// How much work a matrix-free spectrum does (METHOD.md, "Past the exact limit").
public struct MatrixFreeSettings: Sendable, Equatable {
    /// Top eigenpairs ARPACK computes exactly (to `tolerance`): k.
    public var topK: Int
    /// Random starts of stochastic Lanczos quadrature where their spread
    /// matters; fewer at large m (`randomStarts(size:)`).
    public var starts: Int
    /// Block Lanczos steps of the quadrature: each is one batched product of
    /// the block (`blockSize(size:)` vectors) and adds that many nodes to every start's rule.
    public var steps: Int
    /// ARPACK's relative residual tolerance.
    public var tolerance: Double
    public var seed: UInt64

    /// The defaults, 6 starts × 48 block steps (7 vectors with ĝ: 337
    /// products besides ARPACK's, against 881 for the 11 single-vector runs of
    /// 80 steps this replaced), are the cheapest tried that kept the estimated
    /// histograms of the presets' width-32 and width-128 models within 0.04 of
    /// the exact ones (Kolmogorov distance; 6 × 32 reached 0.063, 6 × 24 0.11:
    /// the steps set the polynomial degree, which resolves the lowest decades
    /// of the log-scale bins, and more starts do not replace them).
    public init(topK: Int = 32, starts: Int = 6, steps: Int = 48, tolerance: Double = 1e-10, seed: UInt64 = 0x5107) {
        self.topK = topK; self.starts = starts; self.steps = steps; self.tolerance = tolerance; self.seed = seed
    }

    /// m·s at which s Rademacher starts on m modes have a standard error of
    /// at most 0.005 in every fraction they estimate (1/√(m·s), see
    /// `randomStarts(size:)`): a tenth of the Kolmogorov distance the tests allow.
    public static let startCoverage = 40_000
    /// The fewest random starts `randomStarts(size:)` cuts to: below 4 the
    /// Student-t factor of the stated uncertainty (4.30 at 3 starts, 12.7 at
    /// 2, against 3.18 at 4) would widen it far past the error it describes.
    public static let fewestScaledStarts = 4

    /// Random starts for a kernel of m modes. One start's estimate of the
    /// fraction p of eigenvalues below any x (zᵀPz for the spectral projector
    /// P, Rademacher z/√m) has variance 2(‖P‖²_F − Σ P_ii²)/m² ≤ 2·min(p, 1 − p)/m
    /// ≤ 1/m, so the average of s starts has a standard error of at most
    /// 1/√(m·s) at every bin boundary: at large m a few starts already make
    /// the stochastic error negligible beside the quadrature's own (which the
    /// steps set), and each start costs a vector in every block product.
    /// spectop takes the fewest s with m·s ≥ `startCoverage`, between
    /// `fewestScaledStarts` and `starts`: 6 below m = 8,000, 5 below 10,000,
    /// 4 from 10,000. At m = 10,240 against `dsyevd` on the bench's model
    /// (relu, 30 seeds) 4 starts left the Kolmogorov distance (mean 0.031,
    /// max 0.043; 0.033 and 0.036 with 6) and the r_eff error (1.2e-3;
    /// 1.1e-3 with 6, every interval covering) as they were, in 0.81× the
    /// time; on its tanh twin (20 seeds), whose bulk spans three decades below
    /// a 640-eigenvalue cluster that the head does not deflate, the distance
    /// is the 48 steps' resolution either way (mean 0.119; 0.116 with 6).
    public func randomStarts(size m: Int) -> Int {
        let configured = max(2, starts)
        guard configured > Self.fewestScaledStarts, m > 0 else { return configured }
        let needed = (Self.startCoverage + m - 1) / m
        return min(configured, max(Self.fewestScaledStarts, needed))
    }

    /// Vectors in the quadrature's block at m modes: the random starts (at
    /// least 2, for a spread) and the residual direction ĝ.
    public func blockSize(size m: Int) -> Int { randomStarts(size: m) + 1 }

    /// Products Θv one spectrum of m modes costs besides ARPACK's (which
    /// vary): the quadrature's block steps, and λ_eff.
    public func quadratureProducts(size m: Int) -> Int { steps * blockSize(size: m) + 1 }
}

/// The spectrum past the exact limit: the head exactly (ARPACK top-k with
/// their exact mode weights), the rest by stochastic Lanczos quadrature.
public enum MatrixFreeSpectrum {
    /// The `SpectrumSample` of `op` with `method == .lanczos`: `eigenvalues`
    /// and `weights` are the top k, `restWeight` the residual weight outside
    /// them; λ_eff = ĝᵀΘĝ and χ_pos = λ_eff / Tr Θ are exact; r_eff, the
    /// effective rank and the histogram counts are estimates with ~95% half-widths.
    ///
    /// Its buffers of size m come from `workspace` (one is made when none is
    /// given; the engine keeps one per model), so a spectrum step allocates
    /// only its small results.
    public static func analyze(_ op: NTKOperator, residualGradient g: [Double], step: Int, settings: MatrixFreeSettings,
                               workspace given: MatrixFreeWorkspace? = nil, binCount: Int = SpectrumHistogram.defaultBinCount,
                               interrupted: () -> Bool = { false }) throws(TopEigenpairs.Failure) -> SpectrumSample {
        let m = op.size
        precondition(g.count == m, "residual gradient does not match the operator")
        let workspace = given ?? MatrixFreeWorkspace(size: m, settings: settings)
        precondition(workspace.fits(size: m, settings: settings), "matrix-free workspace too small")
        let top = try TopEigenpairs.compute(op, k: settings.topK, tolerance: settings.tolerance, seed: settings.seed,
                                            workspace: workspace, interrupted: interrupted)
        let lambda = top.eigenvalues.map { max(0, $0) }
        let trace = op.trace()
        let residualDefined = unitResidual(g, into: workspace.unitResidual, trace: trace)

        // The quadrature sees only the complement of the head: its nodes then
        // resolve the bulk instead of spanning up to λ_1 (SpectralDensity).
        let randomStarts = settings.randomStarts(size: m)
        let block = fillStarts(workspace.starts, size: m, random: randomStarts, residual: residualDefined ? workspace.unitResidual : nil,
                               seed: settings.seed ^ 0x51A9)
        precondition(block <= op.blockCapacity, "the operator's block is smaller than the quadrature's starts")
        let rules = try SpectralDensity.quadratures(op, starts: workspace.starts, count: block, steps: settings.steps,
                                                    deflation: workspace.ritzVectors, deflationCount: settings.topK, workspace: workspace,
                                                    seed: settings.seed ^ 0xB10C, interrupted: interrupted)
        let random = randomRules(rules, count: randomStarts, size: m, head: settings.topK)
        let residual = residualDefined ? exactResidual(op, workspace: workspace, head: settings.topK, trace: trace) : nil

        let layout = BinLayout(lambda: lambda, random: random, size: m, binCount: binCount)
        let histogram = layout.histogram(random: random, residual: residualDefined ? rules[randomStarts] : nil,
                                         residualWeights: residual?.weights ?? [], lambdaEff: residual?.lambdaEff,
                                         nullDimension: op.knownNullDimension)
        let rEff = residual.map { layout.effectiveRadius(lambdaEff: $0.lambdaEff, random: random, repeatedEigenvalues: op.hasStructuralMultiplicity) }
        let weights = residual?.weights ?? []
        return SpectrumSample(step: step, eigenvalues: lambda, weights: weights, chiPosExact: residual?.chiPos,
                              lambdaEff: residual?.lambdaEff, rEff: rEff?.value,
                              effectiveRank: effectiveRank(head: lambda, random: random, size: m, trace: trace), histogram: histogram,
                              method: .lanczos, modeCount: m, rEffUncertainty: rEff?.uncertainty,
                              restWeight: residualDefined ? max(0, 1 - weights.reduce(0, +)) : 0)
    }

    /// ĝ = g/‖g‖ into `unit`; false (nothing written) when the residual
    /// direction is undefined: g = 0 or not finite, or Tr Θ not positive.
    private static func unitResidual(_ g: [Double], into unit: UnsafeMutablePointer<Double>, trace: Double) -> Bool {
        let gNorm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard gNorm > 0 && gNorm.isFinite && trace > 0 && trace.isFinite else { return false }
        for i in g.indices { unit[i] = g[i] / gNorm }
        return true
    }

    /// The quadrature's starts, one per column of `starts`: Rademacher/√m
    /// (E[zzᵀ] = I/m exactly, and ‖z‖ = 1 always, which keeps the variance
    /// lowest among simple choices), and ĝ itself last, whose rule is the
    /// residual's weight per eigenvalue range. Returns the block size.
    private static func fillStarts(_ starts: UnsafeMutablePointer<Double>, size m: Int, random: Int,
                                   residual: UnsafeMutablePointer<Double>?, seed: UInt64) -> Int {
        var generator = SeededGenerator(seed: seed)
        let entry = 1 / Double(m).squareRoot()
        for j in 0..<random {
            for i in 0..<m { starts[j * m + i] = (generator.next() & 1) == 0 ? -entry : entry }
        }
        guard let residual else { return random }
        (starts + random * m).update(from: UnsafePointer(residual), count: m)
        return random + 1
    }

    /// The random starts' rules. A complete space knows every eigenvalue: one
    /// exact rule with mass 1/m on each (and on each zero it did not hold)
    /// then replaces the random starts' estimates.
    private static func randomRules(_ rules: [GaussQuadrature], count: Int, size m: Int, head k: Int) -> [GaussQuadrature] {
        guard rules[0].isComplete else { return Array(rules.prefix(count)) }
        let zeros = max(0, m - k - rules[0].nodes.count)
        return [GaussQuadrature(nodes: ([Double](repeating: 0, count: zeros) + rules[0].nodes).sorted(),
                                weights: [Double](repeating: 1 / Double(m), count: zeros + rules[0].nodes.count), isExact: true)]
    }

    /// The exact numbers of the residual: the head's mode weights (ĝ·v_j)²,
    /// λ_eff = ĝᵀΘĝ and χ_pos = λ_eff / Tr Θ.
    private static func exactResidual(_ op: NTKOperator, workspace: MatrixFreeWorkspace, head k: Int,
                                      trace: Double) -> (weights: [Double], lambdaEff: Double, chiPos: Double) {
        let m = op.size
        let unit = workspace.unitResidual, head = workspace.ritzVectors
        let weights = (0..<k).map { j in
            let dot = cblas_ddot(Int32(m), head + j * m, 1, unit, 1)
            return dot * dot
        }
        op.apply(UnsafePointer(unit), workspace.thetaResidual, count: 1)
        let effective = cblas_ddot(Int32(m), unit, 1, workspace.thetaResidual, 1)
        return (weights, effective, effective / trace)
    }

    /// exp(entropy of λ/TrΘ): the entropy is tr f(Θ) for f(λ) = −(λ/T) log(λ/T),
    /// a smooth f, so the head gives its terms exactly and the rules the rest.
    private static func effectiveRank(head lambda: [Double], random: [GaussQuadrature], size m: Int, trace: Double) -> Double {
        guard trace > 0 else { return 0 }
        func entropyTerm(_ value: Double) -> Double {
            let p = max(0, value) / trace
            return p > 0 ? -p * Foundation.log(p) : 0
        }
        let headEntropy = lambda.reduce(0) { $0 + entropyTerm($1) }
        let entropy = headEntropy + random.map { Double(m) * $0.integrate(entropyTerm) }.reduce(0, +) / Double(random.count)
        return Foundation.exp(entropy)
    }

    /// The histogram's bins for a head and its rules, and the distribution
    /// functions the counts, residual weights and r_eff come from.
    private struct BinLayout {
        /// The top k eigenvalues, descending, clamped at 0.
        let lambda: [Double]
        let m: Int
        /// Eigenvalues below this are ≈0 (as in the exact binning).
        let threshold: Double
        let edges: [Double]
        /// Where the distribution function is evaluated: ≈0 below `threshold`,
        /// bin b from edge b (bin 0 from the threshold) to edge b+1, the last bin open above.
        let boundaries: [Double]
        var k: Int { lambda.count }
        var bins: Int { edges.count - 1 }
        /// Each head mode carries 1/m of a random start.
        let uniformHead: [Double]

        /// Bins as the exact binning's, between the smallest quadrature node at
        /// or above the ≈0 threshold (Ritz values converge to the extremes
        /// first) and λ_1 from ARPACK.
        init(lambda: [Double], random: [GaussQuadrature], size m: Int, binCount: Int) {
            self.lambda = lambda
            self.m = m
            uniformHead = [Double](repeating: 1 / Double(m), count: lambda.count)
            let lambdaOne = lambda[0]
            threshold = lambdaOne * SpectrumHistogram.nearZeroFraction
            // Nodes carrying under 1% of one mode's share (1/m) are round-off, not spectrum.
            let threshold = self.threshold
            var smallest = lambda.filter { $0 >= threshold }.min() ?? lambdaOne
            for rule in random {
                for (node, weight) in zip(rule.nodes, rule.weights) where weight > 0.01 / Double(m) && node >= threshold {
                    smallest = min(smallest, node)
                }
            }
            let edges = SpectrumHistogram.log10Edges(smallest: min(smallest, lambdaOne), largest: lambdaOne, binCount: binCount)
            self.edges = edges
            boundaries = [threshold] + (1..<(edges.count - 1)).map { Foundation.pow(10, edges[$0]) }
        }

        /// Mass below x for one start: its head part exactly (`head` holds each
        /// head mode's share: 1/m for a random start, w_k for the residual), the rest from its rule.
        func massBelow(_ x: Double, _ rule: GaussQuadrature, head: [Double]) -> (estimate: Double, bound: Double) {
            let tail = rule.massBelow(x)
            var exact = 0.0
            for j in 0..<k where lambda[j] < x { exact += head[j] }
            return (exact + tail.estimate, tail.bound)
        }

        /// The ≈0 mass and each bin's, with their quadrature error bounds.
        func binMasses(_ rule: GaussQuadrature, head: [Double]) -> (masses: [Double], bounds: [Double]) {
            let below = boundaries.map { massBelow($0, rule, head: head) }
            let total = head.reduce(0, +) + rule.weights.reduce(0, +)
            var masses = [below[0].estimate], bounds = [below[0].bound]
            for b in 0..<bins {
                let lower = below[b], upper = b + 1 < below.count ? below[b + 1] : (estimate: total, bound: 0.0)
                masses.append(upper.estimate - lower.estimate)
                bounds.append(upper.bound + lower.bound)
            }
            return (masses, bounds)
        }

        /// The estimated histogram: counts averaged over the random starts with
        /// their uncertainties, the residual's weight per bin from its own rule.
        func histogram(random: [GaussQuadrature], residual: GaussQuadrature?, residualWeights: [Double], lambdaEff: Double?,
                       nullDimension: Int) -> SpectrumHistogram {
            let perStart = random.map { binMasses($0, head: uniformHead) }
            let averages = (0...bins).map { b in
                StartAverage(estimates: perStart.map { $0.masses[b] * Double(m) }, bounds: perStart.map { $0.bounds[b] * Double(m) })
            }
            // Whole counts from the rounded running total, so the cumulative
            // distribution of the counts is the estimate's to within ½ (rounding
            // each bin alone would let the errors add up across bins). The total
            // never falls below the known null space: Θ = JJᵀ has at least m − P
            // zero eigenvalues (P trainable parameters), which Lanczos cannot place
            // below 1e-12·λ_1 in a few dozen steps when small positive eigenvalues
            // sit near them (its null Ritz value stalls in between).
            var cumulative = 0.0, previousTotal = 0
            var rounded: [Int] = []
            for average in averages {
                cumulative += average.mean
                let total = Int(max(Double(nullDimension), cumulative).rounded())
                rounded.append(max(0, total - previousTotal))
                previousTotal = max(previousTotal, total)
            }
            var weights = Array(repeating: 0.0, count: bins)
            var nearZeroWeight = 0.0
            if let residual {
                let masses = binMasses(residual, head: residualWeights).masses
                nearZeroWeight = max(0, masses[0])
                for b in 0..<bins { weights[b] = max(0, masses[b + 1]) }
            }
            var marker: Int?
            if let eff = lambdaEff, eff >= threshold, eff.isFinite { marker = SpectrumHistogram.bin(of: eff, log10Edges: edges) }
            return SpectrumHistogram(log10Edges: edges, counts: Array(rounded.dropFirst()), residualWeights: weights,
                                     nearZeroCount: rounded[0], nearZeroWeight: nearZeroWeight, markerBin: marker,
                                     countUncertainty: averages.dropFirst().map { $0.uncertainty })
        }

        /// r_eff: exact when λ_eff lies within the head ARPACK found; otherwise
        /// the quadrature's fraction at or above λ_eff, never below the k head
        /// modes known to lie above it.
        func effectiveRadius(lambdaEff eff: Double, random: [GaussQuadrature], repeatedEigenvalues: Bool) -> (value: Double, uncertainty: Double) {
            // Only when the head cannot have missed copies of a repeated
            // eigenvalue: a frozen model's readout kernel is K ⊗ I_C, every
            // eigenvalue C-fold, and single-vector Lanczos finds such copies
            // only through round-off.
            if eff >= lambda[k - 1] && !repeatedEigenvalues {
                return (Double(lambda.filter { $0 >= eff }.count) / Double(m), 0)
            }
            let above = random.map { rule -> (Double, Double) in
                let below = massBelow(eff, rule, head: uniformHead)
                return (1 / Double(m) * Double(k) + rule.weights.reduce(0, +) - below.estimate, below.bound)
            }
            let average = StartAverage(estimates: above.map(\.0), bounds: above.map(\.1))
            return (min(1, max(Double(k) / Double(m), average.mean)), average.uncertainty)
        }
    }
}
