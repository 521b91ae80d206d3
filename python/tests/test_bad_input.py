"""Bad input gives a ProbeError that names the problem; NaN outputs mark the
model diverged in the record and training goes on. Step numbers: a repeated
step is ignored, an earlier one ignored with one warning, a non-integer one
refused; concurrent calls are serialised."""

import json
import os
import threading
import warnings

import pytest
import torch
from torch import nn

from spectop_probe import Probe, ProbeError, ProbeWarning, merge_records


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


X, Y = torch.randn(5, 3), torch.randn(5, 2)


def test_probe_batch_on_another_device():
    with pytest.raises(ProbeError, match="probe batch is on meta.*model's parameters are on cpu"):
        Probe(mlp(), X.to("meta"), Y, out=None)
    with pytest.raises(ProbeError, match="probe batch is on meta"):
        Probe(mlp(), X, Y.to("meta"), out=None)


def test_no_trainable_parameters():
    model = mlp().requires_grad_(False)
    with pytest.raises(ProbeError, match="no trainable parameters"):
        Probe(model, X, Y, out=None)


def test_unknown_loss_name():
    with pytest.raises(ProbeError, match="unknown loss 'hinge'"):
        Probe(mlp(), X, Y, loss="hinge", out=None)


def test_trainable_names_checked():
    with pytest.raises(ProbeError, match="'2.weigth', which is not a parameter"):
        Probe(mlp(), X, Y, trainable=["2.weigth"], out=None)


def test_wrong_target_shape():
    probe = Probe(mlp(), X, Y[:, :1], out=None)
    with pytest.raises(ProbeError, match="mse: probe_targets has 5 numbers, the model gives 10 outputs"):
        probe.measure(0)


def test_labels_out_of_range():
    probe = Probe(mlp(), X, torch.tensor([0, 1, 2, 0, 1]), loss="cross_entropy", out=None)
    with pytest.raises(ProbeError, match="labels must lie in 0..1"):
        probe.measure(0)


def test_unwritable_out(tmp_path):
    with pytest.raises(ProbeError, match="cannot write the record out='/nonexistent-dir/r.jsonl'"):
        Probe(mlp(), X, Y, out="/nonexistent-dir/r.jsonl")
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        if os.access(str(folder), os.W_OK):
            pytest.skip("running as a user who may write anywhere (root): the read-only folder case cannot fail")
        with pytest.raises(ProbeError, match="cannot write the record"):
            Probe(mlp(), X, Y, out=str(folder / "r.jsonl"))
    finally:
        os.chmod(folder, 0o700)


def test_existing_out_is_not_overwritten(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text("precious\n")
    with pytest.raises(ProbeError, match="already exists.*overwrite=True"):
        Probe(mlp(), X, Y, out=str(out))
    assert out.read_text() == "precious\n"
    Probe(mlp(), X, Y, out=str(out), overwrite=True).close()
    assert json.loads(out.read_text().splitlines()[0])["type"] == "run"


def test_nan_outputs_mark_the_model_diverged_and_training_goes_on(tmp_path):
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    out = tmp_path / "r.jsonl"
    with Probe(model, X, Y, every=1, out=str(out), name="m") as probe:
        assert probe.step(0).diverged is None
        with torch.no_grad():
            model[2].weight[0, 0] = float("nan")
        result = probe.step(1)
        assert result.diverged == "the loss" and result.chi_pos is None
        # Training code keeps running; the probe stays quiet from now on.
        for step in range(2, 5):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(X), Y).backward()
            optimizer.step()
            assert probe.step(step) is None
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    events = [l for l in lines if l["type"] == "event"]
    assert events == [{"type": "event", "event": "diverged", "model": "m", "step": 1, "wall": events[0]["wall"],
                       "detail": "loss is not finite"}]
    steps = [l for l in lines if l["type"] == "step"]
    assert [s["step"] for s in steps] == [0, 1] and steps[1]["loss"] is None
    assert lines[-1]["type"] == "end" and lines[-1]["reason"] == "closed"


