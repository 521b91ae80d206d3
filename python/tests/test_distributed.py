"""Two gloo processes on CPU, each holding half of the probe batch, give the
same numbers as one process on the whole batch (float64, 1e-10), also for a
masked LM whose ranks count different rows (-100 on padding): χ_loss and
Tr Θ are per-rank sums, gᵀΘg the norm of the all-reduced gradient. Under DDP
the probe triggers no gradient all-reduce of its own (a comm hook counts),
only rank 0 writes, and the spectrum (over both ranks' rows) matches, exact
and matrix-free (whose products are collective). FSDP2 (fully_shard) gives
the same numbers as DDP.
Ranks that pass different step numbers get a ProbeError naming each rank's
step, not a hang or an abort."""

import contextlib
import datetime
import gc
import json
import os
import sys
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import REPO, relative_error

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = ("loss", "chi_loss", "chi_net", "grad_sq", "chi_pos")


def setup_paths(budget=None):
    """A spawned rank's set-up. ``budget``: Probe's default budget there (the
    conftest fixture that makes it None does not reach spawned processes)."""
    for path in (os.path.join(REPO, "python"), os.path.join(REPO, "examples", "pytorch"), HERE):
        if path not in sys.path:
            sys.path.insert(0, path)
    torch.set_num_threads(1)
    from spectop_probe.probe import Probe
    Probe.__init__.__kwdefaults__["budget"] = budget



def count_allreduces(ddp):
    """Counts DDP's gradient all-reduces (a comm hook doing what the default
    does): the probe must trigger none. Returns the counter, {"n": count}."""
    calls = {"n": 0}

    def counting_hook(state, bucket):
        calls["n"] += 1
        future = torch.futures.Future()
        dist.all_reduce(bucket.buffer())
        future.set_result(bucket.buffer())
        return future

    ddp.register_comm_hook(None, counting_hook)
    return calls

def make_model(frozen):
    from test_against_jacobian import tiny_lm
    return tiny_lm(frozen=frozen)


def make_batch():
    generator = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, 5, (4, 5), generator=generator)
    return tokens[:, :-1], tokens[:, 1:]


def quiesce():
    """Both ranks done before either tears its gloo group down: a rank that
    destroys the group while the other still talks to it can abort that one
    (seen once in CI: SIGABRT, "terminate called without an active
    exception"). On the success path only, so a rank that failed does not
    wait here for one that never comes."""
    dist.barrier()


@contextlib.contextmanager
def process_group(rank, world, init_file, timeout=None):
    """A spawned rank's gloo group: joined, and torn down on every exit, but
    only after ``quiesce`` on success. ``timeout`` (seconds): ranks stuck in
    mismatched collectives then fail the test instead of hanging it."""
    options = {"timeout": datetime.timedelta(seconds=timeout)} if timeout is not None else {}
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world, **options)
    try:
        yield
        quiesce()
    finally:
        dist.destroy_process_group()


def _run_to_the_end(rank, worker, world, init_file, folder, *args):
    """A spawned rank: ``worker``, then its objects freed (the DDP module,
    the probe) while the interpreter still stands, then a mark that this
    rank's work, its group's teardown included, is done."""
    worker(rank, world, init_file, folder, *args)
    gc.collect()
    with open(os.path.join(folder, "finished%d" % rank), "w"):
        pass


def spawn_two(worker, tmp_path, *args):
    """Runs ``worker(rank, 2, init_file, folder, *args)`` on two processes
    and waits for both (an exception in either fails the test). A rank
    killed by a signal fails it too, unless both ranks had finished
    everything, their gloo groups torn down, and only the interpreter's
    own exit was left; that is said as a warning. CI saw a rank abort twice
    in many runs ("terminate called without an active exception"), its
    moment unknown: at the interpreter's exit this lets the results speak;
    within the worker or its group's teardown the test still fails."""
    try:
        mp.spawn(_run_to_the_end, args=(worker, 2, str(tmp_path / "init"), str(tmp_path)) + args, nprocs=2,
                 join=True)
    except mp.ProcessExitedException as error:
        if not all((tmp_path / ("finished%d" % rank)).exists() for rank in range(2)):
            raise
        warnings.warn("a rank ended with %s after both ranks had finished their work and torn their group "
                      "down (at the interpreter's exit)" % error.signal_name)


