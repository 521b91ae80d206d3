"""Probe's grouped settings: every problem reported at once, before any work
(no forward, no record file, no logger call); each group checks its own
fields; a flat keyword and its group field give the same record; unknown
keywords get a suggestion; ``history`` keeps the latest measurements while
the record keeps them all; a record file exists only with a line in it."""

import datetime
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from conftest import REPO
from spectop_probe import (CrossBatchSettings, History, LoggingSettings, MeasurementSettings, Probe, ProbeError,
                           RecordSettings, SpectrumSettings)
from spectop_probe.settings import GROUPS, SHORTHANDS

X, Y = torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), torch.randn(
    6, 2, generator=torch.Generator().manual_seed(2))


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


def count_forwards(model):
    """The forwards the model runs (the probe's functional calls included)."""
    calls = {"n": 0}

    def hook(module, args):
        calls["n"] += 1

    model.register_forward_pre_hook(hook)
    return calls


def problems_of(error):
    lines = str(error.value).splitlines()
    return lines[0], [line[len("  - "):] for line in lines[1:]]


def test_four_bad_settings_are_named_in_one_error_before_any_work(tmp_path):
    model = mlp()
    forwards = count_forwards(model)
    logged = []
    out = tmp_path / "r.jsonl"
    with pytest.raises(ProbeError) as error:
        Probe(model, X, Y, every=1, out=str(out), trace="fast", top_k=0, batch=0, spectrum_share=-1.0,
              log_to=lambda metrics, step: logged.append(step))
    head, problems = problems_of(error)
    assert head == "4 problems with the probe's settings:"
    assert len(problems) == 4 and error.value.problems == problems
    assert any(p.startswith("trace='fast': use \"auto\", \"exact\" or \"hutchinson\"") for p in problems)
    assert any(p.startswith("top_k must be at least 1, not 0") for p in problems)
    assert any(p.startswith("batch must be at least 1") for p in problems)
    assert any(p.startswith("spectrum_share (SpectrumSettings.share) must be a number of 0 or more") for p in problems)
    # Nothing was done: no forward, no file, no logger call.
    assert forwards["n"] == 0 and not out.exists() and logged == []
    # The same model and batch with good settings does run forwards: the counter works.
    Probe(model, X, Y, every=1, out=str(out)).close()
    assert forwards["n"] > 0 and out.exists()


def test_problems_with_the_model_and_batches_join_the_settings_problems(tmp_path):
    """The checks that need no forward (the trainable names, the batch's
    device, the held-out batch's shape, out, an unknown keyword) are listed
    with the settings' own problems."""
    model = mlp()
    forwards = count_forwards(model)
    out = tmp_path / "r.jsonl"
    out.write_text("precious\n")
    with pytest.raises(ProbeError) as error:
        Probe(model, X, Y.to("meta"), out=str(out), trainable=["2.weigth"], cross_inputs=[X, X], cross_targets=Y,
              top_k=0, readout="1", hutchinson_vector=8)
    head, problems = problems_of(error)
    expected = ["Probe got an unknown keyword hutchinson_vector=: did you mean hutchinson_vectors=?",
                "top_k must be at least 1, not 0",
                "the record out=%r already exists" % str(out),
                "trainable names '2.weigth', which is not a parameter of the model (did you mean '2.weight'?)",
                "the probe batch is on meta but the model's parameters are on cpu",
                "readout='1' is not an nn.Linear submodule of the model (it is a Tanh)",
                "cross_inputs must be shaped like probe_inputs"]
    assert head == "%d problems with the probe's settings:" % len(expected), problems
    for start, problem in zip(expected, problems):
        assert problem.startswith(start), (start, problem)
    assert forwards["n"] == 0 and out.read_text() == "precious\n"


def test_a_readout_that_is_no_linear_is_refused_up_front():
    with pytest.raises(ProbeError, match=r"readout='1' is not an nn.Linear submodule of the model \(it is a Tanh\)"):
        Probe(mlp(), X, Y, out=None, readout="1")
    with pytest.raises(ProbeError, match="readout='3' is not a submodule of the model"):
        Probe(mlp(), X, Y, out=None, readout="3")


