"""The matrix-free spectrum (spectrum.py, the port of spectop's
MatrixFreeSpectrum/SpectralDensity) against exact float64 spectra.

On kernels Θ = J Jᵀ of real networks (explicit float64 Jacobians) it must
give: the top k eigenvalues to 1e-8 relative and their exact mode weights,
the rest weight, λ_eff and χ_pos; an estimated histogram whose cumulative
distribution is within 0.05 of the exact one at every bin boundary
(Kolmogorov distance); the exact spectrum bin for bin where the Krylov space
is complete; at least m − P zeros for a rank-deficient kernel; and an r_eff
interval that holds the exact r_eff in at least 95 of 100 independent
estimates. Then through the Probe: a causal LM with an attention mask and
padding, which the per-sample route cannot take, gets a lanczos spectrum
whose head equals its explicit Jacobian's, with a record line the contract
accepts; a spectrum that fails is a warning and an event, never an
exception; a non-finite kernel is a divergence."""

import json
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from masked_lm import masked_lm, padded_batch
from spectop_probe import Probe, ProbeWarning
from spectop_probe.spectrum import (BIN_COUNT, MatrixFreeSettings, NonFiniteKernel, bin_of, density_boundaries,
                                    exact_cumulative, kolmogorov_distance, log10_edges, matrix_free_spectrum)
from test_against_jacobian import tiny_lm


def kernel_of(model, inputs, labels):
    """(Θ, g, P) in float64: the explicit Jacobian of the whole batch and the
    cross-entropy residual (softmax − onehot)/n."""
    theta = {n: p.detach() for n, p in model.named_parameters()}
    args, kwargs = ((), inputs) if isinstance(inputs, dict) else ((inputs,), {})

    def outputs(t):
        return functional_call(model, t, args, kwargs).reshape(-1)

    jac = jacrev(outputs)(theta)
    m = next(iter(jac.values())).shape[0]
    J = torch.cat([j.reshape(m, -1) for j in jac.values()], dim=1)
    with torch.no_grad():
        F = outputs(theta)
    C = int(labels.numel() and m // labels.numel())
    F = F.reshape(-1, C)
    g = (torch.softmax(F, 1) - nn.functional.one_hot(labels.reshape(-1), C)) / F.shape[0]
    return J @ J.T, g.reshape(-1), J.shape[1]


def mlp_kernel(seed, activation=nn.ReLU, n=60, d=16, width=32, C=10, depth=2):
    torch.manual_seed(seed)
    layers, fan_in = [], d
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), activation()]
        fan_in = width
    model = nn.Sequential(*layers, nn.Linear(fan_in, C)).double()
    x = torch.randn(n, d, dtype=torch.float64)
    y = torch.randint(0, C, (n,))
    return kernel_of(model, x, y)


def lm_kernel(seed, items=4):
    model = tiny_lm(seed)
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 5, (items, 5), generator=generator)
    return kernel_of(model, tokens[:, :-1], tokens[:, 1:])


class Exact:
    """The exact spectrum of a dense Θ and its derived numbers."""

    def __init__(self, theta, g):
        values, vectors = torch.linalg.eigh(theta)
        self.values = values.flip(0).clamp_min(0).numpy()
        self.vectors = vectors.flip(1).numpy()
        self.g = g.numpy()
        unit = self.g / np.linalg.norm(self.g)
        self.weights = (self.vectors.T @ unit) ** 2
        self.lambda_eff = float(unit @ theta.numpy() @ unit)
        self.r_eff = float(np.sum(self.values >= self.lambda_eff)) / self.values.size
        self.trace = float(self.values.sum())


def estimate(theta, g, seed=0, null_dimension=0, **settings):
    matrix = theta.to(torch.float64)
    return matrix_free_spectrum(lambda block: block @ matrix, theta.shape[0], g.numpy(), float(torch.trace(theta)),
                                null_dimension=null_dimension, settings=MatrixFreeSettings(seed=seed, **settings))


@pytest.fixture(scope="module")
def kernels():
    """Four kernels at m = 600 (60 samples x 10 classes): relu and tanh MLPs,
    a deeper narrow one, and a wide shallow one."""
    return {
        "relu": mlp_kernel(0),
        "tanh": mlp_kernel(1, nn.Tanh),
        "relu-deep": mlp_kernel(2, depth=3, width=24),
        "gelu-wide": mlp_kernel(3, nn.GELU, width=64, depth=1),
    }