def shard_of(rows, rank, world):
    """This rank's equal share of ``rows`` (dimension 0)."""
    half = rows // world
    return slice(rank * half, (rank + 1) * half)


def exact_summary(result):
    """What the one-process comparison checks of an exact measurement."""
    summary = {k: getattr(result, k) for k in KEYS}
    summary["eigenvalues"] = result.spectrum.eigenvalues if result.spectrum else None
    summary["chi_pos_exact"] = result.spectrum.chi_pos_exact if result.spectrum else None
    return summary


def ddp_worker(rank, world, init_file, folder, frozen):
    setup_paths()
    from spectop_probe import Probe
    with process_group(rank, world, init_file):
        model = make_model(frozen)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        calls = count_allreduces(ddp)
        x, y = make_batch()
        shard = shard_of(x.shape[0], rank, world)
        out = os.path.join(folder, "rank%d.jsonl" % rank)
        probe = Probe(ddp, x[shard], y[shard], loss="cross_entropy", every=1, out=out, name="m",
                      dtype=torch.float64, trace="exact")
        exact = probe.measure(0)
        hutchinson = Probe(ddp, x[shard], y[shard], loss="cross_entropy", out=None, dtype=torch.float64,
                           trace="hutchinson", hutchinson_vectors=8).measure(0)
        probe.close()
        probe_calls = calls["n"]
        # The hook does count a real DDP backward: the check above can fail.
        torch.nn.functional.cross_entropy(ddp(x[shard]).reshape(-1, 5), y[shard].reshape(-1)).backward()
        result = exact_summary(exact)
        result.update(probe_calls=probe_calls, training_calls=calls["n"] - probe_calls,
                      hutchinson=hutchinson.chi_net, hutchinson_stderr=hutchinson.chi_net_stderr)
        with open(os.path.join(folder, "result%d.json" % rank), "w") as f:
            json.dump(result, f)


def fsdp_worker(rank, world, init_file, folder, frozen):
    setup_paths()
    from spectop_probe import Probe
    with process_group(rank, world, init_file):
        from torch.distributed.fsdp import fully_shard
        model = make_model(frozen)
        try:
            for block in model.blocks:
                fully_shard(block)
            fully_shard(model)
        except Exception as error:  # a torch without FSDP2 on CPU
            with open(os.path.join(folder, "fsdp%d.json" % rank), "w") as f:
                json.dump({"unavailable": str(error)}, f)
            return
        x, y = make_batch()
        shard = shard_of(x.shape[0], rank, world)
        exact = Probe(model, x[shard], y[shard], loss="cross_entropy", out=None, dtype=torch.float64,
                      trace="exact").measure(0)
        result = exact_summary(exact)
        # FSDP's own hooks are back: a training step still shards its gradients.
        torch.nn.functional.cross_entropy(model(x[shard]).reshape(-1, 5), y[shard].reshape(-1)).backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        result["sharded_grads"] = all(type(g).__name__ == "DTensor" for g in grads) and len(grads) > 0
        with open(os.path.join(folder, "fsdp%d.json" % rank), "w") as f:
            json.dump(result, f)


def step_mismatch_worker(rank, world, init_file, folder):
    setup_paths()
    from spectop_probe import Probe, ProbeError
    with process_group(rank, world, init_file, timeout=60):
        ddp = torch.nn.parallel.DistributedDataParallel(make_model(False))
        x, y = make_batch()
        shard = shard_of(x.shape[0], rank, world)
        probe = Probe(ddp, x[shard], y[shard], loss="cross_entropy", every=2, out=None, trace="hutchinson",
                      hutchinson_vectors=4, spectrum=False)
        result = {"agreed": probe.step(2) is not None}
        try:
            probe.step(4 + rank)  # rank 0 would measure (a collective), rank 1 would not
            result["error"] = None
        except ProbeError as error:
            result["error"] = str(error)
        result["next"] = probe.step(6) is not None  # agreeing again, the ranks measure together
        with open(os.path.join(folder, "steps%d.json" % rank), "w") as f:
            json.dump(result, f)