@pytest.mark.parametrize("group, fields, message", [
    (MeasurementSettings, {"dtype": torch.float16}, "dtype must be torch.float32 or torch.float64"),
    (MeasurementSettings, {"min_vectors": 8, "max_vectors": 4}, r"max_vectors \(4\) must not be below min_vectors \(8\)"),
    (MeasurementSettings, {"hutchinson_vectors": 1}, "hutchinson_vectors must be at least 2"),
    (MeasurementSettings, {"chunk_bytes": 2.5}, r"chunk_bytes must be a whole number \(an int\), not float"),
    (MeasurementSettings, {"output_fn": "logits"}, "output_fn must be a function"),
    (SpectrumSettings, {"every": 0}, r"spectrum_every \(SpectrumSettings.every\) must be at least 1, not 0"),
    (SpectrumSettings, {"method": "arnoldi"}, "\"auto\", \"exact\" or \"lanczos\""),
    (SpectrumSettings, {"enabled": "yes"}, "must be True or False"),
    (SpectrumSettings, {"max_bytes": True}, "not a bool"),
    (RecordSettings, {"resume": True, "overwrite": True}, "pass one"),
    (RecordSettings, {"mode": "trainable"}, "mode must be \"active\" or \"frozen\""),
    (RecordSettings, {"width": -1}, "width must be at least 0"),
    (RecordSettings, {"data_name": ""}, "data_name must be a non-empty string"),
    (LoggingSettings, {"names": "mlflow"}, "log_names='mlflow'"),
    (LoggingSettings, {"loggers": [print, 42]}, "log_to=42 is not a logger"),
    (LoggingSettings, {"prefix": 3}, "log_prefix must be a string"),
    (CrossBatchSettings, {"inputs": X}, "cross_inputs and cross_targets go together"),
    (CrossBatchSettings, {"source": "train", "inputs": X, "targets": Y}, "must not be given too"),
    (CrossBatchSettings, {"source": "validation"}, "cross='validation': use \"heldout\""),
])
def test_each_group_checks_its_own_fields(group, fields, message):
    with pytest.raises(ProbeError, match=message) as error:
        group(**fields)
    assert str(error.value).startswith("1 problem with the probe's settings:\n")
    # Given to Probe, the same fields give the same problem, before any forward.
    model = mlp()
    forwards = count_forwards(model)
    keyword = next(name for name, cls in GROUPS.items() if cls is group)
    flat = {next(f for f, (g, field) in SHORTHANDS.items() if g == keyword and field == name): value
            for name, value in fields.items()}
    with pytest.raises(ProbeError, match=message):
        Probe(model, X, Y, out=None, **flat)
    assert forwards["n"] == 0


def test_every_group_is_valid_with_its_defaults_and_frozen():
    for cls in GROUPS.values():
        settings = cls()
        assert settings.problems() == []
        with pytest.raises(AttributeError):
            settings.__setattr__("x", 1)
    # Each shorthand names a real field of its group (the one table is consistent).
    for flat, (group, field) in SHORTHANDS.items():
        assert field in GROUPS[group].__dataclass_fields__, flat


def test_a_shorthand_beside_its_group_is_refused():
    with pytest.raises(ProbeError) as error:
        Probe(mlp(), X, Y, out=None, spectrum=SpectrumSettings(top_k=4), spectrum_every=3,
              measurement=MeasurementSettings(trace="exact"), trace="hutchinson", width=8)
    head, problems = problems_of(error)
    assert head == "2 problems with the probe's settings:"
    assert problems[0].startswith("spectrum_every=3 and spectrum=SpectrumSettings(...) both set every: pass it once, "
                                  "inside SpectrumSettings(every=...)")
    assert problems[1].startswith("trace='hutchinson' and measurement=MeasurementSettings(...) both set trace")
    # A shorthand of another group is fine beside a group.
    Probe(mlp(), X, Y, out=None, spectrum=SpectrumSettings(top_k=4), width=8).close()


def test_unknown_keywords_get_a_suggestion():
    cases = {"spectrum_evry": "did you mean spectrum_every=?", "hutchinson_vector": "did you mean hutchinson_vectors=?",
             "histroy_size": "did you mean history_size=?", "log_too": "did you mean log_to=?",
             "zzz": "see help(Probe) for the keywords it takes"}
    for keyword, suggestion in cases.items():
        with pytest.raises(ProbeError) as error:
            Probe(mlp(), X, Y, out=None, **{keyword: 1})
        assert problems_of(error)[1] == ["Probe got an unknown keyword %s=: %s" % (keyword, suggestion)]