def test_the_head_and_the_residual_are_exact(kernels):
    for name, (theta, g, _) in kernels.items():
        exact = Exact(theta, g)
        result = estimate(theta, g)
        k = len(result.eigenvalues)
        assert k == 32 and result.mode_count == 600
        head = np.array(result.eigenvalues)
        assert np.max(np.abs(head - exact.values[:k]) / exact.values[:k]) < 1e-8, name
        # Exact mode weights (the spectra here have no repeated eigenvalues in the head).
        assert np.max(np.abs(np.array(result.weights) - exact.weights[:k])) < 1e-9, name
        assert result.rest_weight == pytest.approx(1 - exact.weights[:k].sum(), abs=1e-9)
        assert result.lambda_eff == pytest.approx(exact.lambda_eff, rel=1e-12)
        assert result.chi_pos == pytest.approx(exact.lambda_eff / exact.trace, rel=1e-12)
        # The residual's weight per bin: all of its weight, with the ≈0 bin's.
        d = result.density
        assert sum(d.residual_weights) + d.near_zero_weight == pytest.approx(1.0, abs=2e-3), name


# The configured size, and the smallest the budget may take in its place
# (MatrixFreeSettings.reduced_sizes: top-8, 40 quadrature steps): the
# histogram's and r_eff's contracts hold for both.
SIZES = {"configured": {}, "budget-floor": dict(top_k=MatrixFreeSettings.FEWEST_TOP_K,
                                                steps=MatrixFreeSettings.FEWEST_STEPS)}


def test_the_budgets_floor_is_the_smallest_reduced_size():
    sizes = MatrixFreeSettings().reduced_sizes()
    assert [(s.top_k, s.steps) for s in sizes] == [(32, 48), (16, 48), (8, 48), (8, 40)]
    assert (sizes[-1].top_k, sizes[-1].steps) == (SIZES["budget-floor"]["top_k"], SIZES["budget-floor"]["steps"])
    # Never above the configured size, never below a floor it was already under.
    assert [(s.top_k, s.steps) for s in MatrixFreeSettings(top_k=5, steps=30).reduced_sizes()] == [(5, 30)]
    assert [(s.top_k, s.steps) for s in MatrixFreeSettings(top_k=12, steps=44).reduced_sizes()] == [(12, 44), (8, 44),
                                                                                                     (8, 40)]


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_histogram_is_within_0_05_of_the_exact_one(kernels, size):
    distances = {}
    for name, (theta, g, _) in kernels.items():
        exact = Exact(theta, g)
        result = estimate(theta, g, **SIZES[size])
        assert len(result.eigenvalues) == SIZES[size].get("top_k", 32)
        distances[name] = kolmogorov_distance(result.density, exact.values, exact.values[0])
        d = result.density
        assert len(d.log10_edges) == BIN_COUNT + 1 and len(d.counts) == BIN_COUNT
        assert len(d.counts_uncertainty) == BIN_COUNT and len(d.residual_weights) == BIN_COUNT
        assert d.marker_bin == bin_of(result.lambda_eff, d.log10_edges)
    assert max(distances.values()) <= 0.05, distances


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_r_eff_lies_within_its_stated_uncertainty_in_95_of_100_estimates(kernels, size):
    """100 independent estimates (25 seeds on each of the four kernels), as
    spectop's engine test does: the stated ~95% interval must hold the exact
    r_eff at least 95 times. The uncertainties must also be informative:
    far narrower than r_eff's range."""
    held, widths, errors = 0, [], []
    for name, (theta, g, _) in kernels.items():
        exact = Exact(theta, g)
        p = exact.values[exact.values > 0] / exact.trace
        effective_rank = math.exp(-(p * np.log(p)).sum())
        ranks = []
        for seed in range(25):
            result = estimate(theta, g, seed=1000 + seed, **SIZES[size])
            error = abs(result.r_eff - exact.r_eff)
            held += error <= result.r_eff_uncertainty
            widths.append(result.r_eff_uncertainty)
            errors.append(error)
            ranks.append(result.effective_rank / effective_rank)
        # The effective rank is an estimate without a stated uncertainty (the
        # entropy's random-start average): measured within 7% on average here
        # (the quadrature biases -p log p near 0), and never wild. With fewer
        # head eigenpairs more of its entropy is estimated: single estimates
        # came within 0.34 of it at top-32 and within 0.57 at the budget's
        # floor (top-8), the mean within 6% at both (docs/METHOD.md).
        wild = 0.5 if size == "configured" else 0.65
        assert abs(np.mean(ranks) - 1) < 0.1 and max(abs(np.array(ranks) - 1)) < wild, (name, ranks)
    assert held >= 95, "r_eff within its interval in %d of 100 estimates" % held
    assert np.mean(widths) < 0.05 and np.mean(errors) < np.mean(widths)
    print("r_eff: %d of 100 within; mean half-width %.4f, mean error %.4f" % (held, np.mean(widths), np.mean(errors)))