def budget_worker(rank, world, init_file, folder):
    """Each rank on its own fake clock (test_budget's deterministic-cost
    model): rank 1's training steps and compute cost three times rank 0's,
    so each rank alone would choose its own Hutchinson vector count and
    its own measurements to leave out."""
    setup_paths(budget=0.05)
    from spectop_probe import Probe
    from test_budget import Costed, FakeClock, batch, on_fake_clock
    with process_group(rank, world, init_file, timeout=60):
        clock = FakeClock()
        scale = 1.0 + 2.0 * rank
        model = Costed(clock, forward=scale, backward=scale).double()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        x, y = batch()
        shard = shard_of(x.shape[0], rank, world)
        probe = Probe(ddp, x[shard], y[shard], loss="cross_entropy", every=10, out=None, dtype=torch.float64,
                      trace="hutchinson", spectrum=False, chunk_bytes=1, max_vectors=32)
        on_fake_clock(probe, clock)
        taken = []
        for step in range(600):
            if step:
                clock.now += 10.0 * scale + 7.0 * (step % 3)   # uneven steps, unlike the other rank's
            result = probe.step(step)
            if result is not None:
                taken.append([step, result.hutchinson_vectors, result.chi_net])
        with open(os.path.join(folder, "budget%d.json" % rank), "w") as f:
            json.dump(taken, f)


def test_ddp_ranks_agree_on_the_budgets_choices(tmp_path):
    """The budget plans from every rank's timings reduced to their maximum:
    both ranks measure the same steps with the same vector count (otherwise
    the Hutchinson all-reduce of different lengths fails or waits forever),
    and the values agree. The vector counts vary over the run (the budget
    chose them), and stay at least 2."""
    spawn_two(budget_worker, tmp_path)
    ranks = [json.load(open(tmp_path / ("budget%d.json" % rank))) for rank in range(2)]
    assert ranks[0] and len(ranks[0]) > 5
    assert [(s, k) for s, k, _ in ranks[0]] == [(s, k) for s, k, _ in ranks[1]]
    assert all(a[2] == b[2] for a, b in zip(*ranks))
    assert all(k >= 2 for _, k, _ in ranks[0])
    assert len(ranks[0]) < 60   # some steps were left out: the budget was binding


def test_ranks_passing_different_steps_are_told(tmp_path):
    spawn_two(step_mismatch_worker, tmp_path)
    for rank in range(2):
        result = json.load(open(tmp_path / ("steps%d.json" % rank)))
        assert result["agreed"] and result["next"]
        assert result["error"] == ("probe.step was called with different steps on the ranks (rank 0: 4, rank 1: 5): "
                                   "every rank must call probe.step with the same step")


def lanczos_batch():
    """16 sequences of 4 tokens: m = 64 rows x 5 outputs = 320."""
    generator = torch.Generator().manual_seed(5)
    tokens = torch.randint(0, 5, (16, 5), generator=generator)
    return tokens[:, :-1], tokens[:, 1:]


def lanczos_probe(model, x, y, out=None):
    """A matrix-free spectrum far from complete (8 block steps of 7 vectors
    for 312 modes outside an 8-mode head), so that the density is estimated."""
    from spectop_probe import Probe
    probe = Probe(model, x, y, loss="cross_entropy", every=1, out=out, name="m", dtype=torch.float64,
                  trace="exact", spectrum_method="lanczos", top_k=8)
    probe.settings.matrix_free.steps = 8
    return probe