def test_a_group_keyword_given_something_else_is_refused():
    with pytest.raises(ProbeError, match="measurement= takes a MeasurementSettings, not dict"):
        Probe(mlp(), X, Y, out=None, measurement={"trace": "exact"})
    with pytest.raises(ProbeError, match="record= takes a RecordSettings, not bool"):
        Probe(mlp(), X, Y, out=None, record=True)


def train_and_probe(out, **options):
    """Six SGD steps of one model (the same every call), probed every step."""
    model = mlp(3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with Probe(model, X, Y, every=1, out=str(out), name="m", budget=None, **options) as probe:
        for step in range(6):
            probe.step(step)
            optimizer.zero_grad()
            nn.functional.mse_loss(model(X), Y).backward()
            optimizer.step()
    return probe


def timeless(path):
    """The record's lines without what depends on the clock (wall, started, usage lines)."""
    lines = []
    for line in path.read_text().splitlines():
        fields = json.loads(line)
        if fields["type"] == "usage":
            continue
        for key in ("wall", "started"):
            fields.pop(key, None)
        lines.append(json.dumps(fields, sort_keys=True).encode())
    return b"\n".join(lines)


def test_flat_keywords_and_groups_give_identical_records(tmp_path):
    flat = dict(dtype=torch.float64, trace="hutchinson", hutchinson_vectors=6, seed=11, spectrum_every=2, top_k=3,
                spectrum_method="exact", width=8, depth=2, data_name="toy", batch=6, mode="active")
    grouped = dict(measurement=MeasurementSettings(dtype=torch.float64, trace="hutchinson", hutchinson_vectors=6,
                                                   seed=11),
                   spectrum=SpectrumSettings(every=2, top_k=3, method="exact"),
                   record=RecordSettings(width=8, depth=2, data_name="toy", batch=6, mode="active"))
    train_and_probe(tmp_path / "flat.jsonl", **flat)
    train_and_probe(tmp_path / "grouped.jsonl", **grouped)
    train_and_probe(tmp_path / "mixed.jsonl", measurement=grouped["measurement"], spectrum_every=2, top_k=3,
                    spectrum_method="exact", record=grouped["record"])
    assert timeless(tmp_path / "flat.jsonl") == timeless(tmp_path / "grouped.jsonl")
    assert timeless(tmp_path / "flat.jsonl") == timeless(tmp_path / "mixed.jsonl")
    # The comparison sees the settings: another seed or spacing gives another record.
    train_and_probe(tmp_path / "seed.jsonl", **dict(flat, seed=12))
    train_and_probe(tmp_path / "every.jsonl", **dict(flat, spectrum_every=3))
    assert timeless(tmp_path / "seed.jsonl") != timeless(tmp_path / "flat.jsonl")
    assert timeless(tmp_path / "every.jsonl") != timeless(tmp_path / "flat.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "grouped.jsonl").read_text().splitlines()]
    assert lines[0]["models"][0]["width"] == 8 and lines[0]["data"]["name"] == "toy"
    assert [l["step"] for l in lines if l["type"] == "spectrum"] == [0, 2, 4]
    assert {l["chi_net_vectors"] for l in lines if l["type"] == "step"} == {6}


def test_history_keeps_the_latest_measurements_and_the_record_all(tmp_path):
    probe = train_and_probe(tmp_path / "r.jsonl", history_size=4)
    assert isinstance(probe.history, History) and probe.history.size == 4
    assert [m.step for m in probe.history] == [2, 3, 4, 5]
    assert probe.history[-1].step == 5 and probe.latest is probe.history[-1] and probe.history[0].step == 2
    assert [m.step for m in probe.history[1:3]] == [3, 4] and len(probe.history) == 4
    assert probe.history.dropped == 2
    assert probe.history == list(probe.history) and probe.history != list(probe.history)[1:]
    steps = [json.loads(line)["step"] for line in (tmp_path / "r.jsonl").read_text().splitlines()
             if json.loads(line)["type"] == "step"]
    assert steps == [0, 1, 2, 3, 4, 5]   # the record keeps every one
    everything = train_and_probe(tmp_path / "all.jsonl", history_size=None)
    assert [m.step for m in everything.history] == [0, 1, 2, 3, 4, 5] and everything.history.dropped == 0
    default = train_and_probe(tmp_path / "default.jsonl")
    assert default.history.size == 1000
    for size, message in ((0, "history_size must be at least 1"), (2.0, "history_size must be a whole number")):
        with pytest.raises(ProbeError, match=message):
            Probe(mlp(), X, Y, out=None, history_size=size)


class Failing(nn.Module):
    """Runs until the probe's forward: the forward fails."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 2)

    def forward(self, x):
        raise RuntimeError("the forward of this model fails")


@pytest.mark.parametrize("case", ["setting", "forward", "cross batch", "cross forward", "out exists"])
def test_a_probe_that_cannot_be_made_leaves_no_record_file(case, tmp_path):
    out = tmp_path / "r.jsonl"
    model, options = mlp(), {}
    if case == "setting":
        options = {"trace": "fast"}
    elif case == "forward":
        model = Failing()
    elif case == "cross batch":
        options = {"cross_inputs": X.to("meta"), "cross_targets": Y}
    elif case == "cross forward":
        options = {"cross_inputs": torch.randn(4, 5), "cross_targets": torch.randn(4, 2)}
    elif case == "out exists":
        out.write_text("precious\n")
    with pytest.raises(ProbeError):
        Probe(model, X, Y, out=str(out), **options)
    if case == "out exists":
        assert out.read_text() == "precious\n"
    else:
        assert not out.exists()
    assert list(tmp_path.iterdir()) == ([out] if case == "out exists" else [])


def test_a_run_line_that_cannot_be_written_leaves_no_file(tmp_path):
    """A file-size limit below the run line's size (as a full disk): the
    probe warns once, training goes on, and no empty record file remains."""
    pytest.importorskip("resource")
    out = tmp_path / "r.jsonl"
    script = textwrap.dedent("""
        import json, resource, signal, sys, warnings
        sys.path.insert(0, %r)
        import torch
        from torch import nn
        from spectop_probe import Probe, ProbeWarning
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
        x, y = torch.randn(4, 3), torch.randn(4, 2)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            probe = Probe(model, x, y, every=1, out=%r, name="m", budget=None)
            for step in range(3):
                probe.step(step)
            probe.close()
        print(json.dumps({"measured": len(probe.history), "record_error": probe.record_error,
                          "warnings": [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]}))
    """ % (REPO + "/python", str(out)))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["measured"] == 3 and len(report["warnings"]) == 1
    assert "File too large" in report["record_error"] and "no record file was left" in report["record_error"]
    assert not out.exists()


def disagreeing_ranks_worker(rank, world, init_file, folder):
    """Rank 1 passes a bad setting, rank 0 good ones: both must stop with a
    ProbeError (rank 0 naming rank 1), neither waiting for the other, and
    no record file may appear (rank 0 was the one to write it)."""
    from test_distributed import setup_paths
    setup_paths()
    import torch.distributed as dist
    from spectop_probe import Probe, ProbeError
    # A timeout, so that a rank left waiting fails this test instead of hanging it.
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    try:
        model = torch.nn.parallel.DistributedDataParallel(mlp())
        options = {"trace": "fast"} if rank == 1 else {}
        try:
            Probe(model, X, Y, out=os.path.join(folder, "rank%d.jsonl" % rank), **options)
            message = None
        except ProbeError as error:
            message = str(error)
        with open(os.path.join(folder, "result%d.json" % rank), "w") as f:
            json.dump({"message": message}, f)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_ranks_stop_together_when_one_has_a_problem_and_no_file_is_made(tmp_path):
    import torch.multiprocessing as mp
    folder = tmp_path / "ranks"
    folder.mkdir()
    mp.spawn(disagreeing_ranks_worker, args=(2, str(tmp_path / "init"), str(folder)), nprocs=2, join=True)
    messages = [json.load(open(folder / ("result%d.json" % r)))["message"] for r in range(2)]
    assert messages[1] is not None and "trace='fast'" in messages[1]
    assert messages[0] is not None and "other ranks found problems with their settings: rank 1 (1)" in messages[0]
    assert sorted(p.name for p in folder.iterdir()) == ["result0.json", "result1.json"]
