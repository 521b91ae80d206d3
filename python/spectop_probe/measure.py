"""The LNP measurement of docs/METHOD.md for any PyTorch module.

Shapes: the probe batch has ``b`` input items (dimension 0 of every input
tensor); the model's outputs are flattened to ``F`` of shape ``[n, C]``, one
row per output position (a sample for a classifier, a token for a language
model), so ``m = n*C`` and entry ``r*C + c`` of the stacked outputs is
``F[r, c]`` (sample-major, spectop's order). Each input item yields ``q``
consecutive entries of the stacked outputs (``q = m / b``).

Everything is computed on detached copies of the trainable parameters
(``torch.func.functional_call``), so the module's parameters, their ``.grad``
and any hooks a wrapper (DDP) put on them are never touched. Every forward
gets private copies of the probe inputs and the buffers, so a module that
writes them (``ReLU(inplace=True)`` on its input, a call counter, an EMA)
writes only the copies.

- ``g = dL/dF`` from the loss on ``F`` (autograd on the loss alone);
- ``grad_sq = |J^T g|^2``: one vector-Jacobian product of the full batch;
- ``Tr Θ``: the readout layer's share in closed form when the readout is a
  plain ``nn.Linear`` producing ``F`` (``dF[r,c]/dW = e_c a_r^T``, so its share
  is ``C * sum_r (|a_r|^2 + 1)``), the rest ("the body") either exactly, as
  the sum of squared per-sample, per-output gradients (``vmap`` over input
  items and over one-hot output vectors, in chunks so that no ``m x P`` tensor
  exists at once), or as a Hutchinson estimate ``E_v |J_body^T v|^2`` with
  Rademacher ``v`` in output space and its standard error;
- the exact spectrum of ``Θ = J J^T`` from the per-sample Jacobian rows,
  ``torch.linalg.eigh`` in float64, up to ``exact_limit``; above it the
  matrix-free spectrum of matrix_free.py (top-k by ARPACK, the density by
  block Lanczos quadrature) from products ``Θv`` of the whole batch
  (operator.py).
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import torch
from torch import nn
from torch.func import functional_call, vjp, vmap

from .cross import Cross, Side, combine
from .errors import ProbeError


# ---------------------------------------------------------------- losses

def mse_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """spectop's MSE: L = (1/n) sum_r 1/2 |f_r - y_r|^2 (not divided by C;
    torch's nn.MSELoss() is 2/C times this)."""
    if targets.numel() != outputs.numel():
        raise ProbeError("mse: probe_targets has %d numbers, the model gives %d outputs (%d rows x %d)"
                         % (targets.numel(), outputs.numel(), outputs.shape[0], outputs.shape[1]))
    difference = outputs - targets.reshape(outputs.shape).to(outputs.dtype)
    return 0.5 * difference.pow(2).sum() / outputs.shape[0]


def cross_entropy_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of log-sum-exp(f_r) - f_r[y_r], on logits (spectop's)."""
    labels = targets.reshape(-1)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ProbeError("cross_entropy: probe_targets must be integer class labels, not %s" % labels.dtype)
    if labels.numel() != outputs.shape[0]:
        raise ProbeError("cross_entropy: %d labels for %d output rows" % (labels.numel(), outputs.shape[0]))
    if labels.device.type != "meta" and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= outputs.shape[1]):
        raise ProbeError("cross_entropy: labels must lie in 0..%d" % (outputs.shape[1] - 1))
    return nn.functional.cross_entropy(outputs, labels.long(), reduction="mean")


# "causal_lm" is cross-entropy on the shifted labels: labels.py shifts them
# and drops the ignored rows before the loss sees them.
LOSSES: Dict[str, Callable] = {"mse": mse_loss, "cross_entropy": cross_entropy_loss, "causal_lm": cross_entropy_loss}


def resolve_loss(loss) -> Tuple[str, Callable]:
    """(record name, function). A callable is recorded as ``custom``."""
    if callable(loss):
        return "custom", loss
    if isinstance(loss, str) and loss in LOSSES:
        return loss, LOSSES[loss]
    raise ProbeError("unknown loss %r: use \"mse\", \"cross_entropy\", \"causal_lm\" (Hugging Face's shifted "
                     "next-token loss) or a callable loss(outputs[n, C], targets) that averages over the n rows"
                     % (loss,))


# ---------------------------------------------------------------- results

@dataclass
class Spectrum:
    """The eNTK spectrum and what METHOD.md derives from it: exact (every
    eigenvalue), or matrix-free ("lanczos": the top k, the rest as an
    estimated ``density`` histogram; docs/RECORD.md)."""
    eigenvalues: List[float]          # descending, clamped at 0 (lanczos: the top k)
    weights: List[float]              # w_k = (v_k . g/|g|)^2; empty when undefined
    chi_pos_exact: Optional[float]
    lambda_eff: Optional[float]
    r_eff: Optional[float]            # an estimate for lanczos
    effective_rank: float             # an estimate for lanczos
    method: str = "exact"             # "exact" | "lanczos"
    method_reason: Optional[str] = None
    mode_count: Optional[int] = None  # m (lanczos)
    r_eff_uncertainty: Optional[float] = None
    rest_weight: Optional[float] = None
    density: Optional[Any] = None     # spectrum.Density (lanczos)
    seconds: Optional[float] = None   # its own wall time (on rank 0)
    products: Optional[int] = None    # Θv products (lanczos), for cost reports
    arpack_products: Optional[int] = None   # the products ARPACK took (lanczos), for the budget
    arpack_seconds: Optional[float] = None  # ARPACK's part of ``seconds`` (lanczos), for the budget


@dataclass
class RawMeasurement:
    loss: float
    chi_loss: float
    chi_net: float
    grad_sq: float
    estimate: bool
    chi_net_stderr: Optional[float]
    readout_chi_net: float            # the closed-form share (0 without a recognised readout)
    vectors: int                      # Hutchinson vectors used (0 when exact)
    outputs: int                      # m = n*C over all ranks
    spectrum: Optional[Spectrum] = None
    no_spectrum: Optional[str] = None  # why no spectrum was taken, when one was asked for
    spectrum_error: Optional[str] = None  # why the spectrum asked for failed this time (training goes on)
    kernel_finite: bool = True
    rows: int = 0                     # n, the rows the loss averages over (all ranks)
    cross: Optional[Cross] = None     # the cross-batch quantities, when a batch B was given
    cross_error: Optional[str] = None  # why they are missing although B was given
    stage_seconds: Dict[str, float] = field(default_factory=dict)  # "fixed", "trace", "cross": for budget.py
    name_chi_net: Dict[str, float] = field(default_factory=dict)   # Tr Θ per trainable parameter (sums to chi_net)
    name_grad_sq: Dict[str, float] = field(default_factory=dict)   # |∇_p L|² per trainable parameter (sums to grad_sq)

    @property
    def chi_pos(self) -> Optional[float]:
        """gᵀΘg / (|g|² Tr Θ); None when undefined (METHOD.md "Numerical conventions")."""
        denominator = self.chi_loss * self.chi_net
        if not (denominator > 0 and math.isfinite(denominator) and math.isfinite(self.grad_sq)):
            return None
        return self.grad_sq / denominator

    def non_finite(self) -> Optional[str]:
        for name, value in (("the loss", self.loss), ("χ_loss", self.chi_loss), ("χ_net", self.chi_net),
                            ("‖∇L‖²", self.grad_sq)):
            if not math.isfinite(value):
                return name
        return None if self.kernel_finite else "the eNTK"