def lanczos_worker(rank, world, init_file, folder):
    setup_paths()
    with process_group(rank, world, init_file):
        ddp = torch.nn.parallel.DistributedDataParallel(make_model(False))
        calls = count_allreduces(ddp)
        x, y = lanczos_batch()
        shard = shard_of(x.shape[0], rank, world)
        probe = lanczos_probe(ddp, x[shard], y[shard], out=os.path.join(folder, "lanczos%d.jsonl" % rank))
        with probe:
            result = probe.measure(0)
        s = result.spectrum
        summary = {"probe_calls": calls["n"], "spectrum": None}
        if s is not None:
            summary["spectrum"] = {"eigenvalues": s.eigenvalues, "weights": s.weights, "lambda_eff": s.lambda_eff,
                                   "r_eff": s.r_eff, "r_eff_uncertainty": s.r_eff_uncertainty,
                                   "counts": s.density.counts, "method": s.method, "products": s.products}
        with open(os.path.join(folder, "lanczos%d.json" % rank), "w") as f:
            json.dump(summary, f)


def test_ddp_matrix_free_spectrum_is_of_the_whole_probe_batch(tmp_path):
    """Two ranks with half the rows each get the matrix-free spectrum of all
    rows: the same head, weights, λ_eff, r_eff and density as one process on
    the whole batch (the products differ by round-off only: Jᵀv all-reduced,
    the same seeded starts on rank 0), computed and written by rank 0, and
    no gradient all-reduce of DDP's. Without the all-reduce each rank would
    take the spectrum of its own rows."""
    spawn_two(lanczos_worker, tmp_path)
    results = [json.load(open(tmp_path / ("lanczos%d.json" % r))) for r in range(2)]
    x, y = lanczos_batch()
    reference = lanczos_probe(make_model(False), x, y).measure(0).spectrum
    assert reference.method == "lanczos" and reference.r_eff_uncertainty > 0  # estimated, not complete
    assert results[1]["spectrum"] is None and all(r["probe_calls"] == 0 for r in results)
    got = results[0]["spectrum"]
    assert got["method"] == "lanczos" and got["products"] == reference.products
    expected = torch.tensor(reference.eigenvalues)
    assert float((torch.tensor(got["eigenvalues"]) - expected).abs().max()) <= 1e-10 * float(expected[0])
    assert got["weights"] == pytest.approx(reference.weights, abs=1e-10)
    assert relative_error(got["lambda_eff"], reference.lambda_eff) <= 1e-10
    assert got["r_eff"] == pytest.approx(reference.r_eff, abs=1e-9)
    assert got["counts"] == reference.density.counts
    assert not (tmp_path / "lanczos1.jsonl").exists()
    lines = [json.loads(l) for l in open(tmp_path / "lanczos0.jsonl").read().splitlines()]
    assert [l["type"] for l in lines] == ["run", "step", "spectrum", "usage", "end"] and lines[2]["mode_count"] == 320


def single_process(frozen):
    from spectop_probe import Probe
    x, y = make_batch()
    return Probe(make_model(frozen), x, y, loss="cross_entropy", out=None, dtype=torch.float64,
                 trace="exact").measure(0)


@pytest.mark.parametrize("frozen", [False, True], ids=["active", "frozen"])
def test_ddp_matches_one_process(frozen, tmp_path):
    spawn_two(ddp_worker, tmp_path, frozen)
    reference = single_process(frozen)
    results = [json.load(open(tmp_path / ("result%d.json" % r))) for r in range(2)]
    assert_matches_one_process(results, reference)
    for rank, result in enumerate(results):
        assert result["probe_calls"] == 0, "the probe triggered DDP's gradient all-reduce"
        assert result["training_calls"] > 0
    # Both ranks report the same (all-reduced) estimate, near the exact trace.
    assert results[0]["hutchinson"] == results[1]["hutchinson"]
    if frozen:
        assert results[0]["hutchinson"] == pytest.approx(reference.chi_net, rel=1e-10)
    else:
        assert abs(results[0]["hutchinson"] - reference.chi_net) <= 5 * results[0]["hutchinson_stderr"]
    # The spectrum spans both ranks' rows; rank 0 computes it.
    check_spectrum(results, reference)
    # Only rank 0 writes.
    assert not (tmp_path / "rank1.jsonl").exists()
    lines = [json.loads(l) for l in open(tmp_path / "rank0.jsonl").read().splitlines()]
    assert lines[0]["data"]["probe"] == 16  # both ranks' rows
    assert [l["type"] for l in lines] == ["run", "step", "spectrum", "usage", "end"]
    assert lines[2]["eigenvalues"] == pytest.approx(results[0]["eigenvalues"], rel=1e-15)