def test_model_parallel_is_refused():
    class Split(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 2)
            self.b = nn.Linear(3, 2, device="meta")

        def forward(self, x):
            return self.a(x)

    with pytest.raises(ProbeError, match="several devices"):
        Probe(Split(), X, Y, out=None)


def test_model_that_vmap_cannot_batch_is_measured_whole_batch():
    """A forward with data-dependent Python control flow cannot run per
    sample under vmap (and its branch depends on the whole batch, so per
    sample would be another function anyway): the exact routes take
    whole-batch products instead, say why in ``per_sample_failure``, and
    give the explicit Jacobian's numbers; the Hutchinson route measures it
    too."""
    from torch.func import functional_call, jacrev

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 4)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            h = self.body(x)
            if float(h.detach().sum()) > 0:  # .item()-style control flow
                h = torch.tanh(h)
            return self.head(h)

    torch.manual_seed(0)
    model = Branchy().double()
    probe = Probe(model, X.double(), Y.double(), out=None, trace="exact", dtype=torch.float64)
    r = probe.measure(0)
    assert "per-sample route" in probe.function.per_sample_failure
    theta = {n: p.detach() for n, p in model.named_parameters()}
    jac = jacrev(lambda t: functional_call(model, t, (X.double(),)).reshape(-1))(theta)
    J = torch.cat([j.reshape(X.shape[0] * 2, -1) for j in jac.values()], dim=1)
    assert r.chi_net == pytest.approx(float(J.pow(2).sum()), rel=1e-12)
    assert r.spectrum is not None and r.spectrum.eigenvalues[0] == pytest.approx(
        float(torch.linalg.eigvalsh(J @ J.T)[-1]), rel=1e-10)
    r = Probe(Branchy(), X, Y, out=None, trace="hutchinson", spectrum=False, hutchinson_vectors=4).measure(0)
    assert r.chi_net_estimate and r.chi_pos is not None


class Cast(nn.Module):
    """A bfloat16 head fed by an activation cast in forward (mixed precision
    by hand), or, with ``at_end``, a float32 model whose outputs are cast."""

    def __init__(self, at_end=False):
        super().__init__()
        self.at_end = at_end
        self.body = nn.Linear(3, 8)
        self.head = nn.Linear(8, 2) if at_end else nn.Linear(8, 2).to(torch.bfloat16)

    def forward(self, x):
        h = torch.tanh(self.body(x))
        if self.at_end:
            return self.head(h).to(torch.bfloat16)
        return self.head(h.to(torch.bfloat16))


def test_a_forward_that_casts_is_refused_at_construction():
    with pytest.raises(ProbeError, match="forward fails on the probe batch with its parameters and floating inputs "
                                         "in float32.*same dtype.*remove the cast"):
        Probe(Cast(), X, Y, out=None)
    with pytest.raises(ProbeError, match="outputs are torch.bfloat16 although its parameters and floating inputs were "
                                         "cast to torch.float32.*remove the cast"):
        Probe(Cast(at_end=True), X, Y, out=None)


class Returns(nn.Module):
    def __init__(self, finish):
        super().__init__()
        self.head = nn.Linear(3, 2)
        self.finish = finish

    def forward(self, x):
        return self.finish(self.head(x))


def test_outputs_on_another_device_are_named():
    with pytest.raises(ProbeError, match="outputs are on meta but its parameters and the probe batch are on cpu"):
        Probe(Returns(lambda f: f.to("meta")), X, Y, out=None)


def test_integer_outputs_are_refused():
    """Rounded outputs have no gradient: χ_net would be silently 0."""
    with pytest.raises(ProbeError, match="outputs are torch.int64, not floating point"):
        Probe(Returns(lambda f: (10 * f).long()), X, Y, out=None)


def test_a_loss_that_is_not_differentiable_is_named():
    def error_rate(outputs, targets):
        return (outputs.argmax(1) != targets.argmax(1)).float().mean()

    probe = Probe(mlp(), X, Y, loss=error_rate, out=None)
    with pytest.raises(ProbeError, match="loss is not differentiable in the model's outputs"):
        probe.measure(0)


