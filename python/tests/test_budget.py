"""The budget caps the probe's share of the training wall time (budget.py).

No test here times anything real. The probe reads a fake clock
(``probe._clock``), and a deterministic-cost model advances it as compute
would: its forward costs one unit per row it processes and its backward
one unit per row of the gradient it passes back (an autograd Function that
vmap and the forward-mode products see too), so a per-sample route, a
Hutchinson vector and a matrix-free product each cost what their work is.
The training loop advances the clock by a fixed cost per step. The realised
share is then exact: the clock's advance inside ``probe.step`` (the probe's
work: measurement and recording) against the training's advance.
"""

import json
import subprocess

import pytest
import torch
from torch import nn

from spectop_probe import LogSchedule, Probe
from spectop_probe.budget import CostModel, next_gap
from spectop_probe.spectrum import MatrixFreeSettings

ROWS, D, WIDTH, C = 8, 3, 6, 3


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Tick(torch.autograd.Function):
    """Identity whose backward (and forward-mode tangent) costs ``unit`` per
    row on the clock."""
    generate_vmap_rule = True

    @staticmethod
    def forward(x, clock, unit):
        return x * 1.0

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.clock, ctx.unit = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        ctx.clock.now += ctx.unit * (g.shape[0] if g.dim() > 1 else 1)
        return g, None, None

    @staticmethod
    def jvp(ctx, x_t, clock_t, unit_t):
        ctx.clock.now += ctx.unit * (x_t.shape[0] if x_t.dim() > 1 else 1)
        return x_t * 1.0