def assert_matches_one_process(results, reference):
    """Every rank's scalars equal one process's on the whole batch, to 1e-10."""
    for rank, result in enumerate(results):
        for key in KEYS:
            error = relative_error(result[key], getattr(reference, key))
            assert error <= 1e-10, "rank %d %s: %r vs one process %r (%.2e)" % (
                rank, key, result[key], getattr(reference, key), error)


def check_spectrum(results, reference):
    assert results[1]["eigenvalues"] is None
    got = torch.tensor(results[0]["eigenvalues"], dtype=torch.float64)
    expected = torch.tensor(reference.spectrum.eigenvalues, dtype=torch.float64)
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= 1e-10 * float(expected[0])
    assert relative_error(results[0]["chi_pos_exact"], reference.spectrum.chi_pos_exact) <= 1e-10


@pytest.mark.parametrize("frozen", [False, True], ids=["active", "frozen"])
def test_fsdp2_matches_one_process(frozen, tmp_path):
    spawn_two(fsdp_worker, tmp_path, frozen)
    results = [json.load(open(tmp_path / ("fsdp%d.json" % r))) for r in range(2)]
    if "unavailable" in results[0]:
        pytest.skip("FSDP2 does not run on CPU with this torch: " + results[0]["unavailable"])
    reference = single_process(frozen)
    assert_matches_one_process(results, reference)
    for rank, result in enumerate(results):
        assert result["sharded_grads"]
    check_spectrum(results, reference)


CROSS_KEYS = ("loss", "grad_dot", "chi_loss", "chi_net", "chi_pos", "rows", "chi_loss_normalized",
              "chi_net_normalized")


def make_cross_batch():
    generator = torch.Generator().manual_seed(11)
    tokens = torch.randint(0, 5, (6, 5), generator=generator)
    return tokens[:, :-1], tokens[:, 1:]


def ddp_cross_worker(rank, world, init_file, folder):
    setup_paths()
    from spectop_probe import Probe, ProbeError
    with process_group(rank, world, init_file, timeout=60):
        ddp = torch.nn.parallel.DistributedDataParallel(make_model(False))
        x, y = make_batch()
        xb, yb = make_cross_batch()
        half, half_b = x.shape[0] // world, xb.shape[0] // world
        shard, shard_b = slice(rank * half, (rank + 1) * half), slice(rank * half_b, (rank + 1) * half_b)
        held = Probe(ddp, x[shard], y[shard], loss="cross_entropy", out=None, dtype=torch.float64, trace="exact",
                     spectrum=False, cross_inputs=xb[shard_b], cross_targets=yb[shard_b]).measure(0)
        probe = Probe(ddp, x[shard], y[shard], loss="cross_entropy", every=1, out=None, dtype=torch.float64,
                      trace="exact", spectrum=False, cross="train")
        train = probe.step(0, cross_batch=(xb[shard_b], yb[shard_b]))
        try:  # a batch B on rank 0 only: both ranks are told, neither hangs
            probe.step(1, cross_batch=(xb[shard_b], yb[shard_b]) if rank == 0 else None)
            error = None
        except ProbeError as caught:
            error = str(caught)
        again = probe.step(2, cross_batch=(xb[shard_b], yb[shard_b]))
        result = {"held": {k: getattr(held.cross, k) for k in CROSS_KEYS},
                  "train": {k: getattr(train.cross, k) for k in CROSS_KEYS},
                  "error": error, "again": again is not None and again.cross is not None}
        with open(os.path.join(folder, "cross%d.json" % rank), "w") as f:
            json.dump(result, f)


