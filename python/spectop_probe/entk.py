"""The eNTK operator of any model: Θv = J(Jᵀv) on the whole probe batch.

``Jᵀv`` is one vector-Jacobian product of the whole batch (the pullback of
the measurement's own differentiated forward, so no forward is repeated);
``Ju`` is its transpose. Neither runs the model per sample, so models whose
items interact or that ``vmap`` cannot split per sample (attention masks,
padding, dict and keyword inputs, data-dependent control flow) work as they
do in training. Several vectors go through at once (``vmap`` over the
vectors, never over the samples), in chunks that keep at most
``chunk_bytes`` alive: each vector's parameter- and output-space copies and
the working set of its backwards (measured on the model:
measure.activation_bytes).

``Ju`` has three routes, tried in this order per model on the first product:

- ``reverse``: the vector-Jacobian product of the pullback itself. The
  pullback ``v -> Jᵀv`` is linear, so its own VJP with cotangent ``u`` is
  ``Ju``: a second backward pass through the saved graph, without running
  the forward again and without forward-mode AD (which some operators lack).
  On the char-GPT example it is 2× faster than ``jvp``.
- ``reverse-math``: the same from a forward run again with
  ``scaled_dot_product_attention`` on its math kernel: the fused (flash,
  memory-efficient) attention kernels that Hugging Face models use by
  default have no double backward and no forward-mode AD.
- ``forward``: ``torch.func.jvp`` of the model (attention on the math
  kernel), for a model whose backward is not differentiable (a custom
  autograd Function that detaches).

The route is checked on a random vector: ``⟨v, J(Jᵀv)⟩ = ‖Jᵀv‖²`` holds for
the true product, and a route that silently gives a wrong ``Ju`` (a custom
Function whose backward detaches) fails it and is not used.

Under DDP and FSDP2 each rank holds its own rows of the probe batch; the
operator is of the whole batch, so every product is collective: rank 0
broadcasts the block of vectors, each rank pulls back its rows' part, the
parameter-space vectors ``Jᵀv`` are all-reduced (the sum over ranks is the
whole batch's), each rank pushes that forward through its own rows, and a
second all-reduce puts the rows together on every rank. Rank 0 drives the
spectrum (:meth:`EntkOperator.apply`); the other ranks answer its products
(:meth:`EntkOperator.serve`) until it says stop. A rank whose product fails
says so in the all-reduce instead of raising, so no rank is left waiting in
a collective the others never enter.
"""

from __future__ import annotations

import contextlib
import math
from typing import Dict, List, Optional, Sequence

import torch
from torch.func import jvp, vjp, vmap

from .spectrum import SpectrumFailure

_STOP, _PRODUCT = 0, 1
ROUTES = ("reverse", "reverse-math", "forward")


