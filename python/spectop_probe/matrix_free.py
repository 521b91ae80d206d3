"""Which spectrum a measurement takes, and the matrix-free one.

``choose_method`` decides from the sizes alone (so every rank decides the
same): the exact spectrum (the per-sample Jacobian, ``eigh`` in float64)
while ``m = n·C`` is at most ``exact_limit``, forming ``JJᵀ`` costs at most
``DEFAULT_EXACT_FLOPS`` and the Jacobian fits in ``spectrum_bytes``; the
matrix-free one (docs/METHOD.md "Past the exact limit") above, or where χ_net
is a Hutchinson estimate (the route for models
whose per-sample gradients are too costly or impossible, so none are formed
for the spectrum either); none where even that does not fit. The reason goes
into the record (``method_reason``).

``take_matrix_free`` runs it on the probe batch of every rank (the operator
is collective under DDP and FSDP2; rank 0 computes the spectrum, the others
answer its products).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from .entk import EntkOperator
from .spectrum import MatrixFreeResult, MatrixFreeSettings, NonFiniteKernel, SpectrumFailure, matrix_free_spectrum

# Where the exact spectrum stops being the cheaper one, measured with
# bench/probe_cost.py --spectra (docs/METHOD.md "The PyTorch probe's
# spectra"). The exact route's cost is dominated by forming Θ = JJᵀ, 2·m²·P
# flops, so the crossover falls with P: m ≈ 400 for the char-GPT example
# (P = 110,658) and below 320 for a digits MLP of width 256 (P = 85,002),
# both where 2·m²·P is about 2e10. By default the exact route is taken while
# 2·m²·P is at most that, and m at most 2,048 (eigh's m³ and the Jacobian's
# memory then take over; for small P the matrix-free route's cost is
# products of about a millisecond each, and the exact one stays cheaper up
# to there). An exact_limit given by the user replaces both.
DEFAULT_EXACT_LIMIT = 2048
DEFAULT_EXACT_FLOPS = 2e10


@dataclass
class Choice:
    method: Optional[str]    # "exact", "lanczos", or None: no spectrum
    reason: str              # why (the record's method_reason, or the "spectrum" event's detail)


def _gib(n: float) -> str:
    return "%.2f GiB" % (n / 2 ** 30)


def exact_bytes(m: int, parameters: int, itemsize: int) -> int:
    """What the exact spectrum holds at its peak, as measured (python/tests/
    test_memory.py): the Jacobian [m, P] in the measurement dtype (filled in
    place, chunk by chunk) and four float64 m x m matrices (Θ, its
    symmetrised copy, the eigenvectors, eigh's workspace). The per-sample
    chunk and the float64 column block beside them are chunk_bytes at most."""
    return m * parameters * itemsize + 4 * 8 * m * m


def choose_method(m: int, parameters: int, itemsize: int, estimate: bool, spectrum_method: str,
                  exact_limit: Optional[int], spectrum_bytes: int, spectrum_max_outputs: Optional[int],
                  matrix_free: MatrixFreeSettings, any_m: bool = False) -> Choice:
    """The spectrum route for m outputs and P = ``parameters`` trainable
    parameters (measured in ``itemsize``-byte numbers), and why.
    ``exact_limit`` None: the defaults above (m and flops). ``any_m``
    (``budget=None``, "exact, whatever it costs"): with ``exact_limit`` None,
    exact wherever the Jacobian fits ``spectrum_bytes``, whatever m and the
    flops."""
    if spectrum_max_outputs is not None and m > spectrum_max_outputs:
        return Choice(None, "m = n*C = %d outputs is above spectrum_max_outputs = %d" % (m, spectrum_max_outputs))
    jacobian = exact_bytes(m, parameters, itemsize)
    jacobian_reason = ("the Jacobian (m = %d outputs x P = %d parameters) and the kernel need %s, above "
                       "spectrum_bytes = %s" % (m, parameters, _gib(jacobian), _gib(spectrum_bytes)))
    k = matrix_free.top_k
    workspace = matrix_free.workspace_bytes(m)

    def matrix_free_or_none(why: str) -> Choice:
        if k >= m:
            return Choice(None, "%s; and top_k = %d is not below m = %d for a matrix-free one" % (why, k, m))
        if workspace > spectrum_bytes:
            return Choice(None, "%s; and the matrix-free spectrum's vectors need %s, above spectrum_bytes = %s"
                          % (why, _gib(workspace), _gib(spectrum_bytes)))
        return Choice("lanczos", why)

    if spectrum_method == "exact":
        if jacobian > spectrum_bytes:
            return Choice(None, jacobian_reason)
        return Choice("exact", "spectrum_method = \"exact\" (m = %d outputs)" % m)
    if spectrum_method == "lanczos":
        return matrix_free_or_none("spectrum_method = \"lanczos\" (m = %d outputs)" % m)
    if estimate:
        return matrix_free_or_none("χ_net is a Hutchinson estimate (m = %d outputs): no exact spectrum, as in spectop"
                                   % m)
    if any_m and exact_limit is None:
        if jacobian > spectrum_bytes:
            return matrix_free_or_none(jacobian_reason)
        return Choice("exact", "budget = None: the exact spectrum wherever the Jacobian (m = %d outputs x P = %d "
                      "parameters) and the kernel fit spectrum_bytes (%s of %s)"
                      % (m, parameters, _gib(jacobian), _gib(spectrum_bytes)))
    limit = DEFAULT_EXACT_LIMIT if exact_limit is None else exact_limit
    if m > limit:
        return matrix_free_or_none("m = %d outputs is above exact_limit = %d, where the matrix-free spectrum is "
                                   "the cheaper" % (m, limit))
    flops = 2.0 * m * m * parameters
    if exact_limit is None and flops > DEFAULT_EXACT_FLOPS:
        return matrix_free_or_none("forming JJᵀ exactly would cost %.1e flops (2·m²·P, m = %d outputs, P = %d "
                                   "parameters), above %.0e, where the matrix-free spectrum is the cheaper"
                                   % (flops, m, parameters, DEFAULT_EXACT_FLOPS))
    if jacobian > spectrum_bytes:
        return matrix_free_or_none(jacobian_reason)
    if exact_limit is None:
        return Choice("exact", "m = %d outputs is at most exact_limit = %d and JJᵀ costs %.1e flops, at most %.0e"
                      % (m, limit, flops, DEFAULT_EXACT_FLOPS))
    return Choice("exact", "m = %d outputs is at most exact_limit = %d" % (m, limit))


def repeated_eigenvalues(function, C: int) -> bool:
    """A readout-only θ (the recognised nn.Linear readout and nothing else)
    with C > 1 outputs has Θ = K ⊗ I_C, every eigenvalue C-fold: ARPACK can
    miss copies, so r_eff is then never taken from the head (METHOD.md)."""
    readout = set(function.readout_params)
    return C > 1 and bool(readout) and set(function.trainable) <= readout


def take_matrix_free(function, batch, F: torch.Tensor, pullback, g: torch.Tensor, trace: float, reducer,
                     settings: MatrixFreeSettings, chunk_bytes: int,
                     clock=None) -> Tuple[Optional[MatrixFreeResult], Optional[str], bool]:
    """(result on rank 0 else None, failure or None, finite) of the
    matrix-free spectrum of the whole probe batch. A collective: every rank
    calls it. Failures (ARPACK not converging, a product the model cannot
    take) come back as text, never raised: the training goes on."""
    failure: Optional[str] = None
    finite = True
    result = None
    operator = EntkOperator.of_batch(function, batch, F, pullback, reducer, chunk_bytes)
    parts = reducer.gather_to_first(g.detach())
    if reducer.rank != 0:
        operator.serve()
    else:
        whole_g = torch.cat([p.to(F.device) for p in parts], dim=0).to(torch.float64).reshape(-1).cpu().numpy()
        try:
            result = matrix_free_spectrum(
                operator.apply, operator.size, whole_g, trace=trace,
                null_dimension=max(0, operator.size - operator.parameters),
                repeated_eigenvalues=repeated_eigenvalues(function, F.shape[1]), settings=settings,
                float64_products=F.dtype == torch.float64, device=F.device, clock=clock)
        except NonFiniteKernel:
            finite = False
        except SpectrumFailure as error:
            failure = str(error)
        except Exception as error:  # the probe's own problem: said, never raised into training
            failure = "%s: %s" % (type(error).__name__, str(error).strip().split("\n")[0])
        finally:
            operator.stop()
    if reducer.world > 1:
        # Every rank learns the outcome (a divergence stops measuring on all of them).
        flags = reducer.sum(torch.tensor([0.0 if finite else 1.0, 0.0 if failure is None else 1.0],
                                         dtype=torch.float64, device=F.device))
        finite = float(flags[0]) == 0
        if failure is None and float(flags[1]) != 0:
            failure = "the matrix-free spectrum failed on rank 0"
    return result, failure, finite
