"""The probe's cost model and budget: what each measurement may do.

One cost model, measured on the job itself, decides at every scheduled
measurement (docs/METHOD.md, "The probe's budget"):

- whether to measure at all (fallback: none, a ``budget`` event says why);
- the trace route: exact (per-sample gradients) or Hutchinson with K vectors;
- whether a spectrum fits now, and its size: a matrix-free spectrum that
  does not fit is first made smaller (``top_k`` halved down to 8, then 40
  block Lanczos steps in place of 48: MatrixFreeSettings.reduced_sizes,
  whose floors keep the histogram within its contracts), and only when
  even the smallest does not fit is it left for a later measurement.

The rule is one inequality on the run's wall clock. With ``T`` the training
wall time the probe has seen (the intervals between ``Probe.step`` calls,
less the probe's own time), ``S`` the probe's time so far (every
measurement), ``b`` the budget (0.05) and ``T_next`` the training predicted
until the next scheduled measurement (its gap times the median training
step), a measurement of predicted cost ``c`` is taken only if

    S + c <= b · (T + T_next).

So after every measurement the probe's share of the training wall time since
the first one (the first included: its interval is the one after it) is at
most ``b``, as long as the predictions hold. The costs are the latest
measured ones: the fixed part, one Hutchinson vector, the exact trace, an
exact spectrum, and a matrix-free spectrum's products (ARPACK's
single-vector products and the quadrature's block products at their own
measured time per product; a size's cost is its product count times
those, :meth:`Budget.lanczos_cost`).

The first measurement is where predictions fail, so two things happen at
construction, as set-up before the training the budget is a share of (like
the header's forward; neither counts in ``S``):

- the training step, unknown until two ``step`` calls were seen, is
  estimated by one forward and one VJP of the probe batch, timed as the
  fastest of three passes after an untimed one. Over-estimating the
  training time is the unsafe direction (it lets the first measurement
  spend more than its share), and warm-up and a loaded machine's stalls
  only ever add time: one timed pass measured 84-159 ms on the char-GPT
  example where the pass repeated takes 8-9 ms and the training step
  13 ms. The estimate assumes a training step processes at least the
  probe batch (its forward and backward, then the optimizer), true when
  the probe batch is no larger than a training batch;
- the first measurement's route (its trace route and vector count, as the
  plan chooses them from the calibration) is rehearsed: run once untimed,
  which pays its one-off costs (the readout search, the first vmap over a
  chunk of vectors, allocator growth: 0.1-4 s against a steady 50-250 ms
  on the char-GPT example), then twice timed, whose fastest stage times
  are the first plan's costs. The probe's generator is restored afterwards, so the
  measurements draw the vectors they would have drawn. Where a spectrum
  may be matrix-free, one product Θv is rehearsed too, and until a
  spectrum was measured each product is predicted at its time (without
  one: three Hutchinson vectors), with 6 ARPACK products per eigenpair.

After the first measurement, while spectra are on, the trace's vectors take
at most ``1 − SPECTRUM_RESERVE`` of their interval's share, so that the rest
accumulates for spectra: a spectrum is taken when the time saved covers it,
later otherwise. A measurement is left out only when even its cheapest
route does not fit all that is left (the scalars come first).

Under DDP the ranks plan from the same numbers: each rank's timings are
reduced to their maximum (the training time to its minimum) before the
plan, so every rank takes the same route with the same vector count and the
collectives of the measurement match (a rank that timed itself faster would
otherwise run fewer vectors and wait forever for the others' all-reduce).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Optional, Tuple

import torch

from .spectrum import MatrixFreeSettings

DEFAULT_BUDGET = 0.05
# The share of an interval's budget kept back for spectra while they are
# wanted: the trace takes the rest, and a spectrum is taken when the savings
# cover it (a matrix-free spectrum costs hundreds of products, many
# intervals' worth at a 5% budget).
SPECTRUM_RESERVE = 0.5
# A product Θv is one JVP and one VJP of the batch, and the matrix-free
# spectrum's bookkeeping around it: three VJPs' worth until one is measured.
PRODUCT_PER_VECTOR = 3.0
# ARPACK's products per head eigenpair until a spectrum was measured (it
# took 3.1-5.8 per eigenpair at top-8 to top-32 on the test kernels, 4.8 on
# the char-GPT probe at top-32).
ARPACK_PRODUCTS_PER_K = 6.0
# Flop rate assumed for forming JJᵀ and eigh before an exact spectrum was
# timed: low, so that the first estimate errs on the costly side.
ASSUMED_FLOPS = 2e9
# Timed calibration passes at construction (after an untimed one); the
# fastest is kept.
CALIBRATION_REPEATS = 3
# Timed rehearsals of the first measurement at construction (after an
# untimed one); each part's fastest is kept. One timed run on a loaded
# machine made the first measurement look too dear to fit its share.
REHEARSALS = 2
# Training-step intervals kept for the median.
RECENT_STEPS = 64


@dataclass
class Plan:
    """What one measurement does. ``reason`` is the record's ``budget_reason``
    (the step line; the ``budget`` event's detail when ``measure`` is False):
    None when the budget changed nothing the settings would have done."""
    measure: bool
    trace: str                 # "exact" | "hutchinson"
    vectors: int               # Hutchinson vectors (0 with the exact trace)
    spectrum: bool             # take the spectrum now (when one is wanted at this measurement)
    predicted_seconds: float
    reason: Optional[str] = None
    # The matrix-free spectrum's size when the budget took a smaller one than
    # the settings' (None: the settings' own), and its predicted products.
    matrix_free: Optional[MatrixFreeSettings] = None
    spectrum_products: Optional[int] = None


@dataclass
class Layout:
    """The sizes the costs scale with (fixed for a probe)."""
    m: int                     # n·C over every rank
    per_item: int              # q: output entries per input item (the exact trace's VJPs per chunk, at most)
    parameters: int            # P, trainable
    sides: int = 1             # 2 with a cross batch B (its own forward, loss, trace)
    items: int = 1             # input items in the probe batch (per rank)
    whole_batch: bool = False  # the exact routes take whole-batch products (measure.WholeBatch): m backwards


class CostModel:
    """The latest measured cost of each part of a measurement, and the
    training step's median. Seconds are wall time on the probe's clock."""

    def __init__(self):
        self.steps: Deque[float] = deque(maxlen=RECENT_STEPS)
        self.training_seconds = 0.0        # T
        self.probe_seconds = 0.0           # S
        self.spectrum_seconds = 0.0        # the part of S the spectra took
        self.calibration: Optional[float] = None   # one forward + VJP of the probe batch
        self.calibration_forward = 0.0             # its forward
        self.calibration_backward = 0.0            # its VJP of one vector
        self.fixed: Optional[float] = None          # forward, loss, ∇L, readout share (per side)
        self.vector: Optional[float] = None         # one Hutchinson vector (per side)
        self.exact_trace: Optional[float] = None    # the exact trace (per side)
        self.exact_spectrum: Optional[float] = None
        self.product: Optional[float] = None        # one Θv of the matrix-free spectrum (all its time / products)
        # The latest matrix-free spectrum, split: ARPACK's single-vector
        # products and the quadrature's block products cost differently.
        self.arpack_product: Optional[float] = None     # seconds per ARPACK product
        self.block_product: Optional[float] = None      # seconds per quadrature product (and the rest of its time)
        self.arpack_products: Optional[float] = None    # ARPACK's products ...
        self.arpack_k: Optional[float] = None           # ... at this top_k

    def training_step(self, seconds: float) -> None:
        self.steps.append(max(0.0, seconds))
        self.training_seconds += max(0.0, seconds)

    def step_median(self) -> Optional[float]:
        if not self.steps:
            return None
        ordered = sorted(self.steps)
        return ordered[len(ordered) // 2]

    def observe(self, stages: Dict[str, float], vectors: int, exact: bool, sides: int,
                spectrum_method: Optional[str], spectrum_seconds: Optional[float],
                products: Optional[int], arpack_products: Optional[int] = None,
                arpack_seconds: Optional[float] = None, top_k: Optional[int] = None) -> None:
        """Updates the costs from one measurement's stage times
        (``measure.RawMeasurement.stage_seconds``). They are of the probe
        batch A; a cross batch B costs as much again (the plan multiplies by
        ``sides``)."""
        if "fixed" in stages:
            self.fixed = stages["fixed"]
        trace = stages.get("trace")
        if trace is not None:
            if exact:
                self.exact_trace = trace
            elif vectors:
                self.vector = trace / vectors
        if spectrum_seconds is not None and spectrum_method == "exact":
            self.exact_spectrum = spectrum_seconds
        elif spectrum_seconds is not None and spectrum_method == "lanczos" and products:
            self.product = spectrum_seconds / products
            if arpack_products and arpack_seconds is not None and top_k and products > arpack_products:
                arpack_seconds = min(max(arpack_seconds, 0.0), spectrum_seconds)
                self.arpack_product = arpack_seconds / arpack_products
                self.block_product = (spectrum_seconds - arpack_seconds) / (products - arpack_products)
                self.arpack_products, self.arpack_k = float(arpack_products), float(top_k)


class Budget:
    """Plans each measurement within ``budget`` of the training wall time.

    ``reduce_max``: a callable taking a float64 tensor and returning its
    elementwise maximum over the ranks (the identity with one process)."""

    def __init__(self, budget: float, min_vectors: int, max_vectors: int, fixed_vectors: Optional[int],
                 trace: str, exact_max_outputs: int, reduce_max: Callable[[torch.Tensor], torch.Tensor]):
        self.budget = float(budget)
        self.min_vectors = max(2, int(min_vectors))
        self.max_vectors = max(self.min_vectors, int(max_vectors))
        self.fixed_vectors = None if fixed_vectors is None else max(2, int(fixed_vectors))
        self.trace = trace
        self.exact_max_outputs = exact_max_outputs
        self.reduce_max = reduce_max
        self.costs = CostModel()
        self.measured = 0   # measurements taken (Probe counts them in)

    # -- the numbers every rank plans from

    def _agreed(self) -> Dict[str, Optional[float]]:
        """The costs as every rank sees them: the largest over the ranks
        (the smallest training time), None where no rank measured it."""
        c = self.costs
        names = ("step", "calibration", "calibration_forward", "calibration_backward", "fixed", "vector", "exact_trace",
                 "exact_spectrum", "product", "arpack_product", "block_product", "arpack_products", "arpack_k",
                 "probe", "measuring", "minus_training")
        values = [c.step_median(), c.calibration, c.calibration_forward, c.calibration_backward, c.fixed, c.vector,
                  c.exact_trace, c.exact_spectrum, c.product, c.arpack_product, c.block_product, c.arpack_products,
                  c.arpack_k, c.probe_seconds, c.probe_seconds - c.spectrum_seconds, -c.training_seconds]
        known = len(names) - 3
        tensor = torch.tensor([-1.0 if v is None else float(v) for v in values[:known]] + values[known:],
                              dtype=torch.float64)
        tensor = self.reduce_max(tensor)
        agreed = {}
        for k, name in enumerate(names):
            value = float(tensor[k])
            agreed[name] = None if (k < known and value < 0) else value
        agreed["training"] = -agreed.pop("minus_training")
        return agreed

    # -- the plan

    def lanczos_cost(self, a: Dict[str, Optional[float]], size: MatrixFreeSettings, m: int,
                     vector: float) -> Tuple[float, int]:
        """(seconds, products) predicted for a matrix-free spectrum of
        ``size`` at m outputs, from its products: the quadrature's are
        counted (``steps`` blocks of the random starts and ĝ, and λ_eff's),
        ARPACK's predicted from the latest spectrum's (scaled by k where k
        grows, by √k where it shrinks: ARPACK took relatively more products
        per eigenpair at small k, 46 at top-8 against 117 at top-32 on a
        test kernel), else ``ARPACK_PRODUCTS_PER_K`` per eigenpair; each
        kind at its own measured time per product (ARPACK's are single
        vectors, the quadrature's blocks), else three Hutchinson vectors'
        worth (``vector``: one vector of the probe batch)."""
        k = size.top_k
        if a.get("arpack_products") is not None and a.get("arpack_k"):
            ratio = k / a["arpack_k"]
            arpack = a["arpack_products"] * (ratio if ratio >= 1 else math.sqrt(ratio))
        else:
            arpack = ARPACK_PRODUCTS_PER_K * k
        arpack = int(math.ceil(max(arpack, min(m, 2 * k + 1))))
        block = size.quadrature_products(m)
        fallback = a["product"] if a.get("product") is not None else PRODUCT_PER_VECTOR * vector
        per_arpack = a["arpack_product"] if a.get("arpack_product") is not None else fallback
        per_block = a["block_product"] if a.get("block_product") is not None else fallback
        return arpack * per_arpack + block * per_block, arpack + block

    def plan(self, gap_after: int, layout: Layout, wants_spectrum: bool,
             spectrum_route: Callable[[bool], Optional[str]], matrix_free: MatrixFreeSettings,
             spectra_on: bool = True) -> Plan:
        """The plan for a measurement followed by ``gap_after`` training
        steps before the next scheduled one. ``spectra_on``: the probe takes
        spectra at all (some measurements save for them); ``wants_spectrum``:
        this one would take one. ``spectrum_route(estimate)``:
        the spectrum method the sizes choose ("exact", "lanczos", None) for
        an exact (False) or estimated (True) χ_net. ``matrix_free``: the
        settings' matrix-free spectrum; where it does not fit, the largest
        of its :meth:`~MatrixFreeSettings.reduced_sizes` that fits is taken,
        and only when none does is the spectrum left for later."""
        a = self._agreed()
        unit = a["calibration"] if a["calibration"] is not None else 0.0
        step = a["step"] if a["step"] is not None else unit  # no training seen yet: one fwd+bwd of the probe batch
        interval = gap_after * step
        credit = self.budget * (a["training"] + interval)
        available = credit - a["probe"]
        share = self.budget * interval
        sides = layout.sides
        forward, backward = a["calibration_forward"] or 0.0, a["calibration_backward"] or 0.0
        fixed = sides * (a["fixed"] if a["fixed"] is not None else 3 * forward + backward)
        vector = sides * (a["vector"] if a["vector"] is not None else max(backward, 1e-3 * unit))
        # The exact trace's backwards: one per output entry of an item per
        # sample, or one of the whole batch per output entry (WholeBatch).
        backwards = layout.m if layout.whole_batch else layout.per_item
        exact = sides * (a["exact_trace"] if a["exact_trace"] is not None else backwards * unit)

        # measure._body_trace's "auto" rule: the whole-batch route, `items`
        # times dearer per output, is allowed `items` times fewer outputs.
        limit = self.exact_max_outputs // max(1, layout.items) if layout.whole_batch else self.exact_max_outputs
        exact_allowed = self.trace == "exact" or (self.trace == "auto" and layout.m <= limit)
        # Not before the first measurement: the scalars come first.
        reserve = SPECTRUM_RESERVE if spectra_on and self.measured else 0.0
        # While spectra are on, the trace's vectors take at most 1 − reserve
        # of this interval's share, so that the rest accumulates for spectra;
        # the scalars come first: a measurement is left out only when even
        # its cheapest route does not fit everything left.
        trace_cap = min(available, (1.0 - reserve) * share) - fixed

        reasons = []
        if self.trace == "exact" or (exact_allowed and exact <= trace_cap):
            route, vectors = "exact", 0
            cost = fixed + exact
        else:
            route = "hutchinson"
            if self.fixed_vectors is not None:
                vectors = self.fixed_vectors
            else:
                fit = int(math.floor(trace_cap / vector)) if vector > 0 else self.max_vectors
                vectors = min(self.max_vectors, max(self.min_vectors, fit))
                if fixed + vectors * vector > available and vector > 0:
                    # Fewer than min_vectors, down to the 2 a standard error needs, rather than none.
                    fewer = int(math.floor((available - fixed) / vector))
                    fewer = max(2, fewer)
                    if fewer < vectors:
                        vectors = fewer
                        reasons.append("only %d Hutchinson vectors (min_vectors = %d) fit the budget now"
                                       % (vectors, self.min_vectors))
            cost = fixed + vectors * vector
            if exact_allowed:
                reasons.insert(0, "Hutchinson with %d vectors in place of the exact trace: it would take ~%s, the "
                                  "budget allows ~%s now" % (vectors, _seconds(exact), _seconds(max(trace_cap, 0.0))))
        if cost > available:
            why = ("no measurement: its cheapest route (%s) would take ~%s, and the budget (%g of the training "
                   "time) has ~%s left until the next scheduled step"
                   % ("the exact trace" if route == "exact" else "Hutchinson with %d vectors" % vectors,
                      _seconds(cost), self.budget, _seconds(max(available, 0.0))))
            return Plan(False, route, vectors, False, cost, why)

        take_spectrum, size, products = False, None, None
        if wants_spectrum:
            method = spectrum_route(route == "hutchinson")
            left = max(available - cost, 0.0)
            if method == "exact":
                spectrum_cost = (a["exact_spectrum"] if a["exact_spectrum"] is not None
                                 else exact / sides + (2.0 * layout.m ** 2 * layout.parameters
                                                       + 10.0 * layout.m ** 3) / ASSUMED_FLOPS)
                if cost + spectrum_cost <= available:
                    take_spectrum = True
                    cost += spectrum_cost
                else:
                    reasons.append("spectrum (exact) left for a later measurement: it would take ~%s, the budget "
                                   "has ~%s left" % (_seconds(spectrum_cost), _seconds(left)))
            elif method == "lanczos":
                # The configured size, else the largest reduced one that fits (the spectrum is of A alone).
                sizes = matrix_free.reduced_sizes()
                predicted = [self.lanczos_cost(a, candidate, layout.m, vector / sides) for candidate in sizes]
                fits = [j for j, (seconds, _) in enumerate(predicted) if cost + seconds <= available]
                if fits:
                    j = fits[0]
                    take_spectrum = True
                    cost += predicted[j][0]
                    products = predicted[j][1]
                    if j > 0:
                        size = sizes[j]
                        reasons.append("spectrum %s to fit the budget (%s would take ~%s, the budget has ~%s left)"
                                       % (_size_change(sizes[0], size), _size_name(sizes[0]),
                                          _seconds(predicted[0][0]), _seconds(left)))
                else:
                    reasons.append("spectrum (lanczos) left for a later measurement: it would take ~%s (~%s at its "
                                   "smallest, %s), the budget has ~%s left"
                                   % (_seconds(predicted[0][0]), _seconds(predicted[-1][0]),
                                      _size_name(sizes[-1]), _seconds(left)))
            else:
                take_spectrum = True  # no route at all: the measurement says why (its "spectrum" event)
        return Plan(True, route, vectors, take_spectrum, cost, "; ".join(reasons) or None, size, products)


def _size_name(size: MatrixFreeSettings) -> str:
    return "top-%d with %d quadrature steps" % (size.top_k, size.steps)


def _size_change(full: MatrixFreeSettings, size: MatrixFreeSettings) -> str:
    """What was reduced: "top-8 of 32", "top-8 of 32, 40 of 48 quadrature steps"."""
    parts = ["top-%d of %d" % (size.top_k, full.top_k)]
    if size.steps != full.steps:
        parts.append("%d of %d quadrature steps" % (size.steps, full.steps))
    return ", ".join(parts)


def _seconds(value: float) -> str:
    if value >= 1:
        return "%.1f s" % value
    return "%.0f ms" % (value * 1e3) if value >= 1e-3 else "%.2f ms" % (value * 1e3)


def next_gap(schedule, step: int) -> int:
    """Training steps from ``step`` to the next step the schedule measures
    (the interval the measurement at ``step`` is a share of)."""
    every = getattr(schedule, "every", None)
    if isinstance(every, int):
        return every
    window = schedule.window
    for c in schedule.centres():
        if c > step:
            return c - step
        if step + 1 < c + window:
            return 1
    raise AssertionError("unreachable: the centres never end")