def spectrum_from_kernel(theta: torch.Tensor, g: torch.Tensor) -> Spectrum:
    """METHOD.md's spectral quantities, exactly as SpectrumAnalysis.swift
    computes them: negative eigenvalues clamped to 0, descending order."""
    theta = theta.double()
    theta = (theta + theta.T) / 2
    values, vectors = torch.linalg.eigh(theta)
    values, vectors = values.flip(0), vectors.flip(1)
    lam = values.clamp_min(0)
    m = lam.numel()
    trace = float(lam.sum())
    g = g.double().reshape(-1)
    g_norm = float(g.norm())
    weights: List[float] = []
    chi_pos = lambda_eff = r_eff = None
    if g_norm > 0 and math.isfinite(g_norm) and trace > 0 and math.isfinite(trace):
        w = (vectors.T @ (g / g_norm)).pow(2)
        weights = w.tolist()
        lambda_eff = float(w @ lam)
        chi_pos = lambda_eff / trace
        r_eff = float((lam >= lambda_eff).sum()) / m
    positive = lam[lam > 0]
    if trace > 0:
        p = positive / trace
        effective_rank = float(torch.exp(-(p * p.log()).sum()))
    else:
        effective_rank = 0.0
    return Spectrum(lam.tolist(), weights, chi_pos, lambda_eff, r_eff, effective_rank)


# ---------------------------------------------------------------- the model as a function

def _is_plain_linear(module: nn.Module) -> bool:
    # A subclass may change forward(); the closed form holds for nn.Linear's own.
    return isinstance(module, nn.Linear) and type(module).forward is nn.Linear.forward