def test_a_complete_space_counts_exactly():
    """m = 60 outputs, 8 in the head, 7 × 48 vectors: the space spans the
    rest, so the counts, the residual weights and r_eff are the exact
    spectrum's, bin for bin, with no uncertainty."""
    theta, g, _ = lm_kernel(0, items=3)
    assert theta.shape[0] == 60
    exact = Exact(theta, g)
    result = estimate(theta, g, top_k=8)
    d = result.density
    edges = d.log10_edges
    expected = np.zeros(len(edges) - 1, dtype=int)
    weights = np.zeros(len(edges) - 1)
    threshold = exact.values[0] * 1e-12
    for value, weight in zip(exact.values, exact.weights):
        if value >= threshold:
            expected[bin_of(value, edges)] += 1
            weights[bin_of(value, edges)] += weight
    assert d.counts == expected.tolist()
    assert d.near_zero_count == int(np.sum(exact.values < threshold))
    assert d.counts_uncertainty == [0.0] * len(d.counts)
    assert np.max(np.abs(np.array(d.residual_weights) - weights)) < 1e-9
    assert result.r_eff == pytest.approx(exact.r_eff, abs=1e-12) and result.r_eff_uncertainty == 0


def test_a_rank_deficient_kernel_keeps_its_null_space():
    """m = 600 > P = 273: at least m − P eigenvalues are 0; the estimate puts
    them in the ≈0 bin (spectop's known null floor) and stays within 0.05."""
    theta, g, P = mlp_kernel(4, n=60, d=8, width=16, depth=1)
    m = theta.shape[0]
    assert P < m
    exact = Exact(theta, g)
    result = estimate(theta, g, null_dimension=m - P)
    assert result.density.near_zero_count >= m - P
    assert kolmogorov_distance(result.density, exact.values, exact.values[0]) <= 0.05


def test_the_kolmogorov_distance_measures_what_it_should():
    """The helper the tests rely on: zero for the exact binning, large for a
    histogram shifted by a bin."""
    theta, g, _ = lm_kernel(1, items=3)
    exact = Exact(theta, g)
    result = estimate(theta, g, top_k=8)     # complete: exact counts
    assert kolmogorov_distance(result.density, exact.values, exact.values[0]) <= 0.5 / 60 + 1e-12
    shifted = result.density
    shifted.counts = [0] + shifted.counts[:-1]
    assert kolmogorov_distance(shifted, exact.values, exact.values[0]) > 0.05
    assert exact_cumulative(exact.values, [exact.values[0] * 2])[0] == 1.0
    assert len(density_boundaries(result.density, exact.values[0])) == BIN_COUNT
    assert log10_edges(1.0, 1.0, 4) == [-0.5, -0.25, 0.0, 0.25, 0.5]


def test_a_non_finite_product_is_said():
    theta, g, _ = lm_kernel(0, items=3)

    def poisoned(block):
        out = block @ theta
        out[0, 0] = float("nan")
        return out

    with pytest.raises(NonFiniteKernel):
        matrix_free_spectrum(poisoned, 60, g.numpy(), 1.0, settings=MatrixFreeSettings(top_k=8))


# ---------------------------------------------------------------- through the probe


def lm_probe_batch(items=6, block=8, vocab=11):
    lengths = [block - (i % 4) for i in range(items)]  # right padding of 0..3 tokens
    inputs = padded_batch(seed=2, items=items, block=block, vocab=vocab, lengths=lengths)
    del inputs["use_cache"]  # the Probe takes tensors (non-tensor keywords are another issue's)
    labels = torch.roll(inputs["input_ids"], -1, dims=1)
    return inputs, labels


