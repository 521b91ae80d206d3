"""``budget=None`` means "exact, whatever it costs" (issue 30, item 3):
``trace="auto"`` takes the exact trace at any m, the spectrum is exact
wherever its Jacobian fits ``spectrum_bytes`` (matrix-free above, with the
reason), one warning at construction says what a measurement will cost,
and an explicit ``trace="hutchinson"`` stays Hutchinson. The chunk sizes
count what the backwards hold (measure.activation_bytes), checked here
against counts made by hand; test_memory.py measures the resulting peaks."""

import warnings

import pytest
import torch
from torch import nn

from conftest import relative_error
from reference_jacobian import explicit
from spectop_probe import Probe, ProbeWarning
from spectop_probe.measure import (ModelFunction, _probe_batch, activation_bytes, hutchinson_chunk,
                                   per_sample_chunk)


def mlp(d=6, w=16, C=40, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, w), nn.Tanh(), nn.Linear(w, w), nn.Tanh(), nn.Linear(w, C)).double()


def batch(n=120, d=6, C=40, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64), torch.randint(0, C, (n,), generator=generator)


def test_budget_none_takes_the_exact_trace_above_exact_max_outputs_and_warns_once():
    """m = 120 x 40 = 4,800 > exact_max_outputs = 4,096: exact (the value of
    an explicit float64 Jacobian), one warning naming m and the predicted
    seconds; under trace="hutchinson" the same probe estimates."""
    net, (x, y) = mlp(), batch()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = Probe(net, x, y, loss="cross_entropy", out=None, budget=None, dtype=torch.float64, spectrum=False)
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "m = 4800 outputs" in said[0] and "per measurement" in said[0], said
    assert " s per measurement" in said[0] or " ms per measurement" in said[0], said
    result = probe.measure(0)
    assert not result.chi_net_estimate and result.hutchinson_vectors == 0
    assert relative_error(result.chi_net, explicit(net, x, y)["chi_net"]) <= 1e-10
    estimated = Probe(net, x, y, loss="cross_entropy", out=None, budget=None, dtype=torch.float64, spectrum=False,
                      trace="hutchinson", hutchinson_vectors=4).measure(0)
    assert estimated.chi_net_estimate and estimated.hutchinson_vectors == 4


def test_under_exact_max_outputs_no_warning():
    net, (x, y) = mlp(C=10), batch(n=40, C=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Probe(net, x, y, loss="cross_entropy", out=None, budget=None, dtype=torch.float64, spectrum=False)
    assert not [w for w in caught if issubclass(w.category, ProbeWarning)]


def test_budget_none_spectrum_is_exact_wherever_the_jacobian_fits():
    """m = 2,100 is above the default crossover (m <= 2,048) that a budget
    uses: with budget=None the spectrum is exact (its eigenvalues those of
    the explicit Jacobian's JJᵀ) because J fits spectrum_bytes; with a
    spectrum_bytes it does not fit, matrix-free, and the reason says so."""
    net, (x, y) = mlp(C=20), batch(n=105, C=20)
    result = Probe(net, x, y, loss="cross_entropy", out=None, budget=None, dtype=torch.float64).measure(0)
    s = result.spectrum
    assert s.method == "exact" and "budget = None" in s.method_reason, s.method_reason
    expected = explicit(net, x, y)["eigenvalues"]
    assert float((torch.tensor(s.eigenvalues, dtype=torch.float64) - expected).abs().max()) <= 1e-9 * float(expected[0])
    small = Probe(net, x, y, loss="cross_entropy", out=None, budget=None, dtype=torch.float64,
                  spectrum_bytes=16 << 20, top_k=4).measure(0).spectrum
    assert small.method == "lanczos" and "above spectrum_bytes" in small.method_reason, small.method_reason


def test_activation_bytes_count_what_autograd_saves_and_one_backward_holds():
    """For Linear -> Tanh -> Linear on n items of width w, autograd saves,
    beyond the parameters, the tanh's output (n*w numbers; the second
    Linear saves that same tensor) and the first Linear's input, the
    probe's private copy of the n x d inputs (every forward gets one, so
    that a model writing its inputs writes the copy); one backward then
    holds the gradients of the hidden activations (two n*w tensors at most
    at once) and the parameter gradients."""
    n, d, w, C = 50, 7, 30, 3
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(d, w), nn.Tanh(), nn.Linear(w, C))
    function = ModelFunction(net, [name for name, _ in net.named_parameters()], torch.float32, readout=None)
    probe_batch, _, _ = _probe_batch(function, ((torch.randn(n, d),), {}))
    saved, backward = activation_bytes(function, probe_batch)
    assert saved == (n * w + n * d) * 4
    parameters = sum(p.numel() for p in net.parameters())
    assert n * w * 4 <= backward <= (2 * n * w + parameters) * 4, (backward, n * w * 4)


def test_chunks_count_the_backwards():
    """A chunk of k Hutchinson vectors holds k backwards besides the
    vectors' own buffers; a per-sample chunk of I items and O outputs
    holds I*(s + O*(row + b))."""
    outputs, parameters, backward = 1000, 500, 10_000
    per_vector = outputs * 9 + parameters * 4 + backward
    assert hutchinson_chunk(parameters, outputs, 4, 3 * per_vector, 32, backward) == 3
    assert hutchinson_chunk(parameters, outputs, 4, 3 * per_vector - 1, 32, backward) == 2
    assert hutchinson_chunk(parameters, outputs, 4, 3 * per_vector, 32) > 3   # uncounted, more fit
    row, s, b = 400, 3000, 2000
    O, I = per_sample_chunk(row, s, b, items=100, per_item=10, chunk_bytes=s + 4 * (row + b))
    assert (O, I) == (4, 1)
    O, I = per_sample_chunk(row, s, b, items=100, per_item=10, chunk_bytes=7 * (s + 10 * (row + b)))
    assert (O, I) == (10, 7)
    assert per_sample_chunk(row, s, b, items=100, per_item=10, chunk_bytes=1) == (1, 1)   # never none