def test_ddp_cross_batch_matches_one_process(tmp_path):
    """Each rank holds half of A and half of B: δL is the dot product of the
    two all-reduced gradients, the traces and |∇_fL|² per-rank sums, the rows
    counted over both ranks."""
    spawn_two(ddp_cross_worker, tmp_path)
    from spectop_probe import Probe
    x, y = make_batch()
    xb, yb = make_cross_batch()
    reference = Probe(make_model(False), x, y, loss="cross_entropy", out=None, dtype=torch.float64, trace="exact",
                      spectrum=False, cross_inputs=xb, cross_targets=yb).measure(0).cross
    assert reference.rows == 24
    for rank in range(2):
        result = json.load(open(tmp_path / ("cross%d.json" % rank)))
        for source in ("held", "train"):
            for key in CROSS_KEYS:
                error = relative_error(result[source][key], getattr(reference, key))
                assert error <= 1e-10, "rank %d %s %s: %r vs one process %r" % (
                    rank, source, key, result[source][key], getattr(reference, key))
        assert result["error"] == ("probe.step(1) got a cross_batch on ranks [0] but not on ranks [1]: pass one "
                                   "on every rank or on none")
        assert result["again"]


def masked_lm_batch():
    """Four sequences with an attention mask and -100 on padding; rank 0's
    half has no padding (all rows counted, so alone it could go per sample),
    rank 1's has: the ranks must still agree on the whole-batch route."""
    from masked_lm import padded_batch
    inputs = padded_batch(seed=6, items=4, block=6, vocab=7, lengths=(6, 6, 4, 2))
    return inputs, inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)


def masked_lm_worker(rank, world, init_file, folder):
    setup_paths()
    from masked_lm import masked_lm
    from spectop_probe import Probe
    with process_group(rank, world, init_file, timeout=120):
        ddp = torch.nn.parallel.DistributedDataParallel(masked_lm(seed=2))
        inputs, labels = masked_lm_batch()
        shard = slice(2 * rank, 2 * rank + 2)
        mine = {k: (v[shard] if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
        probe = Probe(ddp, mine, labels[shard], loss="cross_entropy", out=None, dtype=torch.float64,
                      trace="exact", spectrum_method="exact")
        result = probe.measure(0)
        summary = {k: getattr(result, k) for k in KEYS}
        summary["rows"] = result.rows
        summary["eigenvalues"] = result.spectrum.eigenvalues if result.spectrum is not None else None
        with open(os.path.join(folder, "masked%d.json" % rank), "w") as f:
            json.dump(summary, f)


def test_ddp_masked_lm_with_ignored_rows_matches_one_process(tmp_path):
    """Rows counted per rank (-100 on rank 1's padding only), whole-batch
    exact trace and the exact spectrum from each rank's Jacobian rows
    gathered on rank 0: the same numbers as one process on all four
    sequences, to 1e-10."""
    from masked_lm import masked_lm
    from spectop_probe import Probe
    spawn_two(masked_lm_worker, tmp_path)
    results = [json.load(open(tmp_path / ("masked%d.json" % r))) for r in range(2)]
    inputs, labels = masked_lm_batch()
    reference = Probe(masked_lm(seed=2), inputs, labels, loss="cross_entropy", out=None, dtype=torch.float64,
                      trace="exact", spectrum_method="exact").measure(0)
    for result in results:
        assert result["rows"] == reference.rows == 6 + 6 + 4 + 2
        for key in KEYS:
            assert relative_error(result[key], getattr(reference, key)) <= 1e-10, key
    assert results[1]["eigenvalues"] is None
    expected = torch.tensor(reference.spectrum.eigenvalues)
    assert float((torch.tensor(results[0]["eigenvalues"]) - expected).abs().max()) <= 1e-10 * float(expected[0])
