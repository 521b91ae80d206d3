"""Cross-batch LNP and the batch-size normalised factors (docs/METHOD.md,
"Cross-batch spectral position" and "Normalised factors").

The paper's practical form ("In Practice" and the appendix of its method
draft, KonstiNik/vatis ``background_info.tex``): with A and B two batches at
the same parameters θ_t,

    δL(A, B)     = ∇_θL_Bᵀ ∇_θL_A
    χ_loss^{AB}  = ‖∇_fL^A‖ · ‖∇_fL^B‖
    χ_net^{AB}   = ‖J^A‖_F · ‖J^B‖_F          (= √(Tr Θ_AA · Tr Θ_BB))
    χ_pos^{AB}   = δL(A, B) / (χ_loss^{AB} · χ_net^{AB})   ∈ [−1, 1]

and, with |A| and |B| the rows each loss averages over,

    χ̃_loss^{AB} = √(|A||B|) · χ_loss^{AB},   χ̃_net^{AB} = χ_net^{AB} / √(|A||B|).

With A = B these are the self quantities: χ_loss^{AA} = ‖g‖² = χ_loss,
χ_net^{AA} = Tr Θ = χ_net, χ̃_loss = n·χ_loss, χ̃_net = χ_net/n. The probe's
A is its probe batch; B is a held-out batch or a training batch. Every
quantity is symmetric in A and B.

This module holds the arithmetic (one place, shared by the self and the
cross form, so that B = A gives the self values bit for bit) and the checks
of a cross batch; the gradients and traces come from measure.py.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import torch

from .errors import ProbeError

SOURCES = ("heldout", "train")


def geometric(a: float, b: float) -> float:
    """√a·√b, computed as √(a·b) where that product is a normal double, so
    that geometric(x, x) == x exactly (IEEE: sqrt(fl(x²)) = |x|); NaN for
    a negative or NaN factor, never an exception."""
    if not (a >= 0 and b >= 0):
        return math.nan
    product = a * b
    if math.isfinite(product) and (product >= sys.float_info.min or product == 0.0):
        return math.sqrt(product)
    return math.sqrt(a) * math.sqrt(b)


def position(dot: float, chi_loss: float, chi_net: float) -> Optional[float]:
    """χ_pos = δL / (χ_loss · χ_net); None where undefined (a zero or
    non-finite denominator, a non-finite δL), METHOD.md "Numerical conventions"."""
    denominator = chi_loss * chi_net
    if not (denominator > 0 and math.isfinite(denominator) and math.isfinite(dot)):
        return None
    return dot / denominator


def normalized(chi_loss: float, chi_net: float, rows_a: int, rows_b: int) -> Tuple[Optional[float], Optional[float]]:
    """(√(|A||B|)·χ_loss, χ_net/√(|A||B|)); (None, None) without rows."""
    if rows_a < 1 or rows_b < 1:
        return None, None
    scale = math.sqrt(rows_a * rows_b)  # exactly n when |A| = |B| = n
    return scale * chi_loss, chi_net / scale


@dataclass
class Side:
    """One batch's ingredients at θ_t, summed over ranks."""
    loss: float
    chi_loss: float                 # ‖∇_f L‖²
    chi_net: float                  # ‖J‖_F² = Tr Θ (an estimate when ``estimate``)
    gradient: torch.Tensor          # ∇_θ L over the trainable θ, float64
    rows: int                       # the rows the loss averages over
    estimate: bool = False
    stderr: Optional[float] = None
    vectors: int = 0


@dataclass
class Cross:
    """The cross-batch quantities of one measurement (A: the probe batch, B: ``source``)."""
    source: str                         # "heldout" or "train"
    loss: float                         # L_B
    grad_dot: float                     # δL(A, B) = ∇L_A · ∇L_B (any sign)
    chi_loss: float                     # ‖∇_fL^A‖‖∇_fL^B‖
    chi_net: float                      # ‖J^A‖_F‖J^B‖_F
    chi_pos: Optional[float]            # in [−1, 1] when χ_net is exact
    rows: int                           # |B|
    chi_loss_normalized: Optional[float]
    chi_net_normalized: Optional[float]
    estimate: bool                      # χ_net^{AB} (so χ_pos^{AB}) rests on a Hutchinson trace
    stderr: Optional[float]             # its standard error (delta method), when an estimate
    vectors: int                        # Hutchinson vectors of B's trace (0: exact)

    def fields(self) -> Dict[str, Any]:
        """The step line's cross_* fields (docs/RECORD.md), in the record's order."""
        out: Dict[str, Any] = {
            "cross_loss": self.loss, "cross_grad_dot": self.grad_dot, "cross_chi_loss": self.chi_loss,
            "cross_chi_net": self.chi_net, "cross_chi_pos": self.chi_pos, "cross_rows": int(self.rows),
            "cross_chi_loss_normalized": self.chi_loss_normalized,
            "cross_chi_net_normalized": self.chi_net_normalized,
        }
        if self.estimate:
            out["cross_chi_net_estimate"] = True
            out["cross_chi_net_stderr"] = self.stderr
        return out


