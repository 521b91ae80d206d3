"""Matrix-free eNTK spectra: the method of spectop's engine, ported.

docs/METHOD.md "Past the exact limit" defines it; the Swift sources are
Sources/SpectralCore/Metrics/MatrixFreeSpectrum.swift, SpectralDensity.swift
and TopEigenpairs.swift. Given only products ``Θ V`` (``apply``: a block of
vectors as rows, ``[b, m] -> [b, m]``), it returns

- the head: the top ``k`` eigenpairs by ARPACK's implicitly restarted
  Lanczos (SciPy's ``eigsh`` on a ``LinearOperator``), their exact mode
  weights ``w_k = (v_k·ĝ)²`` and the weight left outside them;
- λ_eff = ĝᵀΘĝ exactly (one product), χ_pos = λ_eff / Tr Θ;
- the rest by block stochastic Lanczos quadrature, deflated by the head: the
  estimated log-binned histogram with ~95% half-widths per bin, the residual
  weight per bin, r_eff ± its half-width, and the effective rank.

Everything here is NumPy float64 on the CPU; the products may come from any
device and precision (the caller converts). Where this differs from the
Swift code it says so, and docs/METHOD.md lists the differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch

# Eigenvalues below this fraction of λ_1 are ≈0 (METHOD.md "Numerical conventions").
NEAR_ZERO_FRACTION = 1e-12
# Log-spaced bins of a histogram (spectop's SpectrumHistogram.defaultBinCount).
BIN_COUNT = 24


class SpectrumFailure(Exception):
    """The matrix-free spectrum could not be computed (ARPACK did not
    converge, a product failed on some rank): no spectrum at this step, the
    training goes on."""


class NonFiniteKernel(Exception):
    """A product Θv was not finite: the eNTK is not finite (a divergence)."""


# ---------------------------------------------------------------- settings


@dataclass
class MatrixFreeSettings:
    """How much work one matrix-free spectrum does (spectop's MatrixFreeSettings).

    The defaults are the engine's: 32 head eigenpairs, 6 random starts (fewer
    at large m, see :meth:`random_starts`) and ĝ as one block, 48 block
    Lanczos steps. ``tolerance`` is ARPACK's relative residual bound; None
    takes 1e-10 (the engine's) for float64 products and 1e-6 for float32,
    whose products carry a relative round-off of about 1e-7 of ‖Θ‖ that no
    Ritz pair can go below (asking 1e-10 of them only spends restarts)."""
    top_k: int = 32
    starts: int = 6
    steps: int = 48
    tolerance: Optional[float] = None
    seed: int = 0x5107
    max_restarts: int = 300

    # m·s at which s Rademacher starts have a standard error of at most 0.005
    # in every fraction they estimate (1/√(m·s)): a tenth of the Kolmogorov
    # distance the tests allow.
    START_COVERAGE = 40_000
    # Below 4 starts the Student-t factor of the stated uncertainty (4.30 at
    # 3 starts) would widen it far past the error it describes.
    FEWEST_SCALED_STARTS = 4

    # The smallest spectrum the probe's budget may take in place of the
    # configured one (budget.py): at least 8 head eigenpairs and 40 block
    # Lanczos steps. Measured on the four m = 600 MLP kernels of
    # python/tests/test_matrix_free.py (3 seeds each): at top-8 with 48
    # steps the Kolmogorov distance to the exact histogram was 0.013-0.028,
    # with 40 steps 0.015-0.040, with 32 steps up to 0.052 and with 24 up to
    # 0.117 (the 0.05 contract broken); the random starts are not reduced
    # (their count is already the engine's coverage rule). Fewer head
    # eigenpairs do not make the histogram less honest (the head is exact
    # either way, and its counts_uncertainty is stated); below 8, ARPACK
    # took more products, not fewer (top-4: 49-67 against top-8: 32-46).
    FEWEST_TOP_K = 8
    FEWEST_STEPS = 40

    def reduced_sizes(self) -> List["MatrixFreeSettings"]:
        """The sizes the budget may take, dearest first: these settings,
        then ``top_k`` halved down to :attr:`FEWEST_TOP_K`, then the block
        Lanczos steps down to :attr:`FEWEST_STEPS` (never below either
        floor, never above the configured size)."""
        from dataclasses import replace
        sizes = [self]
        k_floor = min(self.top_k, self.FEWEST_TOP_K)
        k = self.top_k
        while k > k_floor:
            k = max(k_floor, k // 2)
            sizes.append(replace(self, top_k=k))
        steps_floor = min(self.steps, self.FEWEST_STEPS)
        if self.steps > steps_floor:
            sizes.append(replace(sizes[-1], steps=steps_floor))
        return sizes

    def random_starts(self, m: int) -> int:
        """The engine's rule: one start's estimate of any fraction p has
        variance at most 2 min(p, 1 − p)/m ≤ 1/m, so s starts have a standard
        error of at most 1/√(m·s); take the fewest s with m·s ≥ 40,000,
        between 4 and ``starts`` (6 below m = 8,000, 5 below 10,000, 4 from
        10,000)."""
        configured = max(2, int(self.starts))
        if configured <= self.FEWEST_SCALED_STARTS or m <= 0:
            return configured
        needed = (self.START_COVERAGE + m - 1) // m
        return min(configured, max(self.FEWEST_SCALED_STARTS, needed))

    def block_size(self, m: int) -> int:
        """The quadrature's block: the random starts and ĝ."""
        return self.random_starts(m) + 1

    def quadrature_products(self, m: int) -> int:
        """Products besides ARPACK's: the block steps, and λ_eff's."""
        return self.steps * self.block_size(m) + 1

    def arpack_vectors(self, m: int) -> int:
        """ARPACK's Lanczos vectors, ncv = 2k + 1 (the engine's choice: on
        its benchmark 3k and 4k took more products)."""
        return min(m, 2 * self.top_k + 1)

    def workspace_bytes(self, m: int) -> int:
        """Float64 bytes of the m-sized buffers one spectrum holds at once:
        ARPACK's basis and work vectors, the head, the block Krylov basis,
        the starts and a block of products, ĝ and Θĝ; plus the projected
        matrix. (The engine's MatrixFreeWorkspace: 353·m doubles at
        m = 10,240 with the defaults.)"""
        b = self.block_size(m)
        order = b * self.steps
        vectors = self.arpack_vectors(m) + 4 + self.top_k + order + 2 * b + 2
        return 8 * (m * vectors + 2 * order * order)

    def arpack_tolerance(self, float64_products: bool) -> float:
        if self.tolerance is not None:
            return float(self.tolerance)
        return 1e-10 if float64_products else 1e-6


# ---------------------------------------------------------------- results


@dataclass
class Density:
    """The estimated histogram of a lanczos spectrum: the record's ``density``
    object (docs/RECORD.md), field for field."""
    log10_edges: List[float]
    counts: List[int]
    counts_uncertainty: List[float]
    residual_weights: List[float]
    near_zero_count: int
    near_zero_weight: float
    marker_bin: Optional[int]


@dataclass
class MatrixFreeResult:
    eigenvalues: List[float]           # the head, descending, clamped at 0
    weights: List[float]               # its exact mode weights; empty when ĝ is undefined
    rest_weight: float                 # 1 − Σ weights (0 when ĝ is undefined)
    lambda_eff: Optional[float]        # ĝᵀΘĝ, exact
    chi_pos: Optional[float]           # λ_eff / trace
    r_eff: Optional[float]
    r_eff_uncertainty: Optional[float]
    effective_rank: float
    density: Density
    mode_count: int
    products: int                      # Θv products taken (vectors)
    arpack_products: int
    seconds_arpack: float = 0.0
    seconds_quadrature: float = 0.0


# ---------------------------------------------------------------- histogram helpers (SpectrumHistogram)


def log10_edges(smallest: float, largest: float, bins: int = BIN_COUNT) -> List[float]:
    """Log10-spaced bin edges from ``smallest`` to ``largest``; a spectrum
    narrower than 1e-9 decades gets one decade around it (spectop's
    SpectrumHistogram.log10Edges)."""
    bins = max(1, bins)
    low, high = math.log10(smallest), math.log10(largest)
    if high - low < 1e-9:
        low -= 0.5
        high += 0.5
    width = (high - low) / bins
    return [low + k * width for k in range(bins + 1)]


def bin_of(value: float, edges: Sequence[float]) -> int:
    """The bin of a value at or above the ≈0 threshold; below the first edge
    the first bin, above the last the last one."""
    bins = len(edges) - 1
    low, width = edges[0], (edges[bins] - edges[0]) / bins
    position = math.floor((math.log10(value) - low) / width) if value > 0 else -math.inf
    if not math.isfinite(position):
        return bins - 1 if position > 0 else 0
    return int(min(bins - 1, max(0, position)))


def exact_cumulative(eigenvalues: np.ndarray, boundaries: Sequence[float]) -> np.ndarray:
    """Fraction of ``eigenvalues`` strictly below each boundary (for comparing
    an estimated histogram with an exact spectrum)."""
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    return np.searchsorted(values, np.asarray(boundaries, dtype=np.float64), side="left") / values.size


def density_boundaries(density: Density, lambda_one: float) -> List[float]:
    """Where a density's cumulative counts are defined: the ≈0 threshold, the
    inner edges, and λ_1 (everything)."""
    edges = density.log10_edges
    return [lambda_one * NEAR_ZERO_FRACTION] + [10 ** e for e in edges[1:-1]]


def kolmogorov_distance(density: Density, exact_eigenvalues: np.ndarray, lambda_one: float) -> float:
    """The largest difference between the estimated cumulative distribution
    (the ≈0 count, then the bins' counts, over m) and the exact one at every
    bin boundary, as the engine's tests measure it."""
    m = np.asarray(exact_eigenvalues).size
    boundaries = density_boundaries(density, lambda_one)
    estimated = np.cumsum([density.near_zero_count] + list(density.counts[:-1])) / m
    exact = exact_cumulative(exact_eigenvalues, boundaries)
    return float(np.max(np.abs(estimated - exact)))


# ---------------------------------------------------------------- Gauss quadrature (GaussQuadrature)


# The 97.5% quantiles of Student's t with 1..30 degrees of freedom.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def student_t975(dof: int) -> float:
    """A mean of N starts ± t·SE holds the truth with 95% probability."""
    if dof < 1:
        return math.inf
    return _T975[dof - 1] if dof <= len(_T975) else 1.96 + 2.4 / dof


@dataclass
class GaussQuadrature:
    """One start's rule: nodes θ_k (ascending) and weights τ_k with
    Σ τ_k f(θ_k) ≈ zᵀ f(Θ) z, i.e. the spectral measure of z."""
    nodes: np.ndarray
    weights: np.ndarray
    is_exact: bool = False       # the rule is the measure itself
    is_complete: bool = False    # the nodes are all of Θ's nonzero eigenvalues outside the head

    def mass_below(self, x: float) -> Tuple[float, float]:
        """The measure's mass strictly below x, with the half-width of the
        Chebyshev–Markov–Stieltjes bound: the true distribution function and
        the rule's staircase cross at every node, so between nodes
        θ_p < x < θ_{p+1} the mass lies in (Σ_{k<p} τ_k, Σ_{k≤p+1} τ_k). The
        estimate takes the middle of each step at its node and interpolates
        linearly in log λ between nodes (the histogram's own scale); outside
        the nodes it keeps the staircase value with the whole end step as the
        bound. An exact rule is its own staircase."""
        s = self.nodes.size
        if s == 0:
            return 0.0, 0.0
        p = int(np.searchsorted(self.nodes, x, side="left"))  # nodes strictly below x
        below = float(self.weights[:p].sum())
        if self.is_exact:
            return below, 0.0
        if p == 0:
            return 0.0, float(self.weights[0])
        if p == s:
            return below, float(self.weights[s - 1])
        left, right = float(self.weights[p - 1]), float(self.weights[p])
        lower_bound, upper_bound = below - left, below + right
        at_left, at_right = below - left / 2, below + right / 2
        a, b = float(self.nodes[p - 1]), float(self.nodes[p])
        t = math.log(x / a) / math.log(b / a) if a > 0 else (x - a) / (b - a)
        estimate = at_left + min(1.0, max(0.0, t)) * (at_right - at_left)
        return estimate, max(estimate - lower_bound, upper_bound - estimate)

    def integrate(self, f: Callable[[np.ndarray], np.ndarray]) -> float:
        return float(np.dot(self.weights, f(self.nodes)))


@dataclass
class StartAverage:
    """Several starts' estimates of one number: the mean and its ~95%
    half-width, Student t over the starts (the stochastic error) plus the
    mean quadrature bound (each rule's deterministic error)."""
    mean: float
    standard_error: float
    uncertainty: float

    @classmethod
    def of(cls, estimates: Sequence[float], bounds: Sequence[float]) -> "StartAverage":
        n = len(estimates)
        mean = float(sum(estimates)) / n
        variance = sum((e - mean) ** 2 for e in estimates) / (n - 1) if n > 1 else 0.0
        se = math.sqrt(variance / n)
        # One estimate is an exact count (a complete space), not a sample: no spread.
        spread = student_t975(n - 1) * se if n > 1 else 0.0
        return cls(mean, se, spread + float(sum(bounds)) / n)


# ---------------------------------------------------------------- block Lanczos (SpectralDensity, BlockLanczos)


class _BlockLanczos:
    """Block Lanczos on the complement of the head, fully reorthogonalised;
    the projected matrix T = Qᵀ(ΘQ) formed from the products themselves, so
    it is Θ's exact Rayleigh quotient on the space even where a column had to
    be replaced (SpectralDensity.swift's BlockLanczos, with the same passes
    and thresholds). The basis and its GEMMs are torch float64 tensors on the
    operator's device: on the CPU they run on torch's threads (the ones the
    training uses), not on a second BLAS pool that would compete with them."""

    def __init__(self, apply, m: int, b: int, steps: int, deflation, seed: int, device):
        self.apply, self.m, self.b, self.steps = apply, m, b, steps
        self.order = b * steps
        self.deflation = deflation if deflation is not None and deflation.shape[0] > 0 else None
        self.k = 0 if self.deflation is None else self.deflation.shape[0]
        self.device = device
        self.basis = torch.zeros((self.order, m), dtype=torch.float64, device=device)
        self.projected = torch.zeros((self.order, self.order), dtype=torch.float64, device=device)
        self.generator = np.random.default_rng(seed)
        self.zero_columns = 0

    @staticmethod
    def _project(v, against) -> None:
        """v (rows × m) −= (v Fᵀ) F: one block Gram–Schmidt pass, two GEMMs."""
        if against.shape[0]:
            v -= (v @ against.T) @ against

    def _orthogonalise(self, v, known: int) -> None:
        """Twice against the head and the first ``known`` basis vectors."""
        for _ in range(2):
            if self.deflation is not None:
                self._project(v, self.deflation)
            self._project(v, self.basis[:known])

    def _orthonormalise_block(self, known: int, rows: int, scale: float) -> None:
        """The ``rows`` vectors at basis[known:] among themselves (already
        orthogonal to everything before); a vector whose length is round-off
        relative to ``scale`` is replaced by a random one orthogonal to all."""
        for j in range(rows):
            v = self.basis[known + j:known + j + 1]
            for _ in range(2):
                self._project(v, self.basis[known:known + j])
            length = float(torch.linalg.vector_norm(v))
            if not length > 1e-10 * scale:
                v.copy_(torch.from_numpy(self.generator.standard_normal((1, self.m))).to(self.device))
                self._orthogonalise(v, known)
                for _ in range(2):
                    self._project(v, self.basis[known:known + j])
                length = float(torch.linalg.vector_norm(v))
                if not length > 1e-8:
                    # Nothing is left outside the space: a zero column, whose
                    # zero row and column in T are dropped from the rules.
                    self.zero_columns += 1
                    length = math.inf
            v /= length

    def begin(self, starts) -> Tuple[np.ndarray, np.ndarray]:
        """The starts' parts outside the head, z'_j, become the first block:
        their squared norms are the rules' masses and their coordinates in it
        (R₀ = Q₀ Z'ᵀ) carry them into every rule."""
        z = starts.clone()
        for _ in range(2):
            if self.deflation is not None:
                self._project(z, self.deflation)
        lengths = torch.linalg.vector_norm(z, dim=1)
        masses = (lengths ** 2).cpu().numpy()
        self.basis[:self.b] = z
        self._orthonormalise_block(0, self.b, float(lengths.max()) if lengths.numel() else 0.0)
        first = (self.basis[:self.b] @ z.T).cpu().numpy()    # [b basis rows, b starts]
        return masses, first

    def _next_block(self, nxt, column, step: int, known: int) -> None:
        """Θ's block orthogonalised in place, and T's column block Qᵀ W from
        the same coefficients: the last two blocks first (the Lanczos
        recurrence), then the head, then the whole basis; where that last pass
        removed more than half of a vector, two more full passes (the
        twice-is-enough test of Daniel, Gragg, Kaufman and Stewart)."""
        local = max(0, step - 1) * self.b
        c = self.basis[local:known] @ nxt.T
        nxt -= c.T @ self.basis[local:known]
        column[:local] = 0
        column[local:known] = c
        if self.deflation is not None:
            self._project(nxt, self.deflation)
        before = torch.linalg.vector_norm(nxt, dim=1)
        h = self.basis[:known] @ nxt.T
        nxt -= h.T @ self.basis[:known]
        column[:known] += h
        if bool(torch.any(torch.linalg.vector_norm(nxt, dim=1) < 0.5 * before)):
            self._orthogonalise(nxt, known)

    def run(self) -> Tuple[int, bool]:
        """The block steps. Returns the steps used and whether the space
        turned invariant (every rule exact)."""
        b = self.b
        scale = 0.0
        for step in range(self.steps):
            current = self.basis[step * b:(step + 1) * b]
            products = self.apply(current)
            known = (step + 1) * b
            columns = slice(step * b, (step + 1) * b)
            if step + 1 == self.steps:
                self.projected[:known, columns] = self.basis[:known] @ products.T
                return self.steps, False
            nxt = products.clone()
            column = torch.zeros((known, b), dtype=torch.float64, device=self.device)
            self._next_block(nxt, column, step, known)
            self.projected[:known, columns] = column
            scale = max(scale, float(column.abs().max()))
            lost = int(torch.sum(torch.linalg.vector_norm(nxt, dim=1) <= 1e-10 * scale))
            self.basis[known:known + b] = nxt
            if lost == b:
                return step + 1, True
            self._orthonormalise_block(known, b, scale)
        return self.steps, False

    def symmetrised(self, size: int) -> np.ndarray:
        """T's leading size × size part made exactly symmetric: the blocks
        above the diagonal were computed and are mirrored; the diagonal
        blocks are averaged with their transposes."""
        t = self.projected[:size, :size].cpu().numpy()
        upper = np.triu(t, 1)
        out = upper + upper.T
        for start in range(0, size, self.b):
            block = slice(start, min(size, start + self.b))
            d = t[block, block]
            out[block, block] = (d + d.T) / 2
        return out

    def spans_the_complement(self, ritz: np.ndarray, size: int, exhausted: bool) -> bool:
        """True when the space holds every eigenvector outside the head: it is
        as large as that complement (less the zero columns), or it turned
        invariant with no nonzero Ritz value repeated b times (an invariant
        space holding b random starts meets each eigenspace in
        min(multiplicity, b) dimensions, and every eigenvector with a nonzero
        eigenvalue has a part along some start)."""
        if size - self.zero_columns + self.k >= self.m:
            return True
        if not exhausted:
            return False
        values = np.sort(ritz)
        largest = max(abs(values[0]), abs(values[-1])) if values.size else 0.0
        nonzero = values[values > 1e-10 * largest]
        longest = 1 if nonzero.size else 0
        run = 1
        for a, nxt in zip(nonzero[:-1], nonzero[1:]):
            run = run + 1 if nxt - a <= 1e-8 * largest else 1
            longest = max(longest, run)
        return longest < self.b


def block_quadratures(apply, starts, steps: int, deflation=None, seed: int = 0xB10C) -> List[GaussQuadrature]:
    """One Gauss rule per row of ``starts`` (``[b, m]``, a float64 tensor on
    the operator's device) from ``steps`` block Lanczos steps on the
    complement of the orthonormal rows of ``deflation``: the Ritz values of Θ
    on the block Krylov space, and start j's weights (its coordinates in the
    first block times the Ritz vectors' first-block components)², rescaled to
    its mass outside the head.

    Why one block space instead of one run per start: each rule then has b·s
    nodes instead of s for the same products, and it is still exact for
    polynomials of degree 2s − 1. Why deflate: λ_1 is often 10²–10³ times the
    bulk, and without the head the nodes spread up to it and few land in the
    decades where most eigenvalues are. Why reorthogonalise fully: without it
    a multiple eigenvalue (the exact null space of a rank-deficient kernel
    above all) is not resolved."""
    b, m = starts.shape
    k = 0 if deflation is None else deflation.shape[0]
    # Enough steps to span the whole complement of the head, and no more.
    s = max(1, min(steps, (m - k + b - 1) // b))
    lanczos = _BlockLanczos(apply, m, b, s, deflation, seed, starts.device)
    masses, first = lanczos.begin(starts)
    used, exhausted = lanczos.run()
    size = used * b
    # LAPACK syevd (through torch: its threads), ascending; the order is at most b·s = 336.
    ritz, vectors = (t.numpy() for t in torch.linalg.eigh(torch.from_numpy(lanczos.symmetrised(size))))
    complete = lanczos.spans_the_complement(ritz, size, exhausted)
    exact = exhausted or complete
    keep = np.ones(size, dtype=bool)
    if lanczos.zero_columns:
        # The zero columns' exact zeros: the nodes nearest 0, whose weights are 0.
        keep[np.argsort(np.abs(ritz), kind="stable")[:lanczos.zero_columns]] = False
    nodes = ritz[keep]
    components = first.T @ vectors[:b, keep]     # [starts, nodes]: Σ_i R₀[i, j] Y[i, k]
    rules = []
    for j in range(b):
        weights = components[j] ** 2
        total = weights.sum()
        if total > 0:
            weights = weights * (masses[j] / total)
        rules.append(GaussQuadrature(nodes.copy(), weights, is_exact=exact or masses[j] == 0, is_complete=complete))
    return rules


# ---------------------------------------------------------------- the head (TopEigenpairs)


_OPENBLAS_THREAD_SYMBOLS = (("openblas_get_num_threads", "openblas_set_num_threads"),
                            ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                            ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                            ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"))


class one_blas_thread:
    """ARPACK's BLAS (SciPy's and NumPy's OpenBLAS) on one thread while it
    runs. Its calls are small (ncv vectors of m), and after each one
    OpenBLAS's own threads keep spinning for a while, beside torch's threads
    in the product that follows: more threads than cores. (On a shared
    two-core machine, NumPy GEMMs of the Lanczos basis beside torch ran 8×
    slower with OpenBLAS's two threads than with one; that is why the
    quadrature's GEMMs are torch's.) threadpoolctl does this where it is
    installed; without it, on Linux, the OpenBLAS libraries the process has
    loaded are found in /proc/self/maps and set directly. Elsewhere this does
    nothing."""

    def __enter__(self):
        self._restore = []
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            threadpool_limits = None
        if threadpool_limits is not None:
            self._limits = threadpool_limits(limits=1, user_api="blas")
            return self
        self._limits = None
        for get, set_ in _loaded_openblas():
            try:
                before = int(get())
                set_(1)
                self._restore.append((set_, before))
            except Exception:  # a library that refuses: leave it as it is
                continue
        return self

    def __exit__(self, *exc):
        if self._limits is not None:
            self._limits.restore_original_limits()
        for set_, before in self._restore:
            set_(before)
        return False


def _loaded_openblas():
    """(get, set) thread-count functions of every OpenBLAS loaded (Linux)."""
    import ctypes
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _OPENBLAS_THREAD_SYMBOLS:
            if hasattr(library, get) and hasattr(library, set_):
                found.append((getattr(library, get), getattr(library, set_)))
                break
    return found


def top_eigenpairs(apply, m: int, k: int, tolerance: float, seed: int, max_restarts: int = 300,
                   device=None):
    """(λ_1 ≥ … ≥ λ_k as a NumPy array, their unit eigenvectors as the rows
    of a float64 tensor [k, m] on ``device``, products): ARPACK through
    SciPy's ``eigsh`` (``which="LA"``, ncv = 2k + 1, a seeded start; the
    engine's dsaupd/dseupd settings). For a symmetric operator each
    eigenvalue's error is at most its residual, ``tolerance`` relative.
    ``apply`` takes and returns float64 tensors [b, m] on ``device``."""
    try:
        from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh
    except ImportError:
        raise SpectrumFailure("the matrix-free spectrum needs SciPy's ARPACK: pip install scipy") from None

    if not 1 <= k < m:
        raise SpectrumFailure("top-k of %d eigenpairs needs 1 <= k < m, and the kernel has m = %d rows" % (k, m))
    device = device or torch.device("cpu")
    count = [0]

    def matmat(x):
        x = np.asarray(x, dtype=np.float64).reshape(m, -1)
        count[0] += x.shape[1]
        block = torch.from_numpy(np.ascontiguousarray(x.T)).to(device)
        return apply(block).cpu().numpy().T

    operator = LinearOperator((m, m), matvec=matmat, matmat=matmat, dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(m)
    try:
        with one_blas_thread():
            values, vectors = eigsh(operator, k=k, which="LA", ncv=min(m, 2 * k + 1), tol=tolerance, v0=start,
                                    maxiter=max_restarts)
    except ArpackNoConvergence as error:
        raise SpectrumFailure("ARPACK found %d of %d eigenpairs within its restart budget (%d restarts, "
                              "tolerance %.0e)" % (len(error.eigenvalues), k, max_restarts, tolerance)) from None
    except ArpackError as error:
        raise SpectrumFailure("ARPACK failed: %s" % error) from None
    order = np.argsort(values)[::-1]
    head = torch.from_numpy(np.ascontiguousarray(vectors[:, order].T)).to(device)
    return values[order], head, count[0]


# ---------------------------------------------------------------- the spectrum (MatrixFreeSpectrum)


def _random_rules(rules: List[GaussQuadrature], count: int, m: int, k: int) -> List[GaussQuadrature]:
    """The random starts' rules; a complete space knows every eigenvalue, and
    one exact rule with mass 1/m on each (and on each zero it did not hold)
    then replaces their estimates."""
    if not rules[0].is_complete:
        return rules[:count]
    zeros = max(0, m - k - rules[0].nodes.size)
    nodes = np.sort(np.concatenate([np.zeros(zeros), rules[0].nodes]))
    return [GaussQuadrature(nodes, np.full(nodes.size, 1.0 / m), is_exact=True)]


class _BinLayout:
    """The histogram's bins for a head and its rules, and the distribution
    functions the counts, residual weights and r_eff come from."""

    def __init__(self, lam: np.ndarray, random: List[GaussQuadrature], m: int, bins: int):
        self.lam, self.m, self.k = lam, m, lam.size
        self.uniform_head = np.full(lam.size, 1.0 / m)
        lambda_one = float(lam[0])
        self.threshold = lambda_one * NEAR_ZERO_FRACTION
        # Between the smallest quadrature node at or above the ≈0 threshold
        # (nodes carrying under 1% of one mode's share are round-off) and λ_1.
        above = lam[lam >= self.threshold]
        smallest = float(above.min()) if above.size else lambda_one
        for rule in random:
            mask = (rule.weights > 0.01 / m) & (rule.nodes >= self.threshold)
            if mask.any():
                smallest = min(smallest, float(rule.nodes[mask].min()))
        self.edges = log10_edges(min(smallest, lambda_one), lambda_one, bins)
        self.bins = len(self.edges) - 1
        self.boundaries = [self.threshold] + [10 ** e for e in self.edges[1:-1]]

    def mass_below(self, x: float, rule: GaussQuadrature, head: np.ndarray) -> Tuple[float, float]:
        """Mass below x for one start: its head part exactly (1/m per mode for
        a random start, w_k for ĝ), the rest from its rule."""
        estimate, bound = rule.mass_below(x)
        return float(head[self.lam < x].sum()) + estimate, bound

    def bin_masses(self, rule: GaussQuadrature, head: np.ndarray) -> Tuple[List[float], List[float]]:
        """The ≈0 mass and each bin's, with their quadrature error bounds."""
        below = [self.mass_below(x, rule, head) for x in self.boundaries]
        total = float(head.sum()) + float(rule.weights.sum())
        masses, bounds = [below[0][0]], [below[0][1]]
        for b in range(self.bins):
            lower = below[b]
            upper = below[b + 1] if b + 1 < len(below) else (total, 0.0)
            masses.append(upper[0] - lower[0])
            bounds.append(upper[1] + lower[1])
        return masses, bounds

    def histogram(self, random, residual, residual_weights: np.ndarray, lambda_eff: Optional[float],
                  null_dimension: int) -> Density:
        m = self.m
        per_start = [self.bin_masses(rule, self.uniform_head) for rule in random]
        averages = [StartAverage.of([masses[b] * m for masses, _ in per_start],
                                    [bounds[b] * m for _, bounds in per_start]) for b in range(self.bins + 1)]
        # Whole counts from the rounded running total, so the cumulative
        # counts are the estimate's to within ½ (rounding each bin alone would
        # let the errors add up across bins). The total never falls below the
        # known null space: Θ = JJᵀ has at least m − P zero eigenvalues, which
        # Lanczos cannot place below 1e-12·λ_1 in a few dozen steps when small
        # positive eigenvalues sit near them.
        cumulative, previous, rounded = 0.0, 0, []
        for average in averages:
            cumulative += average.mean
            total = int(_round_half_away(max(float(null_dimension), cumulative)))
            rounded.append(max(0, total - previous))
            previous = max(previous, total)
        weights = [0.0] * self.bins
        near_zero_weight = 0.0
        if residual is not None:
            masses, _ = self.bin_masses(residual, residual_weights)
            near_zero_weight = max(0.0, masses[0])
            weights = [max(0.0, w) for w in masses[1:]]
        marker = None
        if lambda_eff is not None and math.isfinite(lambda_eff) and lambda_eff >= self.threshold:
            marker = bin_of(lambda_eff, self.edges)
        return Density(log10_edges=list(self.edges), counts=rounded[1:],
                       counts_uncertainty=[a.uncertainty for a in averages[1:]], residual_weights=weights,
                       near_zero_count=rounded[0], near_zero_weight=near_zero_weight, marker_bin=marker)

    def effective_radius(self, lambda_eff: float, random, repeated: bool) -> Tuple[float, float]:
        """r_eff: exact when λ_eff lies within the head ARPACK found (unless
        the head may have missed copies of a repeated eigenvalue); otherwise
        the starts' fraction at or above λ_eff, never below the k head modes
        known to lie above it."""
        k, m = self.k, self.m
        if lambda_eff >= self.lam[k - 1] and not repeated:
            return float(np.sum(self.lam >= lambda_eff)) / m, 0.0
        above = []
        for rule in random:
            below, bound = self.mass_below(lambda_eff, rule, self.uniform_head)
            above.append((k / m + float(rule.weights.sum()) - below, bound))
        average = StartAverage.of([a for a, _ in above], [b for _, b in above])
        return min(1.0, max(k / m, average.mean)), average.uncertainty


def _round_half_away(x: float) -> float:
    """Swift's ``rounded()`` (half away from zero), not Python's banker's rounding."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _effective_rank(lam: np.ndarray, random, m: int, trace: float) -> float:
    """exp(entropy of λ/TrΘ): the head's terms exactly, the rest by the rules."""
    if not trace > 0:
        return 0.0

    def term(values):
        p = np.maximum(0.0, np.asarray(values, dtype=np.float64)) / trace
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)

    head = float(term(lam).sum())
    rest = sum(m * rule.integrate(term) for rule in random) / len(random)
    return math.exp(head + rest)


def matrix_free_spectrum(apply, m: int, g: Optional[np.ndarray], trace: float, null_dimension: int = 0,
                         repeated_eigenvalues: bool = False, settings: Optional[MatrixFreeSettings] = None,
                         float64_products: bool = True, bins: int = BIN_COUNT, device=None,
                         clock: Optional[Callable[[], float]] = None) -> MatrixFreeResult:
    """The spectrum of the m × m operator ``apply`` past the exact limit
    (MatrixFreeSpectrum.analyze): the head exactly, the rest by quadrature.

    ``apply`` takes a float64 tensor ``[b, m]`` on ``device`` (b vectors as
    rows) and returns Θ applied to each, likewise. ``g``: the residual
    gradient (length m) or None; ``trace``: Tr Θ (for χ_pos and the
    effective rank); ``null_dimension``: the zeros Θ is known to have
    (m − P); ``repeated_eigenvalues``: Θ has every eigenvalue C-fold (a
    readout-only kernel), so r_eff is never taken from the head;
    ``float64_products``: the products carry float64 round-off (ARPACK's
    tolerance follows); ``clock``: times its two parts (``seconds_arpack``,
    ``seconds_quadrature``; the probe passes its own clock, on which its
    budget predicts a spectrum's cost), ``time.perf_counter`` if None."""
    import time

    clock = clock or time.perf_counter

    settings = settings or MatrixFreeSettings()
    device = device or torch.device("cpu")
    k = settings.top_k
    products = [0]

    def counted(block):
        products[0] += block.shape[0]
        out = apply(block)
        if not bool(torch.isfinite(out).all()):
            raise NonFiniteKernel("a product Θv is not finite")
        return out

    started = clock()
    values, head, arpack_products = top_eigenpairs(counted, m, k, settings.arpack_tolerance(float64_products),
                                                   settings.seed, settings.max_restarts, device)
    seconds_arpack = clock() - started
    lam = np.maximum(values, 0.0)

    unit = None
    if g is not None:
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(g))
        if norm > 0 and math.isfinite(norm) and trace > 0 and math.isfinite(trace):
            unit = torch.from_numpy(g / norm).to(device)

    # The quadrature's starts: Rademacher/√m (E[zzᵀ] = I/m exactly, ‖z‖ = 1
    # always), and ĝ last, whose rule is the residual's weight per range.
    random_count = settings.random_starts(m)
    rng = np.random.default_rng(settings.seed ^ 0x51A9)
    starts = torch.from_numpy((rng.integers(0, 2, size=(random_count, m)) * 2.0 - 1.0) / math.sqrt(m)).to(device)
    if unit is not None:
        starts = torch.cat([starts, unit[None, :]])
    rules = block_quadratures(counted, starts, settings.steps, deflation=head, seed=settings.seed ^ 0xB10C)
    random = _random_rules(rules, random_count, m, k)

    weights = np.zeros(0)
    lambda_eff = chi_pos = None
    if unit is not None:
        weights = ((head @ unit) ** 2).cpu().numpy()
        lambda_eff = float(unit @ counted(unit[None, :])[0])
        chi_pos = lambda_eff / trace
    seconds_quadrature = clock() - started - seconds_arpack

    layout = _BinLayout(lam, random, m, bins)
    density = layout.histogram(random, rules[random_count] if unit is not None else None, weights, lambda_eff,
                               null_dimension)
    r_eff = r_eff_uncertainty = None
    if lambda_eff is not None:
        r_eff, r_eff_uncertainty = layout.effective_radius(lambda_eff, random, repeated_eigenvalues)
    return MatrixFreeResult(
        eigenvalues=lam.tolist(), weights=weights.tolist(),
        rest_weight=max(0.0, 1.0 - float(weights.sum())) if unit is not None else 0.0,
        lambda_eff=lambda_eff, chi_pos=chi_pos, r_eff=r_eff, r_eff_uncertainty=r_eff_uncertainty,
        effective_rank=_effective_rank(lam, random, m, trace), density=density, mode_count=m,
        products=products[0], arpack_products=arpack_products,
        seconds_arpack=seconds_arpack, seconds_quadrature=seconds_quadrature)