class Costed(nn.Module):
    """An MLP whose forward costs ``forward`` per row and whose backward
    ``backward`` per row, on ``clock``."""

    def __init__(self, clock, forward=1.0, backward=1.0, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.hidden = nn.Linear(D, WIDTH)
        self.readout = nn.Linear(WIDTH, C)
        self.clock, self.forward_unit, self.backward_unit = clock, forward, backward
        # One-off costs a real job pays (test_the_first_measurement_...):
        # ``warmup`` more on each of the next ``warmup_calls`` forwards, and
        # ``setup`` more on the first forward without autograd (a route's
        # first use: the measurement's own no-grad forward and readout
        # search, which the calibration's differentiated pass never runs).
        self.warmup_calls, self.warmup, self.setup = 0, 0.0, 0.0

    def forward(self, x):
        self.clock.now += self.forward_unit * x.shape[0]
        if self.warmup_calls > 0:
            self.warmup_calls -= 1
            self.clock.now += self.warmup
        if self.setup and not torch.is_grad_enabled():
            self.clock.now += self.setup
            self.setup = 0.0
        return self.readout(Tick.apply(torch.tanh(self.hidden(x)), self.clock, self.backward_unit))


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(ROWS, D, generator=g, dtype=torch.float64), torch.randint(0, C, (ROWS,), generator=g)


def make_probe(clock, out=None, arm=None, **options):
    x, y = batch()
    model = Costed(clock).double()
    options.setdefault("chunk_bytes", 1)   # one vector, one item, one output per call: cost follows work
    probe = Probe(model, x, y, loss="cross_entropy", out=out, dtype=torch.float64, **options)
    if arm is not None:
        arm(model)
    return on_fake_clock(probe, clock)


def on_fake_clock(probe, clock):
    """Puts ``probe`` on ``clock`` and times its construction-time set-up
    again there (the calibration and the first measurement's rehearsal), on
    a fresh cost model: what it timed on the real clock is forgotten."""
    probe._clock = clock
    if probe._budget is not None:
        probe._budget.costs = CostModel()
        probe._calibrate()
        probe._rehearse()
    return probe


def train(probe, clock, steps, step_cost):
    """Calls probe.step(0..steps-1) with ``step_cost`` of training before
    each but the first; returns [(step, probe seconds in the call,
    measurement or None)]."""
    calls = []
    for step in range(steps):
        if step:
            clock.now += step_cost
        before = clock.now
        result = probe.step(step)
        calls.append((step, clock.now - before, result))
    return calls


def realised_shares(probe, calls, step_cost, last_step):
    """The probe's share of the training time over every window that starts
    at the first scheduled step (the first measurement
    included) and ends just before a later scheduled step (or at the end):
    the windows the budget promises to hold. Returns [(window end, share)]."""
    scheduled = [step for step, _, _ in calls if probe.schedule.due(step)]
    first = scheduled[0]
    ends = scheduled[1:] + [last_step]
    shares = []
    for k, end in enumerate(ends):
        spent = sum(seconds for step, seconds, _ in calls if first <= step <= scheduled[k])
        shares.append((end, spent / (step_cost * (end - first))))
    return shares


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("every,step_cost,budget", [
    (100, 40.0, 0.05),                           # ample: every scheduled step measured, the first included
    (10, 40.0, 0.05),                            # tight: some are left out
    (LogSchedule(points_per_decade=4, window=3), 40.0, 0.05),   # dense early, sparse late
    (20, 40.0, 0.2),
])
def test_the_realised_share_stays_within_the_budget(tmp_path, every, step_cost, budget):
    clock = FakeClock()
    out = tmp_path / "run.jsonl"
    probe = make_probe(clock, out=str(out), every=every, budget=budget)
    steps = 1200
    calls = train(probe, clock, steps, step_cost)
    probe.close()
    shares = realised_shares(probe, calls, step_cost, steps)
    worst, end = max((share, end) for end, share in shares)
    assert worst <= budget * (1 + 1e-9), "share %.4f over the window ending at step %d" % (worst, end)
    measured = [step for step, _, result in calls if result is not None]
    assert len(measured) >= 5, "the budget left out nearly everything: %s" % measured
    record = lines(out)
    steps_recorded = [line["step"] for line in record if line["type"] == "step"]
    skipped = [line for line in record if line["type"] == "event" and line["event"] == "budget"]
    assert steps_recorded == measured
    # Every scheduled step is either measured or left out with a reason, never silently.
    scheduled = [step for step in range(steps) if probe.schedule.due(step)]
    assert sorted(steps_recorded + [e["step"] for e in skipped]) == scheduled
    assert all(e["detail"].startswith("no measurement:") and "budget" in e["detail"] for e in skipped)
    if every == 100:
        assert measured == scheduled   # 5% of 100 steps covers a measurement, the first one too
        assert measured[0] == 0


def test_the_first_measurement_is_planned_from_a_calibration_and_kept_within_the_budget():
    """With no training seen yet, one timed forward and backward of the probe
    batch stands for a training step: at every=100 the first measurement fits
    5% of a hundred of them, and what it really cost (readout
    search, forward, backward, vectors) is within 5% of the training until
    the next scheduled step."""
    clock = FakeClock()
    probe = make_probe(clock, every=100, budget=0.05)
    calls = train(probe, clock, 101, 2 * ROWS)   # a training step costs a forward and backward of 8 rows
    first = calls[0]
    assert first[2] is not None and first[2].step == 0
    assert first[1] <= 0.05 * 100 * 2 * ROWS
    assert probe._budget.costs.calibration == 2 * ROWS   # a forward and a backward of 8 rows


def test_the_first_measurement_keeps_the_share_despite_warm_up_and_one_off_set_up():
    """A job whose first passes are slow: the first three forwards cost 30
    more (a warm-up one untimed pass does not absorb), and the first
    forward without autograd 40 more (a one-off the measurement's own route
    pays and the calibration does not). A training step costs exactly the
    steady forward and backward of the probe batch (16). The calibration
    must take the steady pass, not a warm-up one (over-estimating the
    training step lets the first measurement spend more than its share),
    and the one-off must be paid at construction, not in the first
    interval: the first measurement is still taken at step 0 and every
    window from it stays within 5% (the Hutchinson route, whose vector
    count fills the credit it is given). Before: the calibration timed one
    warm-up pass, 46 for 16, and the first window's share was 14%; with
    the steady calibration but the one-off paid in the first measurement,
    7.5%."""
    def arm(model):
        model.warmup_calls, model.warmup, model.setup = 3, 30.0, 40.0

    clock = FakeClock()
    probe = make_probe(clock, arm=arm, every=100, budget=0.05, spectrum=False, trace="hutchinson")
    assert probe._budget.costs.calibration == 2 * ROWS   # the steady forward and backward of 8 rows
    calls = train(probe, clock, 400, 2 * ROWS)
    measured = [step for step, _, result in calls if result is not None]
    assert measured == [0, 100, 200, 300]
    shares = realised_shares(probe, calls, 2 * ROWS, 400)
    assert max(share for _, share in shares) <= 0.05 * (1 + 1e-9), shares
    # The rehearsal left the vectors the measurements draw as they were: the
    # first measurement equals one on a probe without the rehearsal.
    fresh = make_probe(FakeClock(), every=100, budget=None, spectrum=False, trace=calls[0][2].chi_net_estimate
                       and "hutchinson" or "exact", hutchinson_vectors=calls[0][2].hutchinson_vectors or None)
    again = fresh.measure(0)
    assert again.chi_net == calls[0][2].chi_net


def test_the_exact_trace_falls_back_to_hutchinson_with_the_reason_in_the_record(tmp_path):
    """m = 24 is within exact_max_outputs, so without a budget the trace is
    exact; a budget too small for the per-sample route takes Hutchinson and
    says so on the step line (budget_reason); a large budget takes the exact
    trace again."""
    def run(budget, name):
        clock = FakeClock()
        out = tmp_path / (name + ".jsonl")
        probe = make_probe(clock, out=str(out), every=50, budget=budget, spectrum=False)
        train(probe, clock, 301, 40.0)
        probe.close()
        return [line for line in lines(out) if line["type"] == "step"]

    unbudgeted = run(None, "none")
    assert unbudgeted and all("chi_net_estimate" not in line and "budget_reason" not in line for line in unbudgeted)
    tight = run(0.02, "tight")
    assert tight and all(line.get("chi_net_estimate") is True for line in tight)
    assert all("in place of the exact trace" in line["budget_reason"] for line in tight)
    ample = run(5.0, "ample")
    assert ample and all("chi_net_estimate" not in line for line in ample[1:])
    # The exact and the estimated χ_net are of the same kernel at the same θ (no training changes θ here).
    exact = unbudgeted[0]["chi_net"]
    for line in tight:
        assert abs(line["chi_net"] - exact) <= 6 * line["chi_net_stderr"]


def test_spectra_under_a_budget_keep_the_share(tmp_path):
    """Exact spectra (m = 24, the exact trace) with a budget: spectra come,
    never on a step the budget left out, and the share holds with them."""
    clock = FakeClock()
    out = tmp_path / "run.jsonl"
    probe = make_probe(clock, out=str(out), every=50, budget=0.1, trace="exact")
    calls = train(probe, clock, 2000, 40.0)
    probe.close()
    record = lines(out)
    steps = [line["step"] for line in record if line["type"] == "step"]
    spectra = [line["step"] for line in record if line["type"] == "spectrum"]
    assert spectra and set(spectra) <= set(steps)
    assert max(share for _, share in realised_shares(probe, calls, 40.0, 2000)) <= 0.1 * (1 + 1e-9)


def test_a_fixed_vector_count_is_kept_and_the_budget_still_caps_the_time(tmp_path):
    clock = FakeClock()
    probe = make_probe(clock, every=10, budget=0.05, trace="hutchinson", hutchinson_vectors=6, spectrum=False)
    calls = train(probe, clock, 800, 40.0)
    measured = [result for _, _, result in calls if result is not None]
    assert measured and all(result.hutchinson_vectors == 6 for result in measured)
    assert max(share for _, share in realised_shares(probe, calls, 40.0, 800)) <= 0.05 * (1 + 1e-9)


def test_explicit_measure_is_never_left_out_but_is_counted():
    """probe.measure(step) is the user's explicit call: always measured, with
    the settings' routes; its time counts against the scheduled ones."""
    clock = FakeClock()
    probe = make_probe(clock, every=10, budget=0.05, spectrum=False)
    spent_before = probe._budget.costs.probe_seconds
    result = probe.measure(0)
    assert result is not None and not result.chi_net_estimate   # m = 24: exact, as without a budget
    assert probe._budget.costs.probe_seconds > spent_before


@pytest.mark.parametrize("schedule", [LogSchedule(), LogSchedule(points_per_decade=3, window=2), 7])
def test_next_gap_is_the_distance_to_the_next_scheduled_step(schedule):
    from spectop_probe.schedule import resolve_schedule
    schedule = resolve_schedule(schedule)
    steps = schedule.steps(5000)
    for a, b in zip(steps, steps[1:]):
        assert next_gap(schedule, a) == b - a, a


def test_the_default_budget_is_five_percent():
    """The session makes None the default for the other tests (conftest);
    the package's own default is 5%."""
    import conftest
    from spectop_probe.budget import DEFAULT_BUDGET
    assert conftest.ORIGINAL_BUDGET == DEFAULT_BUDGET == 0.05


@pytest.mark.parametrize("budget", [0, -0.1, float("nan"), float("inf"), "5%", True])
def test_a_bad_budget_is_refused_at_construction(budget):
    from spectop_probe import ProbeError
    with pytest.raises(ProbeError, match="budget must be"):
        make_probe(FakeClock(), budget=budget)


def test_spectop_check_accepts_budget_events_and_reasons(tmp_path, spectop_bin):
    clock = FakeClock()
    out = tmp_path / "run.jsonl"
    probe = make_probe(clock, out=str(out), every=10, budget=0.05)
    train(probe, clock, 400, 40.0)
    probe.close()
    record = lines(out)
    assert any(line.get("event") == "budget" for line in record)
    assert any("budget_reason" in line for line in record if line["type"] == "step")
    run = subprocess.run([spectop_bin, "check", str(out)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_costly_spectrum_is_left_for_later_and_taken_once_the_savings_cover_it():
    """The plan alone, on a simulated job (budget.Budget, no model): a
    forward of the probe batch costs 0.25, a backward 0.75, a training step
    their sum (as the calibration assumes), a measurement three forwards
    and a backward (1.5) and 0.75 per vector, a spectrum 60.
    At 5% of every=200 a measurement has 10 of credit: the spectrum waits,
    with its reason on each step line, until half of the credit saved since
    covers it, and the share over every window from the first measurement
    (step 0, planned from the calibration) stays within 5%."""
    from spectop_probe.budget import Budget, Layout

    budget = Budget(0.05, min_vectors=4, max_vectors=64, fixed_vectors=None, trace="auto",
                    exact_max_outputs=4096, reduce_max=lambda t: t)
    costs = budget.costs
    costs.calibration, costs.calibration_forward, costs.calibration_backward = 1.0, 0.25, 0.75
    layout = Layout(m=100_000, per_item=1000, parameters=10_000)   # m above exact_max_outputs: Hutchinson
    # A size the budget cannot reduce (top-2, one quadrature step: at its floors): it waits instead.
    tiny = MatrixFreeSettings(top_k=2, steps=1)
    assert tiny.reduced_sizes() == [tiny]
    plan_products = budget.lanczos_cost(budget._agreed(), tiny, layout.m, 0.75)[1]
    spent, taken, reasons, spectra, windows = 0.0, [], [], [], []
    for step in range(0, 20000, 200):
        plan = budget.plan(200, layout, True, lambda estimate: "lanczos", tiny)
        if plan.measure:
            cost = 1.5 + plan.vectors * 0.75 + (60.0 if plan.spectrum else 0.0)
            spent += cost
            costs.probe_seconds += cost
            costs.spectrum_seconds += 60.0 if plan.spectrum else 0.0
            costs.fixed, costs.vector = 1.5, 0.75
            costs.product = 60.0 / plan_products   # as measured: 60 over its products
            budget.measured += 1
            taken.append(step)
            reasons.append(plan.reason)
            if plan.spectrum:
                spectra.append(step)
        for _ in range(200):
            costs.training_step(1.0)
        windows.append(spent / (step + 200))
    assert max(windows) <= 0.05 + 1e-12
    assert spectra and taken[0] == 0 and spectra[0] > 0
    deferred = [r for step, r in zip(taken, reasons) if step not in spectra]
    assert deferred and all("spectrum (lanczos) left for a later measurement" in r for r in deferred)
    # Half the credit goes to spectra once measuring: about one 60-unit spectrum per 60 / (0.5·0.05) steps.
    assert len(spectra) >= 0.6 * 20000 * 0.5 * 0.05 / 60
    assert len(taken) == 100   # and no measurement was left out for them


def test_the_budget_takes_a_smaller_matrix_free_spectrum_before_deferring_it():
    """The plan alone: a matrix-free spectrum whose measured products cost
    0.5 (ARPACK's, one vector each) and 0.25 (the quadrature's blocks), at
    m = 16,896 (4 random starts and ĝ: 48 x 5 + 1 = 241 quadrature
    products) after a measured top-32 that took 150 ARPACK products. Its
    predicted cost, from its products: top-32 150 x 0.5 + 241 x 0.25 =
    135.25; top-16 ⌈150/√2⌉ = 107 ARPACK products, 113.75; top-8 75, 97.75;
    top-8 with 40 steps (201 products) 87.75. With ample credit the full
    spectrum is taken; with less, the largest reduced size that fits, the
    reason saying what was reduced; with too little even for the smallest,
    it is left for later."""
    from spectop_probe.budget import Budget, Layout

    budget = Budget(0.05, min_vectors=4, max_vectors=4, fixed_vectors=None, trace="hutchinson",
                    exact_max_outputs=4096, reduce_max=lambda t: t)
    costs = budget.costs
    costs.calibration, costs.calibration_forward, costs.calibration_backward = 1.0, 0.25, 0.75
    costs.fixed, costs.vector = 1.0, 0.25
    costs.observe({}, 0, exact=False, sides=1, spectrum_method="lanczos",
                  spectrum_seconds=150 * 0.5 + 244 * 0.25, products=150 + 244, arpack_products=150,
                  arpack_seconds=150 * 0.5, top_k=32)
    assert (costs.arpack_product, costs.block_product) == (0.5, 0.25)
    for _ in range(100):
        costs.training_step(1.0)
    budget.measured = 1
    layout = Layout(m=16_896, per_item=66, parameters=110_658)
    full = MatrixFreeSettings()
    agreed = budget._agreed()
    predicted = {(size.top_k, size.steps): budget.lanczos_cost(agreed, size, layout.m, 0.25)
                 for size in full.reduced_sizes()}
    assert predicted == {(32, 48): (135.25, 391), (16, 48): (113.75, 348), (8, 48): (97.75, 316),
                         (8, 40): (87.75, 276)}

    def plan(gap):
        # The measurement itself: 1 + 4 x 0.25 = 2; its credit: 5% of 100 seen and `gap` to come, the
        # reserve (half the interval's share) only for the trace.
        return budget.plan(gap, layout, True, lambda estimate: "lanczos", full)

    ample = plan(2800)          # 0.05 x 2900 - 2 = 143 left: the full one
    assert ample.spectrum and ample.matrix_free is None and ample.reason is None
    assert ample.predicted_seconds == 2 + 135.25
    reduced = plan(2000)        # 103 left: top-8 with 48 steps
    assert reduced.spectrum and (reduced.matrix_free.top_k, reduced.matrix_free.steps) == (8, 48)
    assert reduced.reason.startswith("spectrum top-8 of 32 to fit the budget")
    assert reduced.spectrum_products == 316 and reduced.predicted_seconds == 2 + 97.75
    floor = plan(1700)          # 88 left: top-8 with 40 steps
    assert (floor.matrix_free.top_k, floor.matrix_free.steps) == (8, 40)
    assert floor.reason.startswith("spectrum top-8 of 32, 40 of 48 quadrature steps to fit the budget")
    later = plan(1500)          # 78 left: none fits
    assert later.measure and not later.spectrum and later.matrix_free is None
    assert later.reason.startswith("spectrum (lanczos) left for a later measurement")


def test_a_reduced_spectrum_is_recorded_with_its_smaller_k_and_the_reason(tmp_path, spectop_bin, monkeypatch):
    """Through the probe on the fake clock (m = 24, spectrum_method="lanczos",
    top_k = 16, two Hutchinson vectors a measurement, every=10, a budget of
    8x the training so that spectra come within the run), where no product
    could be timed at construction: the budget predicts the first spectrum
    from three vectors a product (dear), so the full top-16 does not fit
    early; the first spectrum it can afford is a top-8 one, recorded with
    8 eigenvalues and its step line's budget_reason; once one was measured
    the full one fits and is taken, 16 eigenvalues and no reason. The share
    holds throughout and spectop check accepts the record."""
    import spectop_probe.probe as probe_module
    monkeypatch.setattr(probe_module, "time_product", lambda *args, **kwargs: None)
    clock = FakeClock()
    out = tmp_path / "run.jsonl"
    probe = make_probe(clock, out=str(out), every=10, budget=8.0, trace="hutchinson", hutchinson_vectors=2,
                       spectrum_method="lanczos", top_k=16)
    calls = train(probe, clock, 101, 40.0)
    probe.close()
    record = lines(out)
    spectra = {line["step"]: line for line in record if line["type"] == "spectrum"}
    steps = {line["step"]: line for line in record if line["type"] == "step"}
    sizes = [len(spectra[step]["eigenvalues"]) for step in sorted(spectra)]
    assert sizes[0] == 8 and 16 in sizes, sizes
    first = min(spectra)
    assert spectra[first]["method"] == "lanczos" and spectra[first]["density"]["counts_uncertainty"]
    assert steps[first]["budget_reason"].startswith("spectrum top-8 of 16 to fit the budget")
    full = [step for step in spectra if len(spectra[step]["eigenvalues"]) == 16]
    assert all("budget_reason" not in steps[step] for step in full)
    # Before the first spectrum, the measurements said why none was taken.
    assert all(steps[step]["budget_reason"].startswith("spectrum (lanczos) left for a later measurement")
               for step in steps if step < first)
    assert max(share for _, share in realised_shares(probe, calls, 40.0, 101)) <= 8.0
    run = subprocess.run([spectop_bin, "check", str(out)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_first_spectrum_is_planned_from_a_product_timed_at_construction():
    """Where a spectrum may be matrix-free, one product Θv is rehearsed at
    construction (on the fake clock: the model's own forward and backward
    costs): the cost model holds its time before any spectrum, close to
    the time per product the first spectrum then measures, and well below
    the three Hutchinson vectors a product assumed without it."""
    clock = FakeClock()
    probe = make_probe(clock, every=10, budget=8.0, trace="hutchinson", hutchinson_vectors=2,
                       spectrum_method="lanczos", top_k=16)
    costs = probe._budget.costs
    rehearsed = costs.product
    assert rehearsed is not None and rehearsed > 0
    first = None
    for step, _, result in train(probe, clock, 101, 40.0):
        if result is not None and result.spectrum is not None:
            first = result
            break
    # Predicted at its cost, the full top-16 fits as soon as a spectrum does
    # (predicted at three vectors a product, the first one was a top-8).
    assert first is not None and len(first.spectrum.eigenvalues) == 16, first
    measured = costs.product   # the first spectrum's own seconds over its products
    assert measured is not None and 0.5 <= rehearsed / measured <= 2.0, (rehearsed, measured)
    assert rehearsed < 3.0 * costs.vector, (rehearsed, costs.vector)