def default_output(output: Any) -> torch.Tensor:
    """The logits of a module's output: a tensor, ``.logits`` (Hugging Face
    ModelOutput), or the first element of a tuple."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ProbeError("cannot find the outputs in the model's return value (%s): pass output_fn=" % type(output).__name__)


class ModelFunction:
    """A module as a pure function ``params -> F [n, C]`` on a fixed probe batch.

    ``trainable`` are the parameter names θ is made of; all other parameters
    and the buffers are constants. Parameters and floating inputs are cast to
    ``dtype`` (float32 or float64) on detached copies. The outputs must come
    out in ``dtype`` on ``device`` (the parameters'): a forward that casts or
    moves them is refused rather than measured at another precision.
    """

    def __init__(self, module: nn.Module, trainable: List[str], dtype: torch.dtype,
                 output_fn: Callable = default_output, readout: Optional[str] = "auto",
                 device: Optional[torch.device] = None):
        self.module = module
        self.trainable = list(trainable)
        self.dtype = dtype
        self.device = device
        self.buffer_names: Set[str] = set()
        self.output_fn = output_fn
        self.readout_request = readout
        self.readout_name: Optional[str] = None   # module name, once recognised
        self.readout_params: List[str] = []      # its trainable parameter names (closed form)
        self._capture: Optional[list] = None
        self._hook_handles: list = []
        # Items that interact (BatchNorm on the batch's statistics): a
        # per-sample Jacobian would be of another function.
        self.items_interact = False
        # Why the per-sample route cannot run this model (vmap failed once):
        # the exact routes then take whole-batch products from the start.
        self.per_sample_failure: Optional[str] = None
        # (saved, backward) bytes per input item of a differentiated forward
        # and backward of the probe batch (:func:`activation_bytes`),
        # measured once, at the first measurement: the chunked routes size
        # their chunks by them.
        self.activation_per_item: Optional[Tuple[float, float]] = None

    # -- parameters

    def parameters(self) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """(θ as detached leaves in dtype, every other parameter and buffer)."""
        trainable = set(self.trainable)
        theta, constants = {}, {}
        for name, p in self.module.named_parameters():
            if type(p).__name__ == "DTensor":
                # FSDP2: gather the whole parameter (a collective; every rank
                # walks the parameters in the same order).
                p = p.detach().full_tensor()
            value = p.detach().to(self.dtype)
            (theta if name in trainable else constants)[name] = value
        self.buffer_names = set()
        for name, b in self.module.named_buffers():
            constants[name] = b.detach().to(self.dtype) if b.is_floating_point() else b.detach()
            self.buffer_names.add(name)
        return theta, constants

    def cast_inputs(self, inputs):
        def cast(x):
            if isinstance(x, torch.Tensor):
                return x.detach().to(self.dtype) if x.is_floating_point() else x.detach()
            return x
        args, kwargs = inputs
        return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}

    def __call__(self, theta, constants, args, kwargs, rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        # Fresh copies of the inputs and buffers for every forward: what the
        # model writes in place (an inplace ReLU on its input, a counter or an
        # EMA buffer) lands on them, never on the user's tensors (``.to`` and
        # ``.detach`` share storage), every forward of a measurement sees the
        # same state, and torch.func allows the writes (it refuses in-place
        # writes to tensors captured from outside the transform).
        def private(x):
            return x.clone() if isinstance(x, torch.Tensor) else x

        state = dict(theta)
        state.update((name, value.clone() if name in self.buffer_names else value) for name, value in constants.items())
        output = functional_call(self.module, state, tuple(private(a) for a in args),
                                 {k: private(v) for k, v in kwargs.items()})
        F = self.output_fn(output)
        if not isinstance(F, torch.Tensor) or F.dim() < 1:
            raise ProbeError("the model's outputs must be a tensor with a last dimension of outputs per row")
        if not F.is_floating_point():
            raise ProbeError("the model's outputs are %s, not floating point: they have no gradient, so there is "
                             "nothing to measure; return the logits (or pass output_fn=)" % F.dtype)
        if self.device is not None and F.device != self.device:
            raise ProbeError("the model's outputs are on %s but its parameters and the probe batch are on %s: "
                             "return the outputs where they are computed (or pass output_fn=)" % (F.device, self.device))
        if F.dtype != self.dtype:
            raise ProbeError("the model's outputs are %s although its parameters and floating inputs were cast to %s "
                             "(the measurement precision): its forward casts (.to(), .half(), autocast), so it cannot "
                             "be measured in one precision; remove the cast while probing" % (F.dtype, self.dtype))
        F = F.reshape(-1, F.shape[-1])
        # Only the rows the loss counts (labels.py: ignored labels, the
        # causal shift's last position) are outputs of the measurement.
        return F if rows is None else F.index_select(0, rows)

    # -- the readout layer

    def find_readout(self, theta, constants, args, kwargs, F: torch.Tensor) -> None:
        """Recognises the readout: a plain nn.Linear, used once per forward,
        whose output is F itself (compared value for value), with parameters
        no other module shares. Its share of Tr Θ is then closed-form."""
        self.readout_name, self.readout_params = None, []
        if self.readout_request is None:
            return
        C = F.shape[1]
        named = dict(self.module.named_modules())
        if self.readout_request == "auto":
            candidates = [name for name, mod in named.items() if _is_plain_linear(mod) and mod.out_features == C]
        else:
            if self.readout_request not in named or not _is_plain_linear(named[self.readout_request]):
                raise ProbeError("readout=%r is not an nn.Linear submodule of the model" % self.readout_request)
            candidates = [self.readout_request]
        if not candidates:
            return
        counts: Dict[int, int] = {}
        for _, p in self.module.named_parameters(remove_duplicate=False):
            counts[id(p)] = counts.get(id(p), 0) + 1
        seen: Dict[str, list] = {name: [] for name in candidates}
        handles = [named[name].register_forward_hook(
            lambda mod, inp, out, name=name: seen[name].append(out.detach())) for name in candidates]
        try:
            with torch.no_grad():
                self(theta, constants, args, kwargs)
        finally:
            for handle in handles:
                handle.remove()
        for name in reversed(candidates):  # the last matching Linear is the readout
            calls = seen[name]
            if len(calls) != 1:
                continue
            out = calls[0].reshape(-1, C).to(F.dtype)
            if out.shape != F.shape or not torch.equal(out, F.detach()):
                continue
            mod = named[name]
            params = [(pname, p) for pname, p in mod.named_parameters(recurse=False)]
            if any(counts[id(p)] > 1 for _, p in params):
                continue  # tied (e.g. with the embedding): not closed-form
            prefix = name + "." if name else ""
            self.readout_name = name
            self.readout_params = [prefix + pname for pname, _ in params if prefix + pname in set(self.trainable)]
            return
        if self.readout_request != "auto":
            raise ProbeError("readout=%r does not produce the model's outputs (once, untied)" % self.readout_request)

    def attach_capture(self) -> None:
        """While attached, calls record the readout's input activations."""
        self.detach_capture()
        if self.readout_name is None:
            return
        module = dict(self.module.named_modules())[self.readout_name]
        self._capture = []
        self._hook_handles.append(module.register_forward_hook(
            lambda mod, inp, out: self._capture.append(inp[0]) if self._capture is not None else None))

    def take_capture(self) -> Optional[torch.Tensor]:
        if not self._capture:
            return None
        value = self._capture[-1]
        self._capture = []
        return value

    def detach_capture(self) -> None:
        for handle in self._hook_handles:
            handle.remove()
        self._hook_handles = []
        self._capture = None


# ---------------------------------------------------------------- batches

def batch_items(args, kwargs) -> int:
    sizes = {x.shape[0] for x in list(args) + list(kwargs.values()) if isinstance(x, torch.Tensor) and x.dim() > 0}
    if len(sizes) != 1:
        raise ProbeError("every probe input tensor must share dimension 0 (the batch); got sizes %s" % sorted(sizes))
    return sizes.pop()


def _one_hot_rows(start: int, stop: int, width: int, like: torch.Tensor) -> torch.Tensor:
    rows = torch.zeros(stop - start, width, dtype=like.dtype, device=like.device)
    rows[torch.arange(stop - start, device=like.device), torch.arange(start, stop, device=like.device)] = 1
    return rows


class PerSampleFailure(ProbeError):
    """torch.func.vmap could not split this model per sample."""


class WholeBatch:
    """The same rows of J as :class:`PerSample` (squared norms or the rows
    themselves), from the whole batch's own pullback: one backward per
    output entry, with a one-hot cotangent, vmapped in chunks of
    ``chunk_bytes``. Nothing runs per sample, so it holds for models
    ``vmap`` cannot split (masks with data-dependent control flow), whose
    items interact (BatchNorm on batch statistics), and for outputs whose
    rows are a selection (ignored labels). It costs a backward of the whole
    batch per output entry, ``items`` times the per-sample route's."""

    def __init__(self, pullback, theta: Dict[str, torch.Tensor], names: List[str], F: torch.Tensor,
                 chunk_bytes: int, backward_bytes: int = 0):
        self.pullback, self.names = pullback, list(names)
        self.shape, self.m = tuple(F.shape), F.numel()
        self.like = F
        self.size = sum(theta[name].numel() for name in self.names)
        itemsize = torch.finfo(F.dtype).bits // 8
        # Each row in flight: its one-hot cotangent, the outputs' cotangent
        # the backward makes from it, every trainable gradient, and the
        # backward's own working set (``backward_bytes``, measured:
        # activation_bytes).
        parameters = sum(value.numel() for value in theta.values())
        per_row = (2 * self.m + parameters) * itemsize + int(backward_bytes)
        self.per_chunk = max(1, min(self.m, int(chunk_bytes) // max(1, per_row)))

    def _rows(self, j0: int, j1: int, reduce: bool) -> torch.Tensor:
        basis = _one_hot_rows(j0, j1, self.m, self.like).reshape((j1 - j0,) + self.shape)

        def one(e):
            (grads,) = self.pullback(e)
            if reduce:  # one squared norm per parameter, as PerSample's (the per-layer split)
                return torch.stack([grads[name].pow(2).sum() for name in self.names])
            return torch.cat([grads[name].reshape(-1) for name in self.names])

        return vmap(one)(basis) if j1 - j0 > 1 else one(basis[0])[None]

    def squared_norm_sum(self) -> torch.Tensor:
        """Σ over the rows of |∂F_j/∂θ_name|², one per name in ``names``."""
        total = torch.zeros(len(self.names), dtype=self.like.dtype, device=self.like.device)
        for j0 in range(0, self.m, self.per_chunk):
            total = total + self._rows(j0, min(self.m, j0 + self.per_chunk), reduce=True).sum(dim=0)
        return total

    def jacobian(self) -> torch.Tensor:
        """J [m, size], allocated once and filled chunk by chunk (as
        PerSample's), in the measurement dtype."""
        J = torch.empty(self.m, self.size, dtype=self.like.dtype, device=self.like.device)
        for j0 in range(0, self.m, self.per_chunk):
            j1 = min(self.m, j0 + self.per_chunk)
            J[j0:j1] = self._rows(j0, j1, reduce=False)
        return J


def per_sample_chunk(row_bytes: int, saved_per_item: int, backward_per_item: int, items: int, per_item: int,
                     chunk_bytes: int) -> Tuple[int, int]:
    """(outputs, items) of one per-sample chunk within ``chunk_bytes``. An
    item in a chunk holds what its own forward saved (``saved_per_item``),
    and each of its outputs in flight a row of ``row_bytes`` and one
    backward's working set (``backward_per_item``; activation_bytes
    measures both). So a chunk of I items and O outputs holds
    ``I * (s + O * (row + b))``. At least one of each."""
    lane = max(1, int(row_bytes) + max(0, int(backward_per_item)))
    saved, chunk = max(0, int(saved_per_item)), int(chunk_bytes)
    outputs = max(1, min(per_item, (chunk - saved) // lane))
    return outputs, max(1, min(items, chunk // max(1, saved + outputs * lane)))


class PerSample:
    """Per-sample, per-output gradients of a set of parameters, in chunks.

    Input item ``i`` is run alone (``vmap`` over dimension 0, each item
    re-batched as size 1), so this needs a model whose items do not interact
    in eval mode (true of MLPs, CNNs, transformers; not of a model that mixes
    the batch).
    """

    def __init__(self, function: ModelFunction, theta, constants, names: List[str], args, kwargs,
                 items: int, per_item: int, chunk_bytes: int, saved_per_item: float = 0.0,
                 backward_per_item: float = 0.0):
        self.function, self.theta, self.constants = function, theta, constants
        self.names = names
        self.args, self.kwargs = args, kwargs
        self.items, self.per_item = items, per_item
        self.fixed = {k: v for k, v in theta.items() if k not in set(names)}
        self.size = sum(theta[name].numel() for name in names)
        itemsize = torch.finfo(function.dtype).bits // 8
        self.outputs_per_chunk, self.items_per_chunk = per_sample_chunk(
            self.size * itemsize, int(math.ceil(saved_per_item)), int(math.ceil(backward_per_item)), items, per_item,
            chunk_bytes)

    def _rows(self, start: int, stop: int, j0: int, j1: int, reduce: bool):
        """For items [start, stop) and output entries [j0, j1) of each item:
        either the squared gradient norms [items, outputs] (reduce) or the
        flattened gradients [items, outputs, size]."""
        function, constants, fixed, names = self.function, self.constants, self.fixed, self.names
        basis = _one_hot_rows(j0, j1, self.per_item, self.theta[names[0]])

        def per_item(item_args, item_kwargs):
            args1 = tuple(a.unsqueeze(0) if isinstance(a, torch.Tensor) else a for a in item_args)
            kwargs1 = {k: v.unsqueeze(0) if isinstance(v, torch.Tensor) else v for k, v in item_kwargs.items()}

            def outputs(subset):
                return function({**fixed, **subset}, constants, args1, kwargs1).reshape(-1)

            _, pullback = vjp(outputs, {name: self.theta[name] for name in names})

            def one(e):
                (grads,) = pullback(e)
                if reduce:  # one squared norm per parameter: the per-layer split costs nothing more
                    return torch.stack([grads[name].pow(2).sum() for name in names])
                return torch.cat([grads[name].reshape(-1) for name in names])

            return vmap(one)(basis)

        args = tuple(a[start:stop] if isinstance(a, torch.Tensor) else a for a in self.args)
        kwargs = {k: v[start:stop] if isinstance(v, torch.Tensor) else v for k, v in self.kwargs.items()}
        in_dims = (tuple(0 if isinstance(a, torch.Tensor) else None for a in args),
                   {k: 0 if isinstance(v, torch.Tensor) else None for k, v in kwargs.items()})
        try:
            return vmap(per_item, in_dims=in_dims)(args, kwargs)
        except (RuntimeError, ValueError, TypeError) as error:
            if isinstance(error, ProbeError):
                raise
            # Data-dependent control flow, .item(), in-place ops on inputs: vmap cannot batch them.
            raise PerSampleFailure("the per-sample route (torch.func.vmap over the probe items) failed on this model: %s. "
                             "Pass trace=\"hutchinson\" and spectrum=False, which need no per-sample gradients"
                             % error) from error

    def squared_norm_sum(self) -> torch.Tensor:
        """Σ over items and outputs of |∂F_j/∂θ_name|², one per name in
        ``names`` (the exact trace is their sum)."""
        total = torch.zeros(len(self.names), dtype=self.function.dtype, device=self.theta[self.names[0]].device)
        for start in range(0, self.items, self.items_per_chunk):
            stop = min(self.items, start + self.items_per_chunk)
            for j0 in range(0, self.per_item, self.outputs_per_chunk):
                j1 = min(self.per_item, j0 + self.outputs_per_chunk)
                total = total + self._rows(start, stop, j0, j1, reduce=True).sum(dim=(0, 1))
        return total

    def jacobian(self) -> torch.Tensor:
        """J [m, size], rows in spectop's order (item-major, then output),
        in the measurement dtype. Allocated once and filled chunk by chunk:
        at most one chunk exists beside it (joining the chunks with
        ``torch.cat`` held two copies of J at once)."""
        J = torch.empty(self.items, self.per_item, self.size, dtype=self.function.dtype,
                        device=self.theta[self.names[0]].device)
        for start in range(0, self.items, self.items_per_chunk):
            stop = min(self.items, start + self.items_per_chunk)
            for j0 in range(0, self.per_item, self.outputs_per_chunk):
                j1 = min(self.per_item, j0 + self.outputs_per_chunk)
                J[start:stop, j0:j1] = self._rows(start, stop, j0, j1, reduce=False)
        return J.reshape(-1, self.size)


def gram_float64(J: torch.Tensor, chunk_bytes: int) -> torch.Tensor:
    """Θ = J Jᵀ accumulated in float64 over column blocks of J, each cast
    on its own (``chunk_bytes`` of float64 at most), so no float64 copy of
    the whole Jacobian is made."""
    m, size = J.shape
    kernel = torch.zeros(m, m, dtype=torch.float64, device=J.device)
    width = max(1, min(size, chunk_bytes // max(1, 8 * m)))
    for c0 in range(0, size, width):
        block = J[:, c0:c0 + width].to(torch.float64)
        kernel.addmm_(block, block.T)
    return kernel


# ---------------------------------------------------------------- the measurement

def _default_matrix_free():
    from .spectrum import MatrixFreeSettings
    return MatrixFreeSettings()


@dataclass
class Settings:
    trace: str = "auto"                 # "auto" | "exact" | "hutchinson"
    exact_max_outputs: int = 4096       # auto: exact while m = n*C is at most this (under a budget)
    # budget=None ("exact, whatever it costs"): "auto" takes the exact trace
    # at any m, and the exact spectrum wherever its Jacobian fits
    # spectrum_bytes (matrix_free.choose_method's ``any_m``).
    exact_any_m: bool = False
    spectrum: bool = True               # take spectra (matrix_free.choose_method says which)
    spectrum_max_outputs: Optional[int] = None  # no spectrum at all above this m (None: no limit)
    spectrum_bytes: int = 1 << 30       # the Jacobian J [m, P] (exact) or the Lanczos vectors (lanczos) fit in this
    chunk_bytes: int = 1 << 28          # per-sample gradients (parameter-space vectors) alive at once
    seed: int = 0x5EC7
    spectrum_method: str = "auto"       # "auto" | "exact" | "lanczos"
    exact_limit: Optional[int] = None   # auto: exact up to this m (None: matrix_free's measured defaults)
    matrix_free: Any = field(default_factory=_default_matrix_free)  # spectrum.MatrixFreeSettings


class Reducer:
    """Sums across processes (identity for one process)."""

    def __init__(self, group=None):
        import torch.distributed as dist
        self.dist = dist
        self.group = group
        self.world = dist.get_world_size(group) if dist.is_available() and dist.is_initialized() else 1

    @property
    def rank(self) -> int:
        return self.dist.get_rank(self.group) if self.world > 1 else 0

    def gather_to_first(self, value):
        """Every rank's ``value`` (moved to the CPU for the trip) as a list on
        the group's first rank, None on the others."""
        if self.world == 1:
            return [value]
        def to_cpu(x):
            return x.detach().cpu() if isinstance(x, torch.Tensor) else x
        value = torch.utils._pytree.tree_map(to_cpu, value)
        first = self.dist.get_global_rank(self.group, 0) if self.group is not None else 0
        gathered = [None] * self.world if self.rank == 0 else None
        self.dist.gather_object(value, gathered, dst=first, group=self.group)
        return gathered

    def gather_all(self, value: int, device: torch.device) -> List[int]:
        """Every rank's integer ``value``, in rank order, on every rank."""
        if self.world == 1:
            return [int(value)]
        tensor = torch.tensor([int(value)], dtype=torch.int64, device=device)
        gathered = [torch.empty_like(tensor) for _ in range(self.world)]
        self.dist.all_gather(gathered, tensor, group=self.group)
        return [int(t[0]) for t in gathered]

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world == 1:
            return tensor
        tensor = tensor.clone()
        self.dist.all_reduce(tensor, op=self.dist.ReduceOp.SUM, group=self.group)
        return tensor


@dataclass
class _Batch:
    """What every step of one measurement evaluates the model on: θ (detached
    leaves in the measurement dtype), the constants, the cast probe inputs,
    and their layout (``items`` input items of ``per_item`` = q output entries
    each), so that the per-sample routes get them in one piece."""
    theta: Dict[str, torch.Tensor]
    constants: Dict[str, torch.Tensor]
    args: tuple
    kwargs: Dict[str, Any]
    items: int
    per_item: int
    rows: Optional[torch.Tensor] = None   # the output rows the loss counts (None: all)
    whole_batch: bool = False             # the exact routes take whole-batch products (every rank agrees)
    saved_bytes: int = 0                  # what autograd saves in a differentiated forward of this batch
    backward_bytes: int = 0               # the most one backward of it holds at once (measure.activation_bytes)

    def per_sample(self, function: ModelFunction, names: List[str], chunk_bytes: int) -> PerSample:
        return PerSample(function, self.theta, self.constants, names, self.args, self.kwargs,
                         self.items, self.per_item, chunk_bytes, self.saved_bytes / max(1, self.items),
                         self.backward_bytes / max(1, self.items))


def measure(function: ModelFunction, loss_fn: Callable, inputs, targets: torch.Tensor, settings: Settings,
            vectors: int, generator: Optional[torch.Generator], reducer: Reducer,
            want_spectrum: bool, cross: Optional[Tuple[Any, torch.Tensor, str]] = None,
            lanczos_allowed: bool = True, clock: Callable[[], float] = time.perf_counter
            ) -> Tuple[RawMeasurement, torch.Tensor]:
    """One LNP measurement. Returns it and the local residual gradient g [n, C].

    ``cross``: ((args, kwargs), targets, source) of a batch B: the
    cross-batch quantities against the probe batch A at the same θ
    (cross.py) are then measured too, with the same trace route rules and
    vector count. A failure on B is kept in ``cross_error``; A's
    measurement stands.

    ``lanczos_allowed`` False: a spectrum that would be matrix-free is left
    for a later measurement (the probe spaces them by their cost). The
    spectrum is always A's: batch B never enters it. ``clock`` times the
    stages (``stage_seconds``, for the probe's budget).

    ``targets``: a tensor, or a labels.RowTargets (the rows the loss counts
    and their labels)."""
    started = clock()
    rows, targets = _rows_and_values(targets)
    batch, n_local, C = _probe_batch(function, inputs, rows=rows)
    batch.whole_batch = _agree_whole_batch(function, batch, reducer)
    _activations(function, batch)
    F, pullback, readout_input = _forward_with_readout_input(function, batch)

    # The global loss is the mean over all ranks' rows: L = Σ_r n_r L_r / N.
    counts = reducer.sum(torch.tensor([float(n_local)], dtype=torch.float64, device=F.device))
    share = n_local / float(counts[0])
    loss, chi_loss, g = _loss_and_output_gradient(loss_fn, F, targets, share, reducer)
    # ∇_θL summed over ranks: its squared norm, per parameter too (the per-layer split), and δL(A, B).
    gradient = _summed_gradient(pullback, g, function.trainable, reducer)
    grad_sq = float(gradient.pow(2).sum())
    name_grad_sq = _per_name(gradient.pow(2), function.trainable, batch.theta)

    # Tr Θ: the readout's share in closed form, the body's exactly or estimated.
    readout_names: Dict[str, float] = {}
    readout_trace = _readout_trace(function, readout_input, n_local, C, F.device, reducer, readout_names)
    rows = int(round(float(counts[0])))
    m_total = rows * C
    fixed_done = clock()
    body_names: Dict[str, float] = {}
    body_trace, mode, stderr, used = _body_trace(function, batch, F, pullback, m_total, settings, vectors,
                                                 generator, reducer, body_names)
    trace_done = clock()

    result = RawMeasurement(loss=loss, chi_loss=chi_loss, chi_net=readout_trace + body_trace, grad_sq=grad_sq,
                            estimate=(mode == "hutchinson"), chi_net_stderr=stderr,
                            readout_chi_net=readout_trace, vectors=used, outputs=m_total, rows=rows,
                            stage_seconds={"fixed": fixed_done - started, "trace": trace_done - fixed_done},
                            name_chi_net={**readout_names, **body_names}, name_grad_sq=name_grad_sq)
    if cross is not None:
        a = Side(loss=loss, chi_loss=chi_loss, chi_net=result.chi_net, gradient=gradient, rows=rows,
                 estimate=result.estimate, stderr=stderr, vectors=used)
        cross_inputs, cross_targets, source = cross
        try:
            b = _side(function, loss_fn, cross_inputs, cross_targets, settings, vectors, generator, reducer,
                      batch, C)
            result.cross = combine(a, b, source)
        except Exception as error:  # B's problem (its shape, its targets) never costs A's measurement
            text = (str(error).strip().split("\n") or [""])[0]
            result.cross_error = "%s: %s" % (type(error).__name__, text) if not isinstance(error, ProbeError) else text
        del gradient, a
        result.stage_seconds["cross"] = clock() - trace_done
    if want_spectrum and result.non_finite() is None:
        spectrum_started = clock()
        _take_spectrum(result, function, batch, g, m_total, settings, reducer, F, pullback, generator,
                       lanczos_allowed, clock)
        if result.spectrum is not None:
            result.stage_seconds["spectrum"] = clock() - spectrum_started
    return result, g


def _rows_and_values(targets) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    from .labels import RowTargets
    if isinstance(targets, RowTargets):
        return targets.rows, targets.values
    return None, targets


def _probe_batch(function: ModelFunction, inputs, params=None,
                 rows: Optional[torch.Tensor] = None) -> Tuple[_Batch, int, int]:
    """θ, the constants and the cast inputs of this measurement, and (batch,
    n_local, C) from one no-grad forward: the layout must be known before the
    differentiated forward, and the readout can only be recognised (the first
    time) by comparing its output with F. ``params``: (θ, constants) already
    taken in this measurement (a cross batch B is measured at A's θ, and the
    readout is not searched for again)."""
    theta, constants = params if params is not None else function.parameters()
    args, kwargs = function.cast_inputs(inputs)
    items = batch_items(args, kwargs)
    with torch.no_grad():
        F_probe = function(theta, constants, args, kwargs)
    if (params is None and function.readout_name is None and function.readout_request is not None
            and not function.readout_params):
        function.find_readout(theta, constants, args, kwargs, F_probe)
    total, C = F_probe.shape
    if rows is not None:
        if rows.numel() and int(rows.max()) >= total:
            raise ProbeError("the labels name %d rows but the model gives %d output rows"
                             % (int(rows.max()) + 1, total))
        n_local = int(rows.numel())
    else:
        n_local = total
    # The per-item layout serves the per-sample route only, which needs
    # every item to give as many rows; a selection of rows goes whole-batch.
    per_item = (total // items) * C if total % items == 0 else 0
    if per_item == 0 and rows is None and not function.items_interact:
        raise ProbeError("the model gives %d output rows for %d input items: not a whole number per item" % (total, items))
    return _Batch(theta, constants, args, kwargs, items, per_item, rows), n_local, C


def activation_bytes(function: ModelFunction, batch: _Batch) -> Tuple[int, int]:
    """(saved, backward): what one differentiated forward of ``batch`` keeps
    for the backward, and the most one backward of it holds at once beyond
    that, in bytes, measured on the model itself (issue 30: the vmapped
    backwards of GPT-2 held activations that no setting counted).

    ``saved``: every storage ``torch.autograd.graph.saved_tensors_hooks``
    sees once, less the parameters, buffers and inputs (not new memory).
    ``backward``: the peak of the bytes alive of the tensors the backward
    allocates (a dispatch mode counts each new storage until its last tensor
    is freed; views of existing ones cost nothing), with a cotangent of ones;
    the parameter gradients it returns are counted too. Every vector,
    one-hot row or product that a chunked route has in flight holds one
    such backward. A plain autograd forward and backward, as torch.func's
    transforms refuse saved-tensor hooks; each rank counts its own batch.
    (0, 0) where counting fails: the measurement itself says what is wrong."""
    from torch.utils._python_dispatch import TorchDispatchMode

    known = set()
    for value in list(batch.theta.values()) + list(batch.constants.values()) + list(batch.args) + \
            list(batch.kwargs.values()):
        if isinstance(value, torch.Tensor):
            known.add(_storage(value)[0])
    saved: Dict[int, int] = {}

    def pack(tensor):
        key, size = _storage(tensor)
        if key not in known:
            saved[key] = max(saved.get(key, 0), size)
        return tensor

    class LiveBytes(TorchDispatchMode):
        """The peak of the bytes held by storages allocated under it."""
        def __init__(self):
            super().__init__()
            self.live, self.peak, self.owners = 0, 0, {}

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            inputs = {_storage(t)[0] for t in torch.utils._pytree.tree_leaves((args, kwargs))
                      if isinstance(t, torch.Tensor)}
            for tensor in torch.utils._pytree.tree_leaves(out):
                if not isinstance(tensor, torch.Tensor):
                    continue
                key, size = _storage(tensor)
                if key in inputs or key in known or key in saved:
                    continue   # a view or an in-place result: no new memory
                if key not in self.owners:
                    self.owners[key] = 0
                    self.live += size
                    self.peak = max(self.peak, self.live)
                self.owners[key] += 1
                weakref.finalize(tensor, self._release, key, size)
            return out

        def _release(self, key, size):
            self.owners[key] -= 1
            if self.owners[key] == 0:
                del self.owners[key]
                self.live -= size

    theta = {name: value.detach().requires_grad_(True) for name, value in batch.theta.items()}
    try:
        with torch.enable_grad():
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
                F = function(theta, batch.constants, batch.args, batch.kwargs, rows=batch.rows)
            counter = LiveBytes()
            with counter:
                grads = torch.autograd.grad(F, list(theta.values()), torch.ones_like(F), allow_unused=True)
                del grads
        del F
    except Exception:  # noqa: BLE001 -- the measurement itself will say what is wrong with the model
        return 0, 0
    return int(sum(saved.values())), int(counter.peak)


def _storage(tensor: torch.Tensor) -> Tuple[int, int]:
    """(identity, bytes) of a tensor's storage: views of one storage are
    one allocation."""
    try:
        storage = tensor.untyped_storage()
        return storage.data_ptr(), storage.nbytes()
    except (RuntimeError, NotImplementedError, AttributeError, TypeError):  # no plain storage (sparse, nested)
        return id(tensor), tensor.numel() * tensor.element_size()


def _activations(function: ModelFunction, batch: _Batch) -> None:
    """Sets ``batch.saved_bytes`` and ``batch.backward_bytes`` from
    :func:`activation_bytes`, measured on the first batch the model sees,
    per input item (a cross batch B of another size scales with its items)."""
    if function.activation_per_item is None:
        saved, backward = activation_bytes(function, batch)
        items = max(1, batch.items)
        function.activation_per_item = (saved / items, backward / items)
    saved_item, backward_item = function.activation_per_item
    batch.saved_bytes = int(math.ceil(saved_item * batch.items))
    batch.backward_bytes = int(math.ceil(backward_item * batch.items))


def count_activations(function: ModelFunction, inputs, targets) -> None:
    """:func:`_activations` of the probe batch, ahead of the first
    measurement (the probe calls it at construction, set-up like its
    calibration, so that the count's forward and backward are not charged
    to the budget's first measurement). A problem with the batch is left for
    the measurement to report."""
    try:
        rows, _ = _rows_and_values(targets)
        batch, _, _ = _probe_batch(function, inputs, rows=rows)
        _activations(function, batch)
    except Exception:  # noqa: BLE001 -- measure() says what is wrong, once, as it always has
        function.activation_per_item = None


def time_product(function: ModelFunction, inputs, targets, chunk_bytes: int, clock: Callable[[], float],
                 repeats: int = 2) -> Optional[float]:
    """Seconds of one product Θv of the probe batch (one vector through
    :class:`~spectop_probe.entk.EntkOperator`, as the matrix-free spectrum
    takes them): once untimed (the operator's route choice and first
    products are one-off costs), then the fastest of ``repeats`` timed. This
    process's rows only: under several processes a spectrum's products also
    pay their broadcast and all-reduce, which the first spectrum measures.
    None if a product cannot be taken (the measurement will say why)."""
    from .entk import EntkOperator
    try:
        rows, _ = _rows_and_values(targets)
        batch, _, _ = _probe_batch(function, inputs, rows=rows)
        _activations(function, batch)
        F, pullback, _ = _forward_with_readout_input(function, batch)
        operator = EntkOperator.of_batch(function, batch, F, pullback, Reducer(), chunk_bytes)
        vector = torch.ones((1, F.numel()), dtype=torch.float64, device=F.device)
        best: Optional[float] = None
        for run in range(1 + repeats):
            started = clock()
            operator.local(vector)
            seconds = clock() - started
            if run:
                best = seconds if best is None else min(best, seconds)
        return best
    except Exception:  # noqa: BLE001 -- the spectrum itself says what is wrong
        return None


def _forward_with_readout_input(function: ModelFunction, batch: _Batch):
    """(F, pullback, a): one differentiated forward of the whole batch, whose
    pullback (v -> Jᵀv) serves g and every Hutchinson vector, with the
    readout's input activations a (empty without a recognised readout) for
    its closed-form share of Tr Θ."""
    # Forward with the readout's inputs captured as an auxiliary output.
    function.attach_capture()
    try:
        def forward(p):
            F = function(p, batch.constants, batch.args, batch.kwargs, rows=batch.rows)
            a = function.take_capture()
            if a is None:
                return F, torch.zeros(0, dtype=F.dtype, device=F.device)
            a = a.detach()
            if batch.rows is not None:  # the readout's inputs of the counted rows
                a = a.reshape(-1, a.shape[-1]).index_select(0, batch.rows)
            return F, a
        F, pullback, readout_input = vjp(forward, batch.theta, has_aux=True)
    finally:
        function.detach_capture()
    return F, pullback, readout_input


def _loss_and_output_gradient(loss_fn: Callable, F: torch.Tensor, targets: torch.Tensor, share: float,
                              reducer: Reducer) -> Tuple[float, float, torch.Tensor]:
    """(L, χ_loss = |g|², g = dL/dF on this rank's rows). Autograd runs on the
    loss alone, on a detached leaf copy of F, so the model is not
    differentiated again; ``share`` (n_local / N) makes the local loss and g
    those of the global mean over every rank's rows. A loss that is not one
    differentiable number is refused: it would measure nothing."""
    outputs = F.detach().requires_grad_(True)
    with torch.enable_grad():
        local_loss = loss_fn(outputs, targets)
        if not isinstance(local_loss, torch.Tensor) or local_loss.numel() != 1:
            raise ProbeError("the loss must return one number (a tensor with one element)")
        if not local_loss.requires_grad:
            raise ProbeError("the loss is not differentiable in the model's outputs (its result has no gradient): "
                             "build it from differentiable operations on the outputs (not argmax, .item() or "
                             "a new tensor)")
        (g,) = torch.autograd.grad(local_loss, outputs)
    g = g * share
    loss = float(reducer.sum((local_loss.detach() * share).to(torch.float64).reshape(1))[0])
    chi_loss = float(reducer.sum(g.pow(2).sum().to(torch.float64).reshape(1))[0])
    return loss, chi_loss, g


def _summed_gradient(pullback, g: torch.Tensor, trainable: List[str], reducer: Reducer) -> torch.Tensor:
    """∇_θL = Jᵀg over the trainable θ, flattened, float64, summed over ranks."""
    (grads,) = pullback(g)
    flat = torch.cat([grads[name].reshape(-1) for name in trainable])
    return reducer.sum(flat.to(torch.float64))


def _side(function: ModelFunction, loss_fn: Callable, inputs, targets: torch.Tensor, settings: Settings,
          vectors: int, generator: Optional[torch.Generator], reducer: Reducer, like: _Batch, C: int) -> Side:
    """A cross batch B at the probe batch's θ (``like``): its loss, ‖∇_fL^B‖²,
    ∇_θL^B and Tr Θ_BB, by the same steps as the probe batch's (the trace
    route by B's own m, the same Hutchinson vector count)."""
    rows, targets = _rows_and_values(targets)
    batch, n_local, C_b = _probe_batch(function, inputs, params=(like.theta, like.constants), rows=rows)
    batch.whole_batch = _agree_whole_batch(function, batch, reducer)
    _activations(function, batch)
    if C_b != C:
        raise ProbeError("the cross batch gives %d outputs per row, the probe batch %d" % (C_b, C))
    F, pullback, readout_input = _forward_with_readout_input(function, batch)
    counts = reducer.sum(torch.tensor([float(n_local)], dtype=torch.float64, device=F.device))
    loss, chi_loss, g = _loss_and_output_gradient(loss_fn, F, targets, n_local / float(counts[0]), reducer)
    gradient = _summed_gradient(pullback, g, function.trainable, reducer)
    readout_trace = _readout_trace(function, readout_input, n_local, C, F.device, reducer)
    rows = int(round(float(counts[0])))
    body_trace, mode, stderr, used = _body_trace(function, batch, F, pullback, rows * C, settings, vectors,
                                                 generator, reducer)
    return Side(loss=loss, chi_loss=chi_loss, chi_net=readout_trace + body_trace, gradient=gradient, rows=rows,
                estimate=(mode == "hutchinson"), stderr=stderr, vectors=used)


def _readout_trace(function: ModelFunction, readout_input: torch.Tensor, n_local: int, C: int,
                   device: torch.device, reducer: Reducer, per_name: Optional[Dict[str, float]] = None) -> float:
    """The recognised readout's share of Tr Θ in closed form, summed over
    ranks: dF[r,c]/dW = e_c a_rᵀ gives C Σ_r |a_r|² for the weight and
    dF[r,c]/db = e_c gives C·n for the bias (each when trainable); 0 without
    a recognised readout. It costs nothing beyond the captured activations,
    where the per-sample route would pay for the largest layer."""
    shares = torch.zeros(2, dtype=torch.float64, device=device)   # weight, bias
    names = set(function.readout_params)
    prefix = (function.readout_name + "." if function.readout_name else "") if names else ""
    if names:
        a = readout_input.reshape(n_local, -1).to(torch.float64)
        if prefix + "weight" in names:
            shares[0] = C * a.pow(2).sum()
        if prefix + "bias" in names:
            shares[1] = C * n_local
    shares = reducer.sum(shares)
    if per_name is not None:
        for k, suffix in enumerate(("weight", "bias")):
            if prefix + suffix in names:
                per_name[prefix + suffix] = float(shares[k])
    return float(shares.sum())


def _body_trace(function: ModelFunction, batch: _Batch, F: torch.Tensor, pullback, m_total: int,
                settings: Settings, vectors: int, generator: Optional[torch.Generator],
                reducer: Reducer, per_name: Optional[Dict[str, float]] = None
                ) -> Tuple[float, str, Optional[float], int]:
    """(trace, mode, stderr, vectors used): the share of Tr Θ of the trainable
    parameters outside the closed-form readout ("the body"), by the route
    ``settings.trace`` names ("auto": exact while m = n*C is at most
    ``exact_max_outputs``). Without a body the trace is exact (0).
    ``per_name`` gets the trace's split over the body's parameters (an
    estimate when the trace is; the same vectors, so it sums to it)."""
    names = set(function.readout_params)
    body = [name for name in function.trainable if name not in names]
    mode = settings.trace
    if mode == "auto" and settings.exact_any_m:
        mode = "exact"   # budget=None: "exact, whatever it costs"
    if mode == "auto":
        # The whole-batch route costs a backward of the whole batch per
        # output entry, `items` times the per-sample route's: the same cost
        # ceiling allows `items` times fewer outputs.
        limit = settings.exact_max_outputs
        if batch.whole_batch:
            limit = limit // max(1, batch.items)
        mode = "exact" if m_total <= limit else "hutchinson"
    if not body:
        return 0.0, "exact", None, 0
    if mode == "exact":
        split = _trace_exact(function, batch, body, settings.chunk_bytes, reducer, F, pullback)
        _store(per_name, body, split)
        return float(split.sum()), mode, None, 0
    if mode == "hutchinson":
        used = max(2, int(vectors))
        body_trace, stderr, split = _trace_hutchinson(pullback, batch.theta, body, F, used, function.dtype,
                                                      settings.chunk_bytes, generator, reducer, batch.backward_bytes)
        _store(per_name, body, split)
        return body_trace, mode, stderr, used
    raise ProbeError("trace=%r: use \"auto\", \"exact\" or \"hutchinson\"" % settings.trace)


def _trace_exact(function: ModelFunction, batch: _Batch, body: List[str], chunk_bytes: int,
                 reducer: Reducer, F: torch.Tensor, pullback) -> torch.Tensor:
    """The body's Tr Θ exactly, one part per body parameter (float64): the
    sum of squared per-output gradients (in chunks, so no m x P tensor
    exists), summed over ranks (each rank's rows are its own diagonal
    block); per sample where that route holds, else from the whole batch's
    pullback (:func:`_exact_rows`)."""
    split = _exact_rows(function, batch, body, chunk_bytes, F, pullback, lambda rows: rows.squared_norm_sum())
    return reducer.sum(split.to(torch.float64))


def _store(per_name: Optional[Dict[str, float]], names: List[str], values: torch.Tensor) -> None:
    if per_name is not None:
        per_name.update(zip(names, values.tolist()))


def _per_name(squares: torch.Tensor, names: List[str], theta: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """The flat ``squares`` (in ``names`` order, as ``_summed_gradient``
    lays them out) summed per parameter."""
    sums = torch.split(squares, [theta[name].numel() for name in names])
    return {name: float(part.sum()) for name, part in zip(names, sums)}


def _whole_batch_only(function: ModelFunction, batch: _Batch) -> bool:
    """True where the per-sample route does not hold: a selection of rows,
    items that interact, or a model it already failed on."""
    return (batch.rows is not None or function.items_interact or function.per_sample_failure is not None
            or batch.per_item == 0)


def _agree_whole_batch(function: ModelFunction, batch: _Batch, reducer: Reducer) -> bool:
    """:func:`_whole_batch_only` for every rank at once: one rank's rows
    (its own -100 labels) must not send it down another route than the
    others, whose collectives would then not match. One small all-reduce
    under several processes."""
    local = _whole_batch_only(function, batch)
    if reducer.world == 1:
        return local
    votes = reducer.sum(torch.tensor([1.0 if local else 0.0], dtype=torch.float64, device=batch_device(batch)))
    return float(votes[0]) > 0


def batch_device(batch: _Batch) -> torch.device:
    return next(iter(batch.theta.values())).device


def _exact_rows(function: ModelFunction, batch: _Batch, names: List[str], chunk_bytes: int, F: torch.Tensor,
                pullback, use: Callable):
    """``use`` applied to J's rows (of ``names``) by the per-sample route,
    or, where that does not hold or fails (vmap cannot split the model), by
    the whole-batch route (:class:`WholeBatch`) with the measurement's own
    pullback. A failure is remembered, so later measurements go whole-batch
    at once. ``pullback`` None (a batch gathered from several ranks, which
    no pullback here is of): a failure is raised, not remembered (the other
    ranks did not see it)."""
    if not batch.whole_batch:
        try:
            return use(batch.per_sample(function, names, chunk_bytes))
        except PerSampleFailure as error:
            if pullback is None:
                raise
            function.per_sample_failure = str(error)
    return use(WholeBatch(pullback, batch.theta, names, F, chunk_bytes, batch.backward_bytes))


ONE_SIGMA = 0.8413447460685429  # Φ(1): a ±1σ interval of a normal variable holds 68.27 %


def student_factor(vectors: int) -> float:
    """How far, in units of the sample standard error s/√K, the two-sided
    68.27 % interval of a mean of K draws reaches when the spread is itself
    estimated from those K draws: Student's t quantile with K − 1 degrees of
    freedom at Φ(1) (1.837 at K = 2, 1.197 at K = 4, 1.035 at K = 16, → 1).
    Stated as the standard error, ±1 of it covers the exact value as often as
    ±1σ would: at K = 4 the plain s/√K covered it 60 % of the time, not 68 %."""
    from scipy.stats import t as student
    return float(student.ppf(ONE_SIGMA, max(1, int(vectors) - 1)))


def hutchinson_chunk(parameters: int, outputs: int, itemsize: int, chunk_bytes: int, vectors: int,
                     backward_bytes: int = 0) -> int:
    """How many Hutchinson vectors go through one batched backward so that
    the working set stays within ``chunk_bytes``: each vector holds its
    signs (one byte per output), the output-space vector and the cotangent
    of the outputs the backward makes from it (``outputs`` numbers each, the
    logits' size: 50,257 per token for GPT-2), the gradient of every
    trainable parameter (the pullback makes all of them, not only the
    body's), and the backward's own working set, the gradients of the
    batch's activations (``backward_bytes``, measured on the model:
    :func:`activation_bytes`). At least one vector."""
    per_vector = outputs * (1 + 2 * itemsize) + parameters * itemsize + int(backward_bytes)
    return max(1, min(int(vectors), int(chunk_bytes) // max(1, per_vector)))


def _trace_hutchinson(pullback, theta: Dict[str, torch.Tensor], body: List[str], F: torch.Tensor, used: int,
                      dtype: torch.dtype, chunk_bytes: int, generator: Optional[torch.Generator],
                      reducer: Reducer, backward_bytes: int = 0) -> Tuple[float, float, torch.Tensor]:
    """(estimate, standard error, the estimate's split over the body's
    parameters) of the body's Tr Θ = E_v |J_bodyᵀ v|² over
    ``used`` Rademacher vectors v in output space, for when m is too large for
    per-sample gradients: one backward per vector through the shared pullback,
    vmapped in chunks sized by :func:`hutchinson_chunk` (the vectors, the
    outputs' cotangents and the parameter gradients of a chunk stay within
    ``chunk_bytes``). The signs come from the probe's seeded generator, one
    draw per chunk. The standard error is Student-t scaled
    (:func:`student_factor`), so that ±1 of it is a 68 % interval at every K."""
    z = torch.empty(used, len(body), dtype=torch.float64, device=F.device)
    parameters = sum(value.numel() for value in theta.values())
    itemsize = torch.finfo(dtype).bits // 8
    per_chunk = hutchinson_chunk(parameters, F.numel(), itemsize, chunk_bytes, used, backward_bytes)
    def body_norm(v):
        (grads,) = pullback(v)  # one backward per vector, then the body's part of it
        return torch.stack([grads[name].pow(2).sum() for name in body])

    batched = vmap(body_norm)
    for start in range(0, used, per_chunk):
        stop = min(used, start + per_chunk)
        # int8 signs: the same draws as int64 ones, an eighth of the memory.
        signs = torch.randint(0, 2, (stop - start,) + tuple(F.shape), generator=generator, dtype=torch.int8,
                              device=generator.device if generator is not None else F.device)
        v = signs.to(device=F.device, dtype=F.dtype).mul_(2).sub_(1)
        del signs
        z[start:stop] = (batched(v) if stop - start > 1 else body_norm(v[0])[None]).to(torch.float64)
        del v
    # Each rank estimates its own diagonal block; the sums are unbiased for Tr Θ.
    z = reducer.sum(z)
    split = z.mean(dim=0)
    z = z.sum(dim=1)
    body_trace = float(z.mean())
    stderr = float(z.std(unbiased=True) / math.sqrt(used)) * student_factor(used)
    return body_trace, stderr, split


def _take_spectrum(result: RawMeasurement, function: ModelFunction, batch: _Batch, g: torch.Tensor, m_total: int,
                   settings: Settings, reducer: Reducer, F: torch.Tensor, pullback,
                   generator: Optional[torch.Generator], lanczos_allowed: bool = True,
                   clock: Callable[[], float] = time.perf_counter) -> None:
    """Sets ``result.spectrum`` (exact or matrix-free, as
    matrix_free.choose_method says), or ``result.no_spectrum`` to why none is
    taken, or ``result.spectrum_error`` to why this one failed, or
    ``result.kernel_finite`` to False when Θ is not finite (on every rank)."""
    from .matrix_free import choose_method

    P = sum(batch.theta[name].numel() for name in function.trainable)
    itemsize = torch.finfo(function.dtype).bits // 8
    choice = choose_method(m_total, P, itemsize, result.estimate, settings.spectrum_method, settings.exact_limit,
                           settings.spectrum_bytes, settings.spectrum_max_outputs, settings.matrix_free,
                           any_m=settings.exact_any_m)
    if choice.method is None:
        result.no_spectrum = choice.reason
        return
    if choice.method == "lanczos" and not lanczos_allowed:
        return  # a later measurement takes it
    if choice.method == "exact":
        failed = _take_exact_spectrum(result, function, batch, g, settings, reducer, F, pullback)
        if result.spectrum is not None:
            result.spectrum.method_reason = choice.reason
        if failed is None:
            return
        # The per-sample route cannot run this model: the matrix-free one can.
        if settings.spectrum_method == "exact" or settings.matrix_free.top_k >= m_total:
            result.spectrum_error = failed
            return
        choice.reason = "the per-sample route failed (%s)" % failed
    _take_lanczos_spectrum(result, function, batch, g, settings, reducer, F, pullback, generator, choice.reason,
                           clock)


def _take_exact_spectrum(result: RawMeasurement, function: ModelFunction, batch: _Batch, g: torch.Tensor,
                         settings: Settings, reducer: Reducer, F: torch.Tensor, pullback) -> Optional[str]:
    """The exact spectrum of Θ = J Jᵀ (float64 eigh). Returns why the
    per-sample route failed (on any rank), or None."""
    # Θ spans every rank's rows: the first rank gathers the probe
    # batch and g and computes it alone (each rank holds the whole
    # model: DDP replicas, FSDP2 gathered above). Where only the whole-batch
    # route holds, each rank takes its own rows of J (its batch statistics,
    # its selected rows) and the first rank gathers those.
    started = time.perf_counter()
    failed: Optional[str] = None
    jacobian = None
    if batch.whole_batch and reducer.world > 1:
        local = WholeBatch(pullback, batch.theta, function.trainable, F, settings.chunk_bytes,
                           batch.backward_bytes).jacobian()
        parts = reducer.gather_to_first((local, g.detach()))
        whole, whole_g = batch, g
        if parts is not None and reducer.rank == 0:
            jacobian = torch.cat([p[0].to(g.device) for p in parts])
            whole_g = torch.cat([p[1].to(g.device) for p in parts])
    elif batch.whole_batch:
        whole, whole_g = batch, g
    else:
        whole, whole_g = _gather_to_first_rank(batch, g, reducer)
    if reducer.rank == 0:
        try:
            if jacobian is None:
                jacobian = _exact_rows(function, whole, function.trainable, settings.chunk_bytes, F,
                                       pullback if reducer.world == 1 else None,
                                       lambda rows: rows.jacobian())
        except ProbeError as error:
            failed = str(error)
        else:
            kernel = gram_float64(jacobian, settings.chunk_bytes)
            del jacobian
            if torch.isfinite(kernel).all():
                result.spectrum = spectrum_from_kernel(kernel, whole_g)
                result.spectrum.seconds = time.perf_counter() - started
            else:
                result.kernel_finite = False  # spectop: "diverged", detail "the eNTK is not finite"
    if reducer.world > 1:
        # Every rank must learn of a divergence, or the others would wait on
        # the next collective, and of a failed route, which they then take the
        # matrix-free way together.
        flag = reducer.sum(torch.tensor([0.0 if result.kernel_finite else 1.0, 0.0 if failed is None else 1.0],
                                        dtype=torch.float64, device=g.device))
        result.kernel_finite = float(flag[0]) == 0.0
        if failed is None and float(flag[1]) != 0:
            failed = "on rank 0"
    return failed


def _take_lanczos_spectrum(result: RawMeasurement, function: ModelFunction, batch: _Batch, g: torch.Tensor,
                           settings: Settings, reducer: Reducer, F: torch.Tensor, pullback,
                           generator: Optional[torch.Generator], reason: str,
                           clock: Callable[[], float] = time.perf_counter) -> None:
    """The matrix-free spectrum (matrix_free.take_matrix_free), fresh
    quadrature starts each time (drawn from the probe's generator, so
    successive estimates are independent)."""
    from dataclasses import replace as replaced
    from .matrix_free import take_matrix_free

    mixed = settings.matrix_free
    if generator is not None:
        draw = torch.randint(0, 2 ** 62, (1,), generator=generator, device=generator.device)
        mixed = replaced(mixed, seed=int(mixed.seed) ^ int(draw[0]))
    started = clock()
    spectrum, failure, finite = take_matrix_free(function, batch, F, pullback, g, result.chi_net, reducer, mixed,
                                                 settings.chunk_bytes, clock)
    result.kernel_finite = finite
    result.spectrum_error = failure
    if spectrum is not None and finite and failure is None:
        result.spectrum = Spectrum(
            eigenvalues=spectrum.eigenvalues, weights=spectrum.weights, chi_pos_exact=spectrum.chi_pos,
            lambda_eff=spectrum.lambda_eff, r_eff=spectrum.r_eff, effective_rank=spectrum.effective_rank,
            method="lanczos", method_reason=reason, mode_count=spectrum.mode_count,
            r_eff_uncertainty=spectrum.r_eff_uncertainty, rest_weight=spectrum.rest_weight,
            density=spectrum.density, seconds=clock() - started, products=spectrum.products,
            arpack_products=spectrum.arpack_products, arpack_seconds=spectrum.seconds_arpack)


def _gather_to_first_rank(batch: _Batch, g: torch.Tensor, reducer: Reducer) -> Tuple[_Batch, torch.Tensor]:
    """(batch, g) of every rank's rows, in rank order, on the group's first
    rank (the local ones elsewhere, and with one process), so that rank can
    form the whole Θ. A collective: every rank calls it."""
    if reducer.world == 1:
        return batch, g
    parts = reducer.gather_to_first((batch.args, batch.kwargs, g))
    if parts is None:
        return batch, g
    device = g.device
    def join(values):
        if isinstance(values[0], torch.Tensor):
            return torch.cat(values, dim=0).to(device)
        return values[0]
    args = tuple(join([p[0][k] for p in parts]) for k in range(len(batch.args)))
    kwargs = {key: join([p[1][key] for p in parts]) for key in batch.kwargs}
    whole_g = torch.cat([p[2] for p in parts], dim=0).to(device)
    return replace(batch, args=args, kwargs=kwargs, items=batch_items(args, kwargs)), whole_g
