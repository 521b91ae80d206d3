"""log_to= and probe.log: the probe's numbers in the user's own loggers, and
the user's own numbers in the record.

- Every kind of destination (a Lightning-style logger, a real TensorBoard
  SummaryWriter read back where the tensorboard package is installed, a
  wandb-style run, a callable, a list of them) gets exactly the numbers the
  record holds, at the record's steps, under the documented names; with
  log_names="perspic", the keys of the authors' tool (zincware/perspic) with
  its batch-size normalisation.
- A logger that raises never stops training: one ProbeWarning, the record
  and the other loggers unaffected.
- Nothing imports tensorboard, lightning, wandb or transformers unless the
  user made such an object (checked in a fresh interpreter).
- The callbacks send to the framework's own loggers, once per optimizer
  step, and keep their state (state_dict / load_state_dict).
- probe.log's rules: numbers only, steps that do not go back, rank 0 only.
"""

import json
import logging
import math
import os
import subprocess
import sys
import types
import warnings

import pytest
import torch
from torch import nn

from conftest import REPO
from spectop_probe import Probe, ProbeError, ProbeWarning
from spectop_probe.loggers import Loggers, perspic_values, spectop_values

X = torch.linspace(-1, 1, 18).reshape(6, 3)
Y = torch.stack([X.sum(1).sin(), X.prod(1)], dim=1)
FORBIDDEN = ("tensorboard", "tensorboardX", "torch.utils.tensorboard", "lightning", "pytorch_lightning", "wandb",
             "transformers")


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


def train(model, probe, steps, poison_at=None):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    probe.step(0)
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        (0.5 * (model(X) - Y).pow(2).sum(1).mean()).backward()
        optimizer.step()
        if step == poison_at:
            with torch.no_grad():
                model[2].weight.fill_(float("inf"))
        probe.step(step)


def record_numbers(path):
    """{step: {name: value}} from the record's step and spectrum lines, as
    the spectop names say (the record's fields)."""
    numbers = {}
    for line in open(path, encoding="utf-8"):
        line = json.loads(line)
        if line["type"] == "step":
            numbers[line["step"]] = {k: line[k] for k in ("loss", "chi_loss", "chi_net", "chi_pos", "grad_sq")
                                     if line[k] is not None}
            if line.get("chi_net_estimate"):
                numbers[line["step"]]["chi_net_stderr"] = line["chi_net_stderr"]
        elif line["type"] == "spectrum":
            numbers[line["step"]].update({k: line[k] for k in ("lambda_eff", "r_eff", "effective_rank",
                                                               "chi_pos_exact") if line[k] is not None})
    return numbers


class LightningLike:
    """What a Lightning logger offers the probe: log_metrics(metrics, step)."""

    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step=None):
        self.calls.append((step, dict(metrics)))


class WandbLike:
    """A wandb run's log(data, step=): a step below the last is dropped, as wandb does."""

    def __init__(self):
        self.rows, self.last = {}, -1

    def log(self, data, step=None, commit=None):
        if step < self.last:
            return
        self.last = step
        self.rows.setdefault(step, {}).update(data)


# ---------------------------------------------------------------- every destination, the record's numbers


def test_every_destination_gets_the_records_numbers(tmp_path):
    lightning, run, calls = LightningLike(), WandbLike(), []
    out = tmp_path / "r.jsonl"
    with Probe(mlp(1), X, Y, every=2, out=str(out), name="m",
               log_to=[lightning, run, lambda metrics, step: calls.append((step, metrics))]) as probe:
        train(probe.model, probe, 5)
    expected = {step: {"spectop/" + k: v for k, v in values.items()} for step, values in record_numbers(out).items()}
    assert sorted(expected) == [0, 2, 4]
    assert set(expected[0]) == {"spectop/" + k for k in ("loss", "chi_loss", "chi_net", "chi_pos", "grad_sq",
                                                          "lambda_eff", "r_eff", "effective_rank", "chi_pos_exact")}
    assert dict(lightning.calls) == expected
    assert run.rows == expected
    assert dict(calls) == expected
    # Bit for bit: the JSON round trip of a float64 is exact, and the loggers get plain floats.
    assert all(type(v) is float for _, metrics in calls for v in metrics.values())