@pytest.mark.parametrize("items,vocab,width", [(6, 11, 8), (8, 13, 12)], ids=["m528-complete", "m832-estimated"])
def test_a_masked_lm_gets_a_lanczos_spectrum_equal_to_its_explicit_jacobian(tmp_path, items, vocab, width):
    """A causal LM with an attention mask and right padding: beside a
    Hutchinson χ_net the spectrum is matrix-free; its head equals the
    explicit float64 Jacobian's eigenvalues, its weights and λ_eff are exact,
    r_eff holds within its interval, and the record line has what
    docs/RECORD.md asks of a lanczos spectrum. At m = 528 (P = 867) the
    Krylov space is complete, so the histogram is the exact one; at m = 832
    (P = 1,729) it is estimated, and 148 of the eigenvalues are exact zeros
    that Lanczos cannot tell from the smallest positive ones (METHOD.md,
    "Where it is coarse"), so its histogram is not compared here."""
    model = masked_lm(seed=3, vocab=vocab, block=8, width=width, depth=1)
    inputs, labels = lm_probe_batch(items=items, vocab=vocab)
    theta, g, P = kernel_of(model, inputs, labels)
    m = theta.shape[0]
    exact = Exact(theta, g)
    out = tmp_path / "lm.jsonl"
    with Probe(model, inputs, labels, loss="cross_entropy", every=1, out=str(out), dtype=torch.float64,
               trace="hutchinson", hutchinson_vectors=8, name="lm") as probe:
        result = probe.measure(0)
    s = result.spectrum
    assert s.method == "lanczos" and "Hutchinson" in s.method_reason and s.mode_count == m == items * 8 * vocab
    head = np.array(s.eigenvalues)
    assert np.max(np.abs(head - exact.values[:32]) / exact.values[:32]) < 1e-8
    # Exact weights; where eigenvalues (nearly) repeat only their sum is
    # defined, so the cumulative weights are compared at the gaps.
    gaps = np.flatnonzero(head[:-1] - head[1:] > 1e-6 * head[:-1])
    cumulative = np.cumsum(s.weights)[gaps]
    assert np.max(np.abs(cumulative - np.cumsum(exact.weights[:32])[gaps])) < 1e-8 and len(gaps) >= 24
    assert s.lambda_eff == pytest.approx(exact.lambda_eff, rel=1e-10)
    assert abs(s.r_eff - exact.r_eff) <= s.r_eff_uncertainty + 1e-12
    if m == 528:
        assert kolmogorov_distance(s.density, exact.values, exact.values[0]) <= 0.5 / m
        assert s.r_eff_uncertainty == 0
    else:
        assert s.r_eff_uncertainty > 0
    # χ_pos from the spectrum uses the step's (estimated) χ_net as the trace.
    assert s.chi_pos_exact == pytest.approx(s.lambda_eff / result.chi_net, rel=1e-12)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    line = [l for l in lines if l["type"] == "spectrum"][0]
    assert line["method"] == "lanczos" and line["mode_count"] == m and line["method_reason"] == s.method_reason
    assert line["eigenvalues"] == pytest.approx(s.eigenvalues, rel=1e-15)
    assert line["density"]["counts"] == s.density.counts
    assert line["rest_weight"] == pytest.approx(s.rest_weight, rel=1e-15)
    assert line["r_eff_uncertainty"] == pytest.approx(s.r_eff_uncertainty, rel=1e-15)


def test_the_per_sample_route_failing_takes_the_exact_spectrum_whole_batch():
    """The per-sample route cannot split the masked LM (vmap fails on its
    data-dependent mask); with spectrum_method "exact" the Jacobian's rows
    then come from whole-batch products instead, and the spectrum is exact:
    every eigenvalue of the explicit float64 kernel, without a warning."""
    model = masked_lm(seed=3, vocab=11, block=8, width=8, depth=1)
    inputs, labels = lm_probe_batch()
    theta, g, P = kernel_of(model, inputs, labels)
    exact = Exact(theta, g)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = Probe(model, inputs, labels, loss="cross_entropy", out=None, dtype=torch.float64,
                      trace="hutchinson", hutchinson_vectors=4, spectrum_method="exact")
        result = probe.measure(0)
    assert not [w for w in caught if issubclass(w.category, ProbeWarning)]
    s = result.spectrum
    assert s is not None and s.method == "exact" and len(s.eigenvalues) == theta.shape[0]
    assert np.max(np.abs(np.array(s.eigenvalues) - exact.values)) <= 1e-10 * exact.values[0]
    assert s.lambda_eff == pytest.approx(exact.lambda_eff, rel=1e-10)