@pytest.mark.parametrize("every", ["10", 2.5, True])
def test_every_must_be_an_int(every):
    with pytest.raises(ProbeError, match="every must be a whole number"):
        Probe(mlp(), X, Y, every=every, out=None)


@pytest.mark.parametrize("out", [3, ["r.jsonl"]])
def test_out_must_be_a_path(out):
    with pytest.raises(ProbeError, match="out must be a file path .* or None, not (int|list)"):
        Probe(mlp(), X, Y, out=out)


def test_merge_records_names_what_is_wrong(tmp_path):
    good = tmp_path / "good.jsonl"
    Probe(mlp(), X, Y, out=str(good), name="m").close()
    (tmp_path / "text.jsonl").write_text("not json\n")
    (tmp_path / "empty.jsonl").write_text("")
    out = str(tmp_path / "all.jsonl")
    cases = [
        ([str(tmp_path / "missing.jsonl")], "cannot read the record .*missing.jsonl'.*No such file"),
        ([str(tmp_path / "text.jsonl")], "text.jsonl: the first line is not JSON"),
        ([str(tmp_path / "empty.jsonl")], "empty.jsonl: empty file"),
        ([], "needs at least one record file"),
        (str(good), "needs a list of record files, not str"),
        ([str(good), str(good)], "name the same model twice: m"),
    ]
    for paths, message in cases:
        with pytest.raises(ProbeError, match=message):
            merge_records(paths, out)
    assert not os.path.exists(out)
    with pytest.raises(ProbeError, match="out must be a file path"):
        merge_records([str(good)], 3)
    merge_records([str(good)], out)
    assert [json.loads(line)["type"] for line in open(out)] == ["run", "end"]


@pytest.mark.parametrize("step", [1.5, "3", True])
def test_a_step_that_is_not_an_int_is_refused(step):
    probe = Probe(mlp(), X, Y, every=1, out=None)
    with pytest.raises(ProbeError, match="the step must be a whole number"):
        probe.step(step)
    assert probe.history == []


def test_repeated_and_earlier_steps_are_ignored(tmp_path):
    """A step is measured at most once; an earlier step is ignored and said once."""
    out = tmp_path / "r.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Probe(mlp(), X, Y, every=2, out=str(out), name="m") as probe:
            for step in (0, 0, 1, 2, 2, 2, 3, 1, 0, 4, 2):
                probe.step(step)
    assert [m.step for m in probe.history] == [0, 2, 4]
    assert [l["step"] for l in map(json.loads, out.read_text().splitlines()) if l["type"] == "step"] == [0, 2, 4]
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "probe.step(1) after probe.step(3)" in said[0] and "ignored" in said[0]


def in_threads(count, work):
    """Runs work(k) in ``count`` threads started together; the errors they raised."""
    errors = []
    start = threading.Barrier(count)

    def run(k):
        start.wait()
        try:
            work(k)
        except Exception as error:  # reported by the test, with the thread's message
            errors.append(repr(error))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_steps_from_several_threads_are_serialised():
    """Concurrent calls share one module (the functional call swaps tensors
    into it): they run one at a time and each gives the single-thread value."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2))
    x, y = torch.randn(32, 3), torch.randn(32, 2)
    expected = Probe(model, x, y, out=None).measure(0)
    probe = Probe(model, x, y, every=1, out=None)
    assert in_threads(4, lambda k: [probe.measure(step) for step in range(k, 40, 4)]) == []
    assert sorted(m.step for m in probe.history) == list(range(40))
    assert {(m.chi_net, m.grad_sq) for m in probe.history} == {(expected.chi_net, expected.grad_sq)}
    # step() from every thread, each going through the same steps: each step
    # is measured at most once, in increasing order, the last one surely.
    probe = Probe(model, x, y, every=1, out=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProbeWarning)  # a thread that falls behind passes earlier steps
        assert in_threads(4, lambda k: [probe.step(step) for step in range(10)]) == []
    steps = [m.step for m in probe.history]
    assert steps == sorted(set(steps)) and steps[-1] == 9
    assert {(m.chi_net, m.grad_sq) for m in probe.history} == {(expected.chi_net, expected.grad_sq)}