def test_a_hutchinson_estimate_sends_its_standard_error(tmp_path):
    calls = []
    out = tmp_path / "r.jsonl"
    with Probe(mlp(2), X, Y, every=1, out=str(out), name="m", trace="hutchinson", hutchinson_vectors=4,
               log_to=lambda metrics, step: calls.append((step, metrics))) as probe:
        train(probe.model, probe, 2)
    expected = {step: {"spectop/" + k: v for k, v in values.items()} for step, values in record_numbers(out).items()}
    assert dict(calls) == expected and all("spectop/chi_net_stderr" in m for _, m in calls)
    assert not any("spectop/r_eff" in m for _, m in calls)  # no spectrum with a Hutchinson trace


def test_a_summary_writer_reads_back_the_records_numbers(tmp_path):
    try:
        from torch.utils.tensorboard import SummaryWriter
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except Exception as error:  # not installed, or installed without what its writer needs
        pytest.skip("the tensorboard package is not usable (%s): scripts/install-python-deps.sh installs it, or "
                    "pip install --no-deps tensorboard protobuf absl-py" % error)
    logdir = tmp_path / "tb"
    writer = SummaryWriter(str(logdir))
    out = tmp_path / "r.jsonl"
    with Probe(mlp(3), X, Y, every=2, out=str(out), name="m", log_to=writer) as probe:
        train(probe.model, probe, 4)
    writer.close()
    events = EventAccumulator(str(logdir))
    events.Reload()
    numbers = record_numbers(out)
    names = {k for values in numbers.values() for k in values}
    assert set(events.Tags()["scalars"]) == {"spectop/" + k for k in names}
    for name in names:
        got = [(e.step, e.value) for e in events.Scalars("spectop/" + name)]
        # TensorBoard keeps float32: the record's float64 rounded once.
        want = [(step, float(torch.tensor(values[name], dtype=torch.float32))) for step, values in sorted(numbers.items())]
        assert got == want, name


def test_a_diverged_measurement_is_sent_as_it_is(tmp_path):
    calls = []
    out = tmp_path / "r.jsonl"
    with Probe(mlp(4), X, Y, every=1, out=str(out), name="m", log_to=lambda m, s: calls.append((s, m))) as probe:
        train(probe.model, probe, 4, poison_at=2)
    steps = [s for s, _ in calls]
    assert steps == [0, 1, 2]  # the probe stops measuring after the divergence
    last = calls[-1][1]
    assert not math.isfinite(last["spectop/loss"])  # the record has null; the logger shows NaN or inf
    assert "spectop/r_eff" not in last
    line = [json.loads(l) for l in open(out, encoding="utf-8") if '"type":"step"' in l][-1]
    assert line["loss"] is None


def test_a_prefix_names_each_probe(tmp_path):
    calls = []
    with Probe(mlp(5), X, Y, every=1, out=None, name="m", log_prefix="spectop/w8/",
               log_to=lambda m, s: calls.append(m)) as probe:
        probe.step(0)
    assert calls and all(name.startswith("spectop/w8/") for name in calls[0])


# ---------------------------------------------------------------- perspic's names


def test_perspic_names_and_normalisation(tmp_path):
    calls = []
    out = tmp_path / "r.jsonl"
    with Probe(mlp(6), X, Y, every=2, out=str(out), name="m", log_names="perspic",
               log_to=lambda metrics, step: calls.append((step, metrics))) as probe:
        train(probe.model, probe, 2)
    n = 6
    numbers = record_numbers(out)
    assert [s for s, _ in calls] == [0, 2]
    for step, metrics in calls:
        # Exactly the keys perspic's analyzer logs for the self batch (no window_* without its schedule).
        assert set(metrics) == {"loss", "chi_loss", "chi_net", "chi_coup", "grad_norm_squared", "batch_size",
                                "analysis_step"}
        record = numbers[step]
        assert metrics["analysis_step"] == step and metrics["batch_size"] == n
        assert metrics["loss"] == record["loss"] and metrics["grad_norm_squared"] == record["grad_sq"]
        assert metrics["chi_coup"] == record["chi_pos"]
        assert metrics["chi_net"] == record["chi_net"] / n and metrics["chi_loss"] == record["chi_loss"] * n
        # perspic's coupling from its own normalised factors is the record's χ_pos.
        coupling = metrics["grad_norm_squared"] / (metrics["chi_loss"] * metrics["chi_net"])
        assert abs(coupling - record["chi_pos"]) <= 1e-12 * record["chi_pos"]