def test_a_spectrum_that_fails_is_a_warning_and_an_event_not_an_exception(tmp_path):
    """ARPACK held to one restart cannot converge: each measurement goes on
    without a spectrum, the probe warns once and records an `error` event."""
    model = masked_lm(seed=3, vocab=11, block=8, width=8, depth=1)
    inputs, labels = lm_probe_batch()
    out = tmp_path / "failed.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Probe(model, inputs, labels, loss="cross_entropy", every=1, out=str(out), dtype=torch.float64,
                   trace="hutchinson", hutchinson_vectors=4, name="lm") as probe:
            probe.settings.matrix_free.max_restarts = 1
            probe.settings.matrix_free.tolerance = 1e-15
            results = [probe.step(step) for step in range(3)]
    assert all(r is not None and r.spectrum is None and r.diverged is None for r in results)
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "ARPACK" in said[0], said
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    events = [l for l in lines if l["type"] == "event"]
    assert [e["event"] for e in events] == ["error"] * 3 and "ARPACK" in events[0]["detail"]
    assert [l["step"] for l in lines if l["type"] == "step"] == [0, 1, 2]


def test_matrix_free_spectra_are_spaced_by_their_cost():
    """The first matrix-free spectrum is always taken; later ones only while
    the spectra so far stay within spectrum_share of the training time
    (training "steps" of 50 ms here, spectra of a few ms at most: each
    measurement may take one at share 0.25, none at share 0); exact spectra
    are not spaced."""
    import time as clock
    model = masked_lm(seed=3, vocab=11, block=8, width=8, depth=1)
    inputs, labels = lm_probe_batch()

    def run(share, **options):
        probe = Probe(model, inputs, labels, loss="cross_entropy", every=2, out=None, dtype=torch.float64,
                      trace="hutchinson", hutchinson_vectors=2, top_k=8, spectrum_share=share, **options)
        taken = []
        for step in range(7):
            if step:
                clock.sleep(0.05)
            result = probe.step(step)
            if result is not None:
                taken.append(result.spectrum is not None)
        return taken

    assert run(None) == [True] * 4
    assert run(0.0) == [True, False, False, False]
    assert run(1e9) == [True] * 4
    from test_against_jacobian import tiny_lm
    tokens = torch.randint(0, 5, (3, 5), generator=torch.Generator().manual_seed(0))
    probe = Probe(tiny_lm(), tokens[:, :-1], tokens[:, 1:], loss="cross_entropy", every=1, out=None,
                  dtype=torch.float64, spectrum_share=0.0)
    assert all(probe.step(step).spectrum.method == "exact" for step in range(3))


def test_arpacks_blas_runs_on_one_thread_and_is_restored():
    """While ARPACK runs, the OpenBLAS libraries loaded (SciPy's, NumPy's) run
    one thread each, so that their spinning threads do not compete with
    torch's in the products; afterwards their counts are as they were."""
    from spectop_probe.spectrum import _loaded_openblas
    libraries = _loaded_openblas()
    if not libraries:
        pytest.skip("no OpenBLAS found in /proc/self/maps (not Linux, or another BLAS)")
    for _, set_threads in libraries:
        set_threads(2)
    theta, g, _ = lm_kernel(0, items=3)
    seen = []

    def apply(block):
        seen.append([int(get()) for get, _ in libraries])
        return block @ theta

    try:
        matrix_free_spectrum(apply, 60, g.numpy(), 1.0, settings=MatrixFreeSettings(top_k=8))
        after = [int(get()) for get, _ in libraries]
    finally:
        for _, set_threads in libraries:
            set_threads(1)  # as conftest loaded them
    arpack = [s for s in seen[:8]]  # ARPACK's products come first
    assert arpack and all(counts == [1] * len(libraries) for counts in arpack)
    assert after == [2] * len(libraries)