def combine(a: Side, b: Side, source: str) -> Cross:
    """The cross quantities from the two sides (the paper's appendix form)."""
    dot = float((a.gradient * b.gradient).sum())   # for B = A: the bits of ‖∇L‖² (pow(2) is x·x)
    chi_loss = geometric(a.chi_loss, b.chi_loss)
    chi_net = geometric(a.chi_net, b.chi_net)
    loss_n, net_n = normalized(chi_loss, chi_net, a.rows, b.rows)
    estimate = a.estimate or b.estimate
    stderr = None
    if estimate:
        # δ-method for √(T_A T_B) with independent estimates:
        # var ≈ (T_B/4T_A) σ_A² + (T_A/4T_B) σ_B².
        sa, sb = (a.stderr or 0.0) if a.estimate else 0.0, (b.stderr or 0.0) if b.estimate else 0.0
        if a.chi_net > 0 and b.chi_net > 0:
            stderr = 0.5 * math.sqrt(b.chi_net / a.chi_net * sa * sa + a.chi_net / b.chi_net * sb * sb)
            stderr = stderr if math.isfinite(stderr) else None
    return Cross(source=source, loss=b.loss, grad_dot=dot, chi_loss=chi_loss, chi_net=chi_net,
                 chi_pos=position(dot, chi_loss, chi_net), rows=b.rows, chi_loss_normalized=loss_n,
                 chi_net_normalized=net_n, estimate=estimate, stderr=stderr, vectors=b.vectors)


# ---------------------------------------------------------------- the cross batch


def split_like(inputs, reference, what: str):
    """``inputs`` as (args, kwargs), shaped like the probe batch's
    ``reference`` (args, kwargs): a tensor for a tensor, a tuple of as many
    for a tuple, a dict with the same keys for a dict."""
    ref_args, ref_kwargs = reference
    if isinstance(inputs, torch.Tensor):
        args, kwargs = (inputs,), {}
    elif isinstance(inputs, dict):
        args, kwargs = (), dict(inputs)
    elif isinstance(inputs, (tuple, list)):
        args, kwargs = tuple(inputs), {}
    else:
        raise ProbeError("%s must be a tensor, a tuple of tensors or a dict, like probe_inputs, not %s"
                         % (what, type(inputs).__name__))
    if len(args) != len(ref_args) or set(kwargs) != set(ref_kwargs):
        def shape(a, k):
            return "a dict with keys %s" % sorted(k) if k else ("a tensor" if len(a) == 1 else "%d tensors" % len(a))
        raise ProbeError("%s must be shaped like probe_inputs (%s), not %s"
                         % (what, shape(ref_args, ref_kwargs), shape(args, kwargs)))
    return args, kwargs


def check_tensors(args, kwargs, targets, device, what: str) -> None:
    # Inputs that are not tensors (use_cache=False) reach the model as given,
    # as the probe batch's do; the targets must be a tensor.
    inputs = [x for x in list(args) + list(kwargs.values()) if isinstance(x, torch.Tensor)]
    if not inputs or not isinstance(targets, torch.Tensor):
        raise ProbeError("%s must hold tensors, not %s" % (what, type(targets if inputs else (args or kwargs)).__name__))
    for tensor in inputs + [targets]:
        if tensor.device != device:
            raise ProbeError("%s is on %s but the model's parameters are on %s: move it to %s"
                             % (what, tensor.device, device, device))
    sizes = {x.shape[0] for x in inputs if x.dim() > 0}
    if len(sizes) != 1 or 0 in sizes:
        raise ProbeError("%s: every input tensor must share dimension 0 (the batch) and it must not be empty; "
                         "got sizes %s" % (what, sorted(sizes)))


def unpack_pair(batch, what: str):
    """(inputs, targets) from a pair, or a ProbeError that says what was given."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ProbeError("%s must be a pair (inputs, targets), like probe_inputs and probe_targets, not %s"
                         % (what, type(batch).__name__ if not isinstance(batch, (tuple, list))
                            else "a sequence of %d" % len(batch)))
    return batch[0], batch[1]