def test_cross_batch_names():
    """A measurement with a cross batch (Measurement.cross) adds perspic's
    cross_* keys, with its sqrt(|A||B|) normalisation, and spectop's cross_*."""
    cross = types.SimpleNamespace(loss=0.5, chi_loss=0.02, chi_net=30.0, chi_pos=-0.1, grad_sq=-0.2, rows=4)
    m = types.SimpleNamespace(step=7, loss=0.4, chi_loss=0.01, chi_net=40.0, chi_pos=0.2, grad_sq=0.08,
                              chi_net_estimate=False, spectrum=None, diverged=None, cross=cross)
    p = perspic_values(m, rows=9)
    scale = math.sqrt(9 * 4)
    assert p["cross_chi_net"] == 30.0 / scale and p["cross_chi_loss"] == 0.02 * scale
    assert p["cross_chi_coup"] == -0.1 and p["cross_grad_dot_product"] == -0.2 and p["cross_loss"] == 0.5
    assert p["cross_batch_size"] == 4 and "cross_analysis_step" not in p
    s = spectop_values(m)
    assert {k: s[k] for k in s if k.startswith("cross_")} == {"cross_loss": 0.5, "cross_chi_loss": 0.02,
                                                             "cross_chi_net": 30.0, "cross_chi_pos": -0.1,
                                                             "cross_grad_sq": -0.2}


def test_an_undefined_chi_pos_is_left_out(tmp_path):
    linear = nn.Linear(2, 1, bias=False)
    xs = X[:, :2].contiguous()
    calls = []
    with Probe(linear, xs, linear(xs).detach(), every=1, out=None, log_names="perspic",
               log_to=lambda m, s: calls.append(m)) as probe:
        probe.step(0)
    assert "chi_coup" not in calls[0] and calls[0]["chi_loss"] == 0


# ---------------------------------------------------------------- a logger that fails


def test_a_raising_logger_never_stops_training(tmp_path):
    calls, failures = [], []

    def broken(metrics, step):
        failures.append(step)
        raise OSError("the disk is full")

    out = tmp_path / "r.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Probe(mlp(7), X, Y, every=1, out=str(out), name="m",
                   log_to=[broken, lambda m, s: calls.append(s)]) as probe:
            train(probe.model, probe, 3)
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "the disk is full" in said[0] and "training goes on" in said[0], said
    assert failures == [0, 1, 2, 3]  # tried again each time, said once
    assert calls == [0, 1, 2, 3]
    assert "OSError: the disk is full" in probe.logger_error
    assert sorted(record_numbers(out)) == [0, 1, 2, 3] and probe.record_error is None