def math_attention():
    """A context in which scaled_dot_product_attention runs its math kernel,
    which has every derivative (the fused kernels lack double backward and
    forward-mode AD); a no-op on a torch without the switch."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return contextlib.nullcontext()
    return sdpa_kernel(SDPBackend.MATH)


class EntkOperator:
    """Θ = J Jᵀ of the probe batch (all ranks' rows) as products.

    ``pullback`` is ``v [n_local, C] -> (grads,)`` of the measurement's
    differentiated forward (``torch.func.vjp``), ``forward`` the model as
    ``theta -> F`` for the forward-mode route, ``theta`` the trainable
    parameters (``names``, in the order the flat vectors use)."""

    def __init__(self, pullback, forward, theta: Dict[str, torch.Tensor], names: List[str], F: torch.Tensor,
                 reducer, chunk_bytes: int = 1 << 28, seed: int = 0x0E7, routes: Sequence[str] = ROUTES,
                 backward_bytes: int = 0):
        self.pullback, self.forward = pullback, forward
        self.routes = tuple(routes)
        self.theta, self.names = theta, list(names)
        self.local_shape = tuple(F.shape)
        self.dtype, self.device = F.dtype, F.device
        self.reducer = reducer
        self.shapes = [theta[name].shape for name in self.names]
        self.sizes = [theta[name].numel() for name in self.names]
        self.parameters = sum(self.sizes)
        itemsize = torch.finfo(self.dtype).bits // 8
        # A chunk of the block in flight: per vector its parameter-space
        # vector, its output-space one and the working set of a backward
        # (``backward_bytes``, measured: measure.activation_bytes); the
        # reverse route's second backward runs through the first's graph,
        # whose tensors are as large again, so it is counted twice.
        per_vector = (self.parameters + F.numel()) * itemsize + 2 * int(backward_bytes)
        self.chunk = max(1, int(chunk_bytes) // max(1, per_vector))
        self.m_local = F.numel()
        counts = reducer.gather_all(self.m_local, self.device)
        self.offsets = [sum(counts[:r]) for r in range(len(counts))]
        self.size = sum(counts)                   # m of the whole probe batch
        self.offset = self.offsets[reducer.rank]
        self.route: Optional[str] = None
        self._transpose = None
        self._seed = seed
        self.products = 0                          # vectors pushed through, for cost reports

    @classmethod
    def of_batch(cls, function, batch, F: torch.Tensor, pullback, reducer, chunk_bytes: int,
                 routes: Sequence[str] = ROUTES) -> "EntkOperator":
        """Θ of a measurement's probe batch (measure._Batch: θ, constants,
        inputs, counted rows, the backward's measured bytes), from its
        differentiated forward ``F``, ``pullback``."""
        forward = lambda p: function(p, batch.constants, batch.args, batch.kwargs, rows=batch.rows)  # noqa: E731
        return cls(pullback, forward, batch.theta, function.trainable, F, reducer, chunk_bytes, routes=routes,
                   backward_bytes=batch.backward_bytes)

    # ------------------------------------------------------------ local products

    def _flat(self, grads) -> torch.Tensor:
        return torch.cat([grads[name].reshape(-1) for name in self.names])

    def _unflat(self, u: torch.Tensor) -> Dict[str, torch.Tensor]:
        parts = torch.split(u, self.sizes)
        return {name: part.reshape(shape) for name, part, shape in zip(self.names, parts, self.shapes)}

    def _chunked(self, function, block: torch.Tensor) -> torch.Tensor:
        if block.shape[0] == 1:
            return function(block[0])[None]
        pieces = [vmap(function)(block[start:start + self.chunk]) for start in range(0, block.shape[0], self.chunk)]
        return torch.cat(pieces)

    def pull(self, v: torch.Tensor) -> torch.Tensor:
        """Jᵀv of this rank's rows: ``[b, n_local, C] -> [b, P]``."""
        if self.route is None:
            self._choose_route()  # first: the route may bring its own pullback
        return self._chunked(lambda one: self._flat(self.pullback(one)[0]), v)

    def push(self, u: torch.Tensor) -> torch.Tensor:
        """Ju on this rank's rows: ``[b, P] -> [b, m_local]``."""
        if self.route is None:
            self._choose_route()
        if self.route != "forward":
            return self._chunked(lambda one: self._transpose(self._unflat(one))[0].reshape(-1), u)
        with math_attention():
            return self._chunked(lambda one: jvp(self.forward, (self.theta,), (self._unflat(one),))[1].reshape(-1), u)

    def _choose_route(self) -> None:
        """The first route whose product passes ⟨v, J(Jᵀv)⟩ = ‖Jᵀv‖² on a
        random v of this rank's rows."""
        generator = torch.Generator(device="cpu").manual_seed(self._seed)
        v = torch.randn(self.local_shape, generator=generator, dtype=torch.float64).to(self.device, self.dtype)
        u = self._flat(self.pullback(v)[0])
        expected = float(u.double().pow(2).sum())
        tolerance = 1e-8 if self.dtype == torch.float64 else 1e-3
        problems = []
        measured = self.pullback
        for route in self.routes:
            self.pullback = measured
            try:
                if route == "forward":
                    with math_attention():
                        y = jvp(self.forward, (self.theta,), (self._unflat(u),))[1]
                else:
                    if route == "reverse-math":
                        with math_attention():
                            _, self.pullback = vjp(self.forward, self.theta)
                    zero = torch.zeros(self.local_shape, dtype=self.dtype, device=self.device)
                    _, self._transpose = vjp(lambda w: self.pullback(w)[0], zero)
                    y = self._transpose(self._unflat(u))[0]
                got = float((v.double() * y.double().reshape(v.shape)).sum())
            except Exception as error:  # a model this route cannot differentiate: try the next
                problems.append("%s: %s: %s" % (route, type(error).__name__, str(error).strip().split("\n")[0]))
                continue
            if math.isfinite(got) and abs(got - expected) <= tolerance * max(abs(expected), 1e-300):
                self.route = route
                return
            problems.append("%s: ⟨v, J(Jᵀv)⟩ = %.6g but ‖Jᵀv‖² = %.6g" % (route, got, expected))
        self._transpose = None
        self.pullback = measured
        raise SpectrumFailure("no Jacobian-vector product of this model passes the check (%s)" % "; ".join(problems))

    def local(self, block: torch.Tensor) -> torch.Tensor:
        """Θ of this rank's rows alone (one process: the whole operator)."""
        v = block.to(self.dtype).reshape((block.shape[0],) + self.local_shape)
        return self.push(self.pull(v)).to(torch.float64)

    # ------------------------------------------------------------ the whole batch

    def apply(self, block: torch.Tensor) -> torch.Tensor:
        """Θ of the whole probe batch on a float64 block ``[b, m]`` (rows are
        vectors) on this device; with several ranks, rank 0 calls it and the
        others :meth:`serve`."""
        self.products += block.shape[0]
        if self.reducer.world == 1:
            return self.local(block)
        header = torch.tensor([_PRODUCT, block.shape[0]], dtype=torch.int64, device=self.device)
        self._broadcast(header)
        block = block.to(self.device, torch.float64).contiguous()
        self._broadcast(block)
        return self._collective_product(block)

    def serve(self) -> None:
        """The other ranks' side of :meth:`apply`: answer products until
        rank 0 says stop."""
        while True:
            header = torch.zeros(2, dtype=torch.int64, device=self.device)
            self._broadcast(header)
            if int(header[0]) == _STOP:
                return
            block = torch.empty((int(header[1]), self.size), dtype=torch.float64, device=self.device)
            self._broadcast(block)
            try:
                self._collective_product(block)
            except SpectrumFailure:
                pass  # rank 0 raised it too, and says stop

    def stop(self) -> None:
        """Rank 0: releases the other ranks from :meth:`serve`."""
        if self.reducer.world > 1:
            self._broadcast(torch.tensor([_STOP, 0], dtype=torch.int64, device=self.device))

    def _broadcast(self, tensor: torch.Tensor) -> None:
        group = self.reducer.group
        source = self.reducer.dist.get_global_rank(group, 0) if group is not None else 0
        self.reducer.dist.broadcast(tensor, src=source, group=group)

    def _all_reduce(self, tensor: torch.Tensor) -> None:
        self.reducer.dist.all_reduce(tensor, op=self.reducer.dist.ReduceOp.SUM, group=self.reducer.group)

    def _collective_product(self, block: torch.Tensor) -> torch.Tensor:
        """One collective product; every rank calls it with the same block.
        The last element of each all-reduced vector counts the ranks whose
        part failed, so that all of them raise together."""
        b = block.shape[0]
        failed, reason = 0.0, "on another rank"
        u = torch.zeros((b, self.parameters), dtype=self.dtype, device=self.device)
        try:
            mine = block[:, self.offset:self.offset + self.m_local].to(self.dtype)
            u = self.pull(mine.reshape((b,) + self.local_shape))
        except Exception as error:  # said through the all-reduce, and raised below on every rank
            failed, reason = 1.0, _describe(error)
        summed = torch.cat([u.reshape(-1), torch.tensor([failed], dtype=self.dtype, device=self.device)])
        self._all_reduce(summed)
        out = torch.zeros((b, self.size), dtype=torch.float64, device=self.device)
        failed = 0.0
        if float(summed[-1]) == 0:
            try:
                out[:, self.offset:self.offset + self.m_local] = self.push(summed[:-1].reshape(b, self.parameters))
            except Exception as error:
                failed, reason = 1.0, _describe(error)
        else:
            failed = 1.0
        flagged = torch.cat([out.reshape(-1), torch.tensor([failed], dtype=torch.float64, device=self.device)])
        self._all_reduce(flagged)
        if float(flagged[-1]) != 0:
            raise SpectrumFailure("a product Θv of the probe batch failed: %s" % reason)
        return flagged[:-1].reshape(b, self.size)


def _describe(error: Exception) -> str:
    text = str(error).strip().split("\n")[0]
    return text if isinstance(error, SpectrumFailure) else "%s: %s" % (type(error).__name__, text)


def entk_operator(model: torch.nn.Module, probe_inputs, trainable: Optional[Sequence[str]] = None,
                  dtype: torch.dtype = torch.float64, output_fn=None, routes: Sequence[str] = ROUTES,
                  chunk_bytes: int = 1 << 28) -> EntkOperator:
    """Θ of ``model`` on ``probe_inputs`` (a tensor, a tuple of positional
    inputs, or a dict of keyword inputs) in one process, for use outside a
    :class:`~spectop_probe.Probe`: ``operator.apply(V)`` with V a float64
    ``[b, m]`` block gives ``Θ`` applied to each row, ``m = n·C`` in the
    probe's order (sample-major). ``trainable``: parameter names (default:
    those with ``requires_grad``); the model is called in its current mode."""
    from .measure import ModelFunction, Reducer, _activations, _forward_with_readout_input, _probe_batch, default_output

    if isinstance(probe_inputs, torch.Tensor):
        inputs = ((probe_inputs,), {})
    elif isinstance(probe_inputs, dict):
        inputs = ((), dict(probe_inputs))
    else:
        inputs = (tuple(probe_inputs), {})
    names = list(trainable) if trainable is not None else [n for n, p in model.named_parameters() if p.requires_grad]
    function = ModelFunction(model, names, dtype, output_fn or default_output, readout=None)
    batch, _, _ = _probe_batch(function, inputs)
    _activations(function, batch)
    F, pullback, _ = _forward_with_readout_input(function, batch)
    return EntkOperator.of_batch(function, batch, F, pullback, Reducer(), chunk_bytes, routes=routes)