def test_a_logger_with_the_wrong_shape_is_said_once(tmp_path):
    class NoStepKeyword:  # a .log that takes no step= (not a wandb run)
        def log(self, data):
            pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Probe(mlp(8), X, Y, every=1, out=None, log_to=NoStepKeyword()) as probe:
            train(probe.model, probe, 2)
    said = [w for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "TypeError" in str(said[0].message) and len(probe.history) == 3


@pytest.mark.parametrize("log_to, message", [
    ("tensorboard", "is not a logger"),
    (42, "is not a logger"),
    (logging.getLogger("x"), "logs text, not metrics"),
    ([lambda m, s: None, object()], "not a logger"),
])
def test_what_is_no_logger_is_refused_before_any_work(log_to, message, tmp_path):
    with pytest.raises(ProbeError, match=message):
        Probe(mlp(9), X, Y, out=str(tmp_path / "r.jsonl"), log_to=log_to)
    assert not (tmp_path / "r.jsonl").exists()


def test_an_unknown_naming_scheme_is_refused():
    with pytest.raises(ProbeError, match="log_names='mlflow'"):
        Loggers(None, "mlflow")
    with pytest.raises(ProbeError, match="log_prefix must be a string"):
        Loggers(None, "spectop", 3)


# ---------------------------------------------------------------- imports


def test_nothing_imports_the_logging_packages_unless_used(tmp_path):
    script = """
import sys
sys.path.insert(0, %r)
import torch
from torch import nn
import spectop_probe
from spectop_probe import Probe
import spectop_probe.callbacks, spectop_probe.loggers
calls = []
model = nn.Linear(3, 2)
with Probe(model, torch.randn(4, 3), torch.randn(4, 2), every=1, out=%r, log_to=[lambda m, s: calls.append(s)],
           log_names="perspic", budget=None) as probe:
    probe.step(0)
    probe.log(0, val_loss=0.5)
    probe.step(1)
assert calls == [0, 1]
print(sorted(name for name in sys.modules if name.split(".")[0] in %r or name.startswith("torch.utils.tensorboard")))
""" % (os.path.join(REPO, "python"), str(tmp_path / "r.jsonl"), [name for name in FORBIDDEN if "." not in name])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


# ---------------------------------------------------------------- the callbacks


class Base:
    pass


@pytest.fixture
def fake_lightning(monkeypatch):
    lightning = types.ModuleType("lightning")
    lightning.pytorch = types.SimpleNamespace(Callback=Base)
    monkeypatch.setitem(sys.modules, "lightning", lightning)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", lightning.pytorch)


@pytest.fixture
def fake_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", types.SimpleNamespace(TrainerCallback=Base))


def lightning_run(callback, trainer, steps, accumulate=1):
    callback.on_train_start(trainer, None)
    batch = 0
    for step in range(1, steps + 1):
        for micro in range(accumulate):
            if micro == accumulate - 1:
                trainer.global_step = step
            callback.on_train_batch_end(trainer, None, None, None, batch)
            batch += 1
    callback.on_train_end(trainer, None)


def test_lightning_callback_is_an_importable_class_logging_to_the_trainers_loggers(fake_lightning, tmp_path):
    from spectop_probe.callbacks import LightningProbeCallback, lightning_callback
    out = tmp_path / "r.jsonl"
    probe = Probe(mlp(10), X, Y, every=2, out=str(out), name="m")
    callback = LightningProbeCallback(probe)
    assert isinstance(callback, Base) and isinstance(lightning_callback(probe), LightningProbeCallback)
    first, second = LightningLike(), LightningLike()
    trainer = types.SimpleNamespace(global_step=0, loggers=[first, second])
    lightning_run(callback, trainer, 5, accumulate=3)
    expected = {step: {"spectop/" + k: v for k, v in values.items()} for step, values in record_numbers(out).items()}
    assert sorted(expected) == [0, 2, 4]
    assert dict(first.calls) == expected and first.calls == second.calls
    assert [s for s, _ in first.calls] == [0, 2, 4]  # once per optimizer step, not per micro-batch
    assert callback.state_dict() == {"last_global_step": 5}


def test_lightning_callback_state_and_options(fake_lightning, tmp_path):
    from spectop_probe.callbacks import LightningProbeCallback
    own, framework = LightningLike(), LightningLike()
    probe = Probe(mlp(11), X, Y, every=1, out=None, name="a", log_to=own)
    callback = LightningProbeCallback(probe)
    # The probe's own log_to already gets the numbers: the trainer's loggers get none (no number twice).
    lightning_run(callback, types.SimpleNamespace(global_step=0, loggers=[framework]), 2)
    assert [s for s, _ in own.calls] == [0, 1, 2] and framework.calls == []

    quiet = LightningLike()
    off = LightningProbeCallback(Probe(mlp(11), X, Y, every=1, out=None, name="b"), log_to=None)
    lightning_run(off, types.SimpleNamespace(global_step=0, loggers=[quiet]), 1)
    assert quiet.calls == []

    explicit, ignored = [], LightningLike()
    chosen = LightningProbeCallback(Probe(mlp(11), X, Y, every=1, out=None, name="c", log_names="perspic"),
                                    log_to=lambda m, s: explicit.append((s, sorted(m))))
    lightning_run(chosen, types.SimpleNamespace(global_step=0, loggers=[ignored]), 1)
    assert [s for s, _ in explicit] == [0, 1] and "chi_coup" in explicit[0][1] and ignored.calls == []

    with pytest.raises(ProbeError, match="is not a logger"):
        LightningProbeCallback(probe, log_to="wandb")
    with pytest.raises(ProbeError, match="needs a spectop_probe.Probe"):
        LightningProbeCallback(object())

    restored = LightningProbeCallback(Probe(mlp(11), X, Y, every=1, out=None, name="d"))
    restored.load_state_dict(callback.state_dict())
    assert restored.last_global_step == 2
    assert callback.state_key != restored.state_key  # one checkpoint entry per probe


def test_huggingface_callback_logs_through_the_trainer(fake_transformers, tmp_path):
    from spectop_probe.callbacks import HuggingFaceProbeCallback, huggingface_callback

    class Trainer:
        """What the callback uses of transformers.Trainer: add_callback, log
        (which runs every callback's on_log, clearing control.should_log)."""

        def __init__(self):
            self.callbacks, self.logged = [], []
            self.state = types.SimpleNamespace(global_step=0)
            self.control = types.SimpleNamespace(should_log=False)

        def add_callback(self, callback):
            self.callbacks.append(callback)

        def log(self, logs, start_time=None):
            self.logged.append((self.state.global_step, dict(logs)))
            self.control.should_log = False

    out = tmp_path / "r.jsonl"
    probe = Probe(mlp(12), X, Y, every=2, out=str(out), name="m")
    trainer = Trainer()
    callback = HuggingFaceProbeCallback(probe).attach(trainer)
    assert trainer.callbacks == [callback] and isinstance(callback, Base)
    state, control = trainer.state, trainer.control
    callback.on_train_begin(None, state, control)
    for step in range(1, 5):
        state.global_step = step
        control.should_log = step % 2 == 0  # the Trainer's own logging_steps decision
        callback.on_step_end(None, state, control)
        assert control.should_log == (step % 2 == 0)  # kept through trainer.log
    callback.on_train_end(None, state, control)
    expected = {step: {"spectop/" + k: v for k, v in values.items()} for step, values in record_numbers(out).items()}
    assert dict(trainer.logged) == expected and sorted(expected) == [0, 2, 4]
    assert callback.state_dict() == {"last_global_step": 4}

    # Not attached (callbacks=[...]): the record only.
    plain = huggingface_callback(Probe(mlp(12), X, Y, every=1, out=None, name="p"))
    assert isinstance(plain, HuggingFaceProbeCallback)
    plain.on_train_begin(None, types.SimpleNamespace(global_step=0), types.SimpleNamespace(should_log=False))
    assert len(plain.probe.history) == 1
    with pytest.raises(ProbeError, match="needs a transformers.Trainer"):
        plain.attach(object())


def test_a_missing_framework_is_named_when_the_class_is_named(monkeypatch):
    import spectop_probe.callbacks as callbacks
    monkeypatch.setitem(sys.modules, "lightning", None)
    monkeypatch.setitem(sys.modules, "pytorch_lightning", None)
    with pytest.raises(ProbeError, match="needs the lightning package"):
        callbacks.LightningProbeCallback
    with pytest.raises(AttributeError):
        callbacks.NoSuchCallback


# ---------------------------------------------------------------- probe.log


def scalars_lines(path):
    return [json.loads(l) for l in open(path, encoding="utf-8") if '"type":"scalars"' in l]


def test_probe_log_takes_numbers_of_every_kind(tmp_path):
    np = pytest.importorskip("numpy")
    out = tmp_path / "r.jsonl"
    with Probe(mlp(13), X, Y, every=10, out=str(out), name="m") as probe:
        probe.log(3, {"val/loss": 0.25}, acc=np.float32(0.5), lr=torch.tensor(0.125), n=np.int64(7), big=2 ** 60,
                  gone=float("nan"), up=float("inf"))
    (line,) = scalars_lines(out)
    assert line["model"] == "m" and line["step"] == 3 and line["wall"] >= 0
    assert line["values"] == {"val/loss": 0.25, "acc": 0.5, "lr": 0.125, "n": 7.0, "big": float(2 ** 60),
                              "gone": None, "up": None}


@pytest.mark.parametrize("call, message", [
    (lambda p: p.log(1), "has no scalars"),
    (lambda p: p.log(1, flag=True), "must be a number, not bool"),
    (lambda p: p.log(1, name="x"), "must be a number, not str"),
    (lambda p: p.log(1, many=torch.ones(2)), "a tensor of 2 elements"),
    (lambda p: p.log(1, {"": 1.0}), "non-empty strings"),
    (lambda p: p.log(1, [("a", 1.0)]), "must be a dict"),
    (lambda p: p.log(1.5, a=1.0), "whole number"),
    (lambda p: p.log(-1, a=1.0), "0 or more"),
])
def test_probe_log_refuses_what_is_no_scalar(call, message, tmp_path):
    with Probe(mlp(14), X, Y, every=10, out=str(tmp_path / "r.jsonl")) as probe:
        with pytest.raises(ProbeError, match=message):
            call(probe)
    assert scalars_lines(tmp_path / "r.jsonl") == []


def test_probe_log_steps_do_not_go_back(tmp_path):
    out = tmp_path / "r.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = Probe(mlp(15), X, Y, every=10, out=str(out))
        probe.log(5, a=1.0)
        probe.log(5, b=2.0)   # the same step again: fine
        probe.log(4, c=3.0)   # back: not recorded, said once
        probe.log(3, d=4.0)
        probe.log(6, e=5.0)
        probe.close()
        probe.log(7, f=6.0)   # after close: not recorded
    assert [(l["step"], l["values"]) for l in scalars_lines(out)] == [(5, {"a": 1.0}), (5, {"b": 2.0}),
                                                                      (6, {"e": 5.0})]
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "must not go back" in said[0], said


def test_probe_log_without_a_record_does_nothing(tmp_path):
    with Probe(mlp(16), X, Y, every=10, out=None) as probe:
        probe.log(0, a=1.0)  # nothing to write to; no error
