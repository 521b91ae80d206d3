"""One record contract for every writer and reader (docs/RECORD.md).

- Every line the probe writes, and every line spectop's engine writes, is
  valid against docs/record.schema.json (jsonschema, draft 2020-12, with
  integers held to "no fraction"), and every file keeps the rules that span
  lines: the run line first and once, each model's steps strictly
  increasing, spectra at measured steps, density arrays that fit together,
  the end line last.
- The probe's corpus covers every feature it writes: an exact χ_net, a
  Hutchinson estimate with its standard error, exact spectra, matrix-free
  (lanczos) spectra with their density and method_reason, spectra refused
  with a reason (the "spectrum" event), a divergence, a frozen readout-only
  model, a perfectly fitted model (χ_pos undefined, no weights), the user's
  own scalars (probe.log: at measured and other steps, several at one step,
  a non-finite value), the normalised factors on every step, a log schedule
  with its windows, cross-batch fields from a held-out batch (interfering: a
  negative χ_pos^{AB}) and from training batches (Hutchinson estimates, a
  batch that fails: the "error" event, steps without B), matrix-free spectra
  beside Hutchinson cross-batch fields on a log schedule, and a merged
  record. The engine's covers exact and matrix-free
  (lanczos) spectra, a Hutchinson trace, per-layer arrays and a live
  divergence.
- Across languages: spectop's reader gets what the probe meant. `spectop
  export` gives back Probe.history's values bit for bit (float64 through
  JSON), the model ids and their order; `spectop claims --json` reads the
  modes, sizes and the divergence; `spectop replay` and `watch` show the
  refused spectrum's reason. `spectop check` passes every record when this
  spectop has it.
- The checks are not vacuous: mutated lines (a step line without `model`,
  a `step` as a string, …) fail the schema, a repeated step fails the file
  rules, and spectop's reader skips what the forward-compatibility rules say
  it skips and refuses an unknown version.

The tests that run spectop are skipped without the binary (conftest), and
the schema tests without the jsonschema package."""

import csv
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
import warnings

import pytest
import torch
from torch import nn

from conftest import REPO
from spectop_probe import LogSchedule, Probe, ProbeError, ProbeWarning, merge_records

SCHEMA_PATH = os.path.join(REPO, "docs", "record.schema.json")


def documented_event_kinds():
    """The first column of docs/RECORD.md's "Event kinds" table: what the
    engine and the probe may write (the Swift side holds RecordEventKind to
    the same table, RecordEventKindTests)."""
    text = open(os.path.join(REPO, "docs", "RECORD.md"), encoding="utf-8").read()
    table = []
    for line in text.split("### Event kinds", 1)[1].splitlines():
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return {row.split("|")[1].strip().strip("`") for row in table[2:]}


KNOWN_EVENTS = documented_event_kinds()
STEP_FIELDS = ["loss", "chi_loss", "chi_net", "chi_pos", "grad_sq"]
NORMALISED_FIELDS = ["rows", "chi_loss_normalized", "chi_net_normalized"]
CROSS_FIELDS = ["cross_loss", "cross_grad_dot", "cross_chi_loss", "cross_chi_net", "cross_chi_pos", "cross_rows",
                "cross_chi_loss_normalized", "cross_chi_net_normalized"]


# ---------------------------------------------------------------- reading and checking


def read_lines(path):
    """The record's lines as (number, raw text, object). NaN and Infinity
    literals are refused: the contract writes non-finite numbers as null."""
    def refuse(name):
        raise ValueError("%s literal: non-finite numbers must be written as null" % name)
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")  # UTF-8, or this raises
    assert text.endswith("\n"), "%s: the last line has no newline" % path
    out = []
    for number, raw in enumerate(text[:-1].split("\n"), 1):
        out.append((number, raw, json.loads(raw, parse_constant=refuse)))
    return out


def file_problems(path):
    """The rules of docs/RECORD.md that span lines (the schema sees one line at a time)."""
    problems = []
    lines = read_lines(path)
    header_models = []
    last_step, last_spectrum, last_scalars, measured = {}, {}, {}, set()
    ended = False
    for number, raw, line in lines:
        where = "%s:%d: " % (os.path.basename(path), number)
        if not isinstance(line, dict):
            problems.append(where + "not a JSON object")
            continue
        if not raw or list(line)[:1] != ["type"]:
            problems.append(where + "type is not the first key")
        kind = line.get("type")
        if number == 1:
            if kind != "run":
                problems.append(where + "the first line is not the run line")
            header_models = [m.get("id") for m in line.get("models", []) if isinstance(m, dict)]
            if len(set(header_models)) != len(header_models):
                problems.append(where + "a model id is listed twice")
            started = line.get("started")
            if started is not None and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", started):
                problems.append(where + "started %r is not ISO 8601 UTC" % started)
            continue
        if kind == "run":
            problems.append(where + "a second run line")
        if ended:
            problems.append(where + "a line after the end line")
        model, step = line.get("model"), line.get("step")
        if kind in ("step", "spectrum", "event", "scalars") and model is not None and model not in header_models:
            problems.append(where + "model %r is not in the header" % model)
        if kind == "step":
            if model in last_step and step <= last_step[model]:
                problems.append(where + "step %s of %s after step %s: steps must increase" % (step, model, last_step[model]))
            last_step[model] = step
            measured.add((model, step))
        elif kind == "spectrum":
            if model in last_spectrum and step <= last_spectrum[model]:
                problems.append(where + "spectrum step %s of %s after %s: steps must increase" % (step, model, last_spectrum[model]))
            last_spectrum[model] = step
            if (model, step) not in measured:
                problems.append(where + "a spectrum at step %s of %s, which has no step line before it" % (step, model))
            eigenvalues, weights = line.get("eigenvalues", []), line.get("weights", [])
            if weights and len(weights) != len(eigenvalues):
                problems.append(where + "%d weights for %d eigenvalues" % (len(weights), len(eigenvalues)))
            finite = [v for v in eigenvalues if v is not None]
            if finite != sorted(finite, reverse=True):
                problems.append(where + "eigenvalues not descending")
            if line.get("method") == "lanczos":
                d = line["density"]
                bins = len(d["counts"])
                if len(d["log10_edges"]) != bins + 1 or len(d["counts_uncertainty"]) != bins or len(d["residual_weights"]) != bins:
                    problems.append(where + "density arrays do not fit together")
                if d.get("marker_bin") is not None and d["marker_bin"] >= bins:
                    problems.append(where + "marker_bin past the bins")
                if len(eigenvalues) > line["mode_count"]:
                    problems.append(where + "more eigenvalues than mode_count")
        elif kind == "scalars":
            if model in last_scalars and step < last_scalars[model]:
                problems.append(where + "scalars step %s of %s after %s: scalars steps must not go back" % (step, model, last_scalars[model]))
            last_scalars[model] = step
        elif kind == "event":
            if line.get("event") not in KNOWN_EVENTS:
                problems.append(where + "event kind %r is not one docs/RECORD.md defines" % line.get("event"))
        elif kind == "end":
            ended = True
    return problems


@pytest.fixture(scope="session")
def validator():
    """The schema's validator, with JSON Schema's "integer" held to what the
    writers write: an int, never 5.0 (docs/RECORD.md: integers without fraction)."""
    try:
        import jsonschema
        from jsonschema import validators
    except ImportError:
        pytest.skip("the jsonschema package is not installed, so the records cannot be checked against "
                    "docs/record.schema.json: run scripts/install-python-deps.sh (or pip install jsonschema)")
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    Strict = validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    return Strict(schema)


def schema_problems(validator, path):
    return ["%s:%d: %s (at %s)" % (os.path.basename(path), number, error.message, "/".join(map(str, error.path)) or "the line")
            for number, _, line in read_lines(path) for error in validator.iter_errors(line)]


def assert_conforms(validator, path):
    problems = schema_problems(validator, path) + file_problems(path)
    assert not problems, "\n".join(problems[:20])


# ---------------------------------------------------------------- the probe's corpus

X = torch.linspace(-1, 1, 18).reshape(6, 3)
Y = torch.stack([X.sum(1).sin(), X.prod(1)], dim=1)


def mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


def train(model, probe, steps, parameters=None, poison_at=None, loss=None):
    optimizer = torch.optim.SGD(list(parameters or model.parameters()), lr=0.1)
    loss = loss or (lambda: 0.5 * (model(X) - Y).pow(2).sum(1).mean())
    probe.step(0)
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
        if step == poison_at:
            with torch.no_grad():
                model[2].weight.fill_(float("inf"))  # the next measurement is not finite
        probe.step(step)


@pytest.fixture(scope="module")
def probe_corpus(tmp_path_factory):
    """{name: (path, {model id: Probe.history})}: one record per feature, and the merged record."""
    folder = tmp_path_factory.mktemp("probe-records")
    corpus = {}

    def record(name, model_id, model, **options):
        path = str(folder / (name + ".jsonl"))
        return path, Probe(model, options.pop("x", X), options.pop("y", Y), every=options.pop("every", 1), out=path,
                           name=model_id, width=options.pop("width", 8), depth=1, **options)

    # Exact χ_net and exact spectra, an active model trained for 4 steps.
    model = mlp(1)
    path, probe = record("exact", "w8-active", model)
    with probe:
        train(model, probe, 4)
    corpus["exact"] = (path, {"w8-active": probe.history})

    # A Hutchinson χ_net, with its standard error; cross-entropy; no spectrum (the "spectrum" event).
    torch.manual_seed(2)
    classifier = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    path, probe = record("hutchinson", "w8-hutchinson", classifier, y=labels, loss="cross_entropy",
                         trace="hutchinson", hutchinson_vectors=4)
    with probe:
        train(classifier, probe, 3, loss=lambda: nn.functional.cross_entropy(classifier(X), labels))
    corpus["hutchinson"] = (path, {"w8-hutchinson": probe.history})

    # An exact χ_net whose spectrum is refused: m = 12 above spectrum_max_outputs = 4.
    model = mlp(3)
    path, probe = record("refused", "w8-refused", model, spectrum_max_outputs=4)
    with probe:
        train(model, probe, 2)
    corpus["refused"] = (path, {"w8-refused": probe.history})

    # A frozen model: only the readout trains (trainable="readout"), so χ_net stays constant.
    model = mlp(4)
    path, probe = record("frozen", "w8-frozen", model, trainable="readout")
    with probe:
        train(model, probe, 4, parameters=model[2].parameters())
    corpus["frozen"] = (path, {"w8-frozen": probe.history})

    # Matrix-free spectra (the top 4 of m = 12, asked for): mode_count, rest_weight, density, method_reason.
    model = mlp(8)
    path, probe = record("lanczos", "w8-lanczos", model, spectrum_method="lanczos", top_k=4, spectrum_share=None)
    with probe:
        train(model, probe, 2)
    corpus["lanczos"] = (path, {"w8-lanczos": probe.history})

    # A divergence: the readout becomes infinite after step 2.
    model = mlp(5)
    path, probe = record("diverged", "w8-diverged", model)
    with probe:
        train(model, probe, 4, poison_at=2)
    corpus["diverged"] = (path, {"w8-diverged": probe.history})

    # A model that fits its probe exactly: g = 0, χ_pos undefined (null), no mode weights.
    linear = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -2.0]]))
    xs = X[:, :2].contiguous()
    path, probe = record("fitted", "fitted", linear, x=xs, y=linear(xs).detach())
    with probe:
        probe.step(0)
    corpus["fitted"] = (path, {"fitted": probe.history})

    # The user's own scalars (probe.log), at measured steps and between them,
    # two calls at one step, a dict for a name with a slash, a non-finite value.
    model = mlp(8)
    path, probe = record("scalars", "w8-scalars", model, every=2)
    with probe:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        probe.step(0)
        probe.log(0, lr=0.1)
        for step in range(1, 5):
            optimizer.zero_grad()
            (0.5 * (model(X) - Y).pow(2).sum(1).mean()).backward()
            optimizer.step()
            probe.step(step)
            probe.log(step, {"val/loss": 1.0 / step}, accuracy=0.5 + step / 10)
            if step == 3:
                probe.log(step, lr=0.05, diverging=float("inf"))
    corpus["scalars"] = (path, {"w8-scalars": probe.history})
    # A log schedule and a held-out batch B that interferes at first (its
    # targets reverse the probe residual: χ_pos^{AB} < 0). Another size
    # (width 6) than the w8 models, so that claims' pairs stay as they were.
    torch.manual_seed(8)
    narrow = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2))
    with torch.no_grad():
        reversed_targets = 2 * narrow(X) - Y
    path, probe = record("cross-heldout", "w6-cross-heldout", narrow, every=LogSchedule(points_per_decade=4, window=2),
                         width=6, cross_inputs=X, cross_targets=reversed_targets)
    with probe:
        train(narrow, probe, 12)
    corpus["cross-heldout"] = (path, {"w6-cross-heldout": probe.history})

    # B from the training batches (cross="train"), Hutchinson traces on both
    # sides, one batch the model cannot run (an "error" event, no cross
    # fields at that step) and one step without a batch.
    torch.manual_seed(9)
    classifier = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 3))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    path, probe = record("cross-train", "w6-cross-train", classifier, y=labels, loss="cross_entropy", cross="train",
                         width=6, trace="hutchinson", hutchinson_vectors=4)
    optimizer = torch.optim.SGD(classifier.parameters(), lr=0.1)
    batches = {step: (X[step % 3:step % 3 + 4], labels[step % 3:step % 3 + 4]) for step in range(6)}
    batches[3] = (torch.randn(4, 5), labels[:4])  # five features: the model cannot run it
    with probe, warnings.catch_warnings():
        warnings.simplefilter("ignore", ProbeWarning)
        for step in range(6):
            probe.step(step, cross_batch=batches[step] if step != 4 else None)
            optimizer.zero_grad()
            nn.functional.cross_entropy(classifier(X), labels).backward()
            optimizer.step()
    corpus["cross-train"] = (path, {"w6-cross-train": probe.history})

    # Both features at once: a Hutchinson χ_net (so the spectra are
    # matrix-free by the automatic rule, the top 4 of m = 18) with a held-out
    # batch B (Hutchinson on its side too) on a log schedule.
    torch.manual_seed(10)
    classifier = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 3))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    path, probe = record("cross-lanczos", "w6-cross-lanczos", classifier, y=labels, loss="cross_entropy", width=6,
                         trace="hutchinson", hutchinson_vectors=4, top_k=4, spectrum_share=None,
                         every=LogSchedule(points_per_decade=2, window=1),
                         cross_inputs=X.flip(0), cross_targets=labels.flip(0))
    with probe:
        train(classifier, probe, 4, loss=lambda: nn.functional.cross_entropy(classifier(X), labels))
    corpus["cross-lanczos"] = (path, {"w6-cross-lanczos": probe.history})

    # The budget (test_budget's deterministic-cost model on a fake clock):
    # budget events for the measurements it left out, budget_reason on the
    # step lines, the per-layer split and the header's layers; then the job
    # "restarts" and resumes the record (a resume event), with batch=.
    from test_budget import FakeClock, make_probe, train as train_on_clock
    path = str(folder / "budget.jsonl")
    clock = FakeClock()
    probe = make_probe(clock, out=path, every=10, budget=0.05, name="budgeted", top_k=4)
    train_on_clock(probe, clock, 200, 40.0)
    probe.close()
    clock = FakeClock()
    probe = make_probe(clock, out=path, every=10, budget=0.05, name="budgeted", top_k=4, resume=True, batch=8)
    steps = list(range(150, 300))
    for step in steps:
        clock.now += 40.0
        probe.step(step)
    probe.close()
    corpus["budget"] = (path, {"budgeted": probe.history})

    merged = str(folder / "merged.jsonl")
    names = ["exact", "hutchinson", "refused", "frozen", "diverged", "cross-heldout", "cross-train"]
    merge_records([corpus[name][0] for name in names], merged)
    corpus["merged"] = (merged, {k: v for name in names for k, v in corpus[name][1].items()})
    return corpus


PROBE_RECORDS = ["exact", "hutchinson", "refused", "frozen", "diverged", "fitted", "lanczos", "scalars",
                 "cross-heldout", "cross-train", "cross-lanczos", "budget", "merged"]


@pytest.mark.parametrize("name", PROBE_RECORDS)
def test_probe_records_follow_the_schema(validator, probe_corpus, name):
    assert_conforms(validator, probe_corpus[name][0])


def test_the_probe_corpus_covers_every_feature(probe_corpus):
    def lines(name):
        return [line for _, _, line in read_lines(probe_corpus[name][0])]

    exact = lines("exact")
    # What wrote it, for replay's header: the probe, its PyTorch and device (issue 33, defect 7).
    assert exact[0]["tool"].startswith("spectop-probe ") and exact[0]["torch"] == torch.__version__ and exact[0]["device"] == "cpu"
    steps = [l for l in exact if l["type"] == "step"]
    assert [s["step"] for s in steps] == [0, 1, 2, 3, 4]
    assert not any("chi_net_estimate" in s or "chi_net_stderr" in s for s in steps)
    assert [s["step"] for s in exact if s["type"] == "spectrum"] == [0, 1, 2, 3, 4]
    # budget=None (this session's default): exact wherever the Jacobian fits spectrum_bytes.
    assert all(s["method"] == "exact" and "budget = None" in s["method_reason"] for s in exact if s["type"] == "spectrum")

    lanczos = [l for l in lines("lanczos") if l["type"] == "spectrum"]
    assert [s["step"] for s in lanczos] == [0, 1, 2]

    budget = lines("budget")
    events = [l["event"] for l in budget if l["type"] == "event"]
    assert "budget" in events and events.count("resume") == 1
    assert any("budget_reason" in l for l in budget if l["type"] == "step")
    assert all(len(l["layer_chi_net"]) == len(budget[0]["models"][0]["layers"]) for l in budget if l["type"] == "step")
    budget_steps = [l["step"] for l in budget if l["type"] == "step"]
    assert budget_steps == sorted(set(budget_steps)) and budget_steps[-1] > 200
    for s in lanczos:
        assert s["method"] == "lanczos" and s["mode_count"] == 12 and len(s["eigenvalues"]) == 4
        assert s["method_reason"] == 'spectrum_method = "lanczos" (m = 12 outputs)'
        assert sum(s["weights"]) + s["rest_weight"] == pytest.approx(1, abs=1e-9)
        d = s["density"]
        assert sum(d["counts"]) + d["near_zero_count"] == 12  # a complete Krylov space: the exact counts
        assert len(d["log10_edges"]) == len(d["counts"]) + 1 == len(d["residual_weights"]) + 1

    hutchinson = lines("hutchinson")
    assert hutchinson[0]["data"]["loss"] == "cross_entropy" and hutchinson[0]["data"]["outputs"] == 3
    estimates = [l for l in hutchinson if l["type"] == "step"]
    assert estimates and all(s["chi_net_estimate"] is True and s["chi_net_stderr"] > 0 for s in estimates)
    assert all(s["chi_net_vectors"] == 4 for s in estimates)
    assert not [l for l in hutchinson if l["type"] == "spectrum"]

    # The refused spectrum's reason is the event kind the engine writes and every reader reads: "spectrum".
    for name, reason in (("hutchinson", "Hutchinson estimate"), ("refused", "above spectrum_max_outputs = 4")):
        events = [l for l in lines(name) if l["type"] == "event"]
        assert len(events) == 1, events
        assert events[0]["event"] == "spectrum" and reason in events[0]["detail"], events[0]
        assert events[0]["model"] and events[0]["step"] == 0

    frozen = lines("frozen")
    assert frozen[0]["models"][0]["trainable"] == "readout" and frozen[0]["models"][0]["mode"] == "frozen"
    assert frozen[0]["models"][0]["trainable_params"] == 8 * 2 + 2 < frozen[0]["models"][0]["params"]
    assert len({l["chi_net"] for l in frozen if l["type"] == "step"}) == 1

    diverged = lines("diverged")
    last = [l for l in diverged if l["type"] == "step"][-1]
    assert last["step"] == 2 and all(last[key] is None for key in STEP_FIELDS)
    events = [l for l in diverged if l["type"] == "event"]
    assert [(e["event"], e["model"], e["step"]) for e in events] == [("diverged", "w8-diverged", 2)]
    assert "not finite" in events[0]["detail"]

    fitted = [l for l in lines("fitted") if l["type"] in ("step", "spectrum")]
    assert fitted[0]["chi_pos"] is None and fitted[1]["weights"] == [] and len(fitted[1]["eigenvalues"]) == 6

    # The process line for watch: one usage line, with the first measurement (the next would be 5 s later).
    usage = [(k, l) for k, l in enumerate(exact) if l["type"] == "usage"]
    assert len(usage) == 1, usage
    index, first = usage[0]
    assert exact[index - 2]["type"] == "step" and exact[index - 2]["step"] == 0 and exact[index - 1]["type"] == "spectrum"
    assert first["rss_bytes"] > 0 and first["cpu_percent"] >= 0 and "model" not in first
    assert "step_seconds" not in first  # no training step timed before step 0
    assert "gpu_memory_bytes" not in first and "gpu_utilization" not in first  # CPU only

    scalars = [l for l in lines("scalars") if l["type"] == "scalars"]
    assert [l["step"] for l in scalars] == [0, 1, 2, 3, 3, 4]
    assert scalars[0]["values"] == {"lr": 0.1}
    assert scalars[1]["values"] == {"val/loss": 1.0, "accuracy": 0.6}
    assert scalars[4]["values"] == {"lr": 0.05, "diverging": None}
    assert all(l["model"] == "w8-scalars" and l["wall"] >= 0 for l in scalars)
    measured = [l["step"] for l in lines("scalars") if l["type"] == "step"]
    assert measured == [0, 2, 4]  # scalars at steps 1 and 3 stand without a step line
    # The normalised factors on every step line of every record: n·χ_loss and χ_net/n.
    for name in ("exact", "hutchinson", "refused", "frozen", "diverged", "fitted", "lanczos", "cross-heldout",
                 "cross-train", "cross-lanczos"):
        for s in (l for l in lines(name) if l["type"] == "step"):
            assert s["rows"] == 6, (name, s)
            if s["chi_loss"] is not None:
                assert s["chi_loss_normalized"] == 6 * s["chi_loss"] and s["chi_net_normalized"] == s["chi_net"] / 6
            else:
                assert s["chi_loss_normalized"] is None and s["chi_net_normalized"] is None
        assert lines(name)[0]["models"][0]["schedule"]["kind"] == ("log" if name in ("cross-heldout", "cross-lanczos")
                                                                   else "every")

    heldout = lines("cross-heldout")
    assert heldout[0]["models"][0]["cross"] == "heldout"
    assert heldout[0]["models"][0]["schedule"] == {"kind": "log", "points_per_decade": 4, "window": 2}
    steps = [l for l in heldout if l["type"] == "step"]
    assert [s["step"] for s in steps] == LogSchedule(points_per_decade=4, window=2).steps(12) == [0, 1, 2, 3, 4, 5, 6, 10, 11]
    assert [s["window"] for s in steps] == [0, 1, 1, 3, 3, 5, 5, 10, 10]
    assert all(all(key in s for key in CROSS_FIELDS) and s["cross_rows"] == 6 for s in steps)
    assert steps[0]["cross_chi_pos"] < 0 and abs(steps[0]["cross_chi_pos"] + steps[0]["chi_pos"]) < 1e-6
    assert all(-1 <= s["cross_chi_pos"] <= 1 for s in steps)
    assert not any("cross_chi_net_estimate" in s for s in steps)

    crossed = lines("cross-train")
    assert crossed[0]["models"][0]["cross"] == "train"
    steps = [l for l in crossed if l["type"] == "step"]
    assert [("cross_chi_pos" in s) for s in steps] == [True, True, True, False, False, True]
    assert [s["cross_rows"] for s in steps if "cross_rows" in s] == [4, 4, 4, 4]
    assert all(s["cross_chi_net_estimate"] is True and s["cross_chi_net_stderr"] > 0 for s in steps if "cross_rows" in s)
    events = [l for l in crossed if l["type"] == "event"]
    assert [(e["event"], e.get("step")) for e in events] == [("spectrum", 0), ("error", 3)]
    assert "cross-batch quantities could not be measured" in events[1]["detail"]

    both = lines("cross-lanczos")
    assert both[0]["models"][0]["cross"] == "heldout"
    steps = [l for l in both if l["type"] == "step"]
    assert [s["step"] for s in steps] == LogSchedule(points_per_decade=2, window=1).steps(4) == [0, 1, 3]
    assert [s["window"] for s in steps] == [0, 1, 3]
    assert all(all(key in s for key in CROSS_FIELDS) and s["cross_chi_net_estimate"] is True for s in steps)
    assert all(s["chi_net_estimate"] is True for s in steps)
    spectra = [l for l in both if l["type"] == "spectrum"]
    assert [s["step"] for s in spectra] == [0, 1, 3]
    for s in spectra:
        assert s["method"] == "lanczos" and s["mode_count"] == 18 and len(s["eigenvalues"]) == 4
        assert "Hutchinson estimate" in s["method_reason"]
    assert not [l for l in both if l["type"] == "event"]

    merged = lines("merged")
    assert [m["id"] for m in merged[0]["models"]] == ["w8-active", "w8-hutchinson", "w8-refused", "w8-frozen", "w8-diverged",
                                                     "w6-cross-heldout", "w6-cross-train"]
    assert merged[-1]["type"] == "end" and [l["type"] for l in merged].count("end") == 1
    assert "no_spectrum" not in open(probe_corpus["merged"][0], encoding="utf-8").read()


def test_the_probes_usage_lines_say_what_the_process_costs(tmp_path, monkeypatch):
    """Step time against the loop's own clock, resident memory against the
    kernel's peak for the process, CPU against process_time; one usage line
    per interval; readers keep the figures (spectop check passes them)."""
    from spectop_probe import record as record_module
    monkeypatch.setattr(record_module, "USAGE_INTERVAL", 0.0)  # a usage line with every measurement
    model = mlp(3)
    path = str(tmp_path / "usage.jsonl")
    pause = 0.03
    with Probe(model, X, Y, every=2, out=path, name="w8-usage", width=8, depth=1) as probe:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        probe.step(0)
        for step in range(1, 7):
            optimizer.zero_grad()
            (0.5 * (model(X) - Y).pow(2).sum(1).mean()).backward()
            optimizer.step()
            time.sleep(pause)  # each training step takes at least this long
            probe.step(step)
    lines = [line for _, _, line in read_lines(path)]
    usage = [l for l in lines if l["type"] == "usage"]
    assert len(usage) == 4  # measurements at steps 0, 2, 4, 6
    # The kernel's own figure in other units (kB, /proc/self/status): a page or unit slip is off by 1000x or more.
    with open("/proc/self/status") as status:
        resident = int(next(l for l in status if l.startswith("VmRSS:")).split()[1]) * 1024
    for line in usage:
        assert list(line)[:2] == ["type", "wall"]
        assert 0.8 * resident < line["rss_bytes"] < 1.25 * resident, (line["rss_bytes"], resident)
        assert line["cpu_percent"] >= 0
    timed = [l["step_seconds"] for l in usage[1:]]
    assert all(pause <= t < pause + 1.0 for t in timed), timed
    walls = [l["wall"] for l in lines if "wall" in l and l["type"] != "run"]
    assert walls == sorted(walls)


# ---------------------------------------------------------------- the engine's corpus


@pytest.fixture(scope="module")
def engine_corpus(spectop_bin, tmp_path_factory):
    """Records spectop's engine writes: {name: path}."""
    folder = tmp_path_factory.mktemp("engine-records")
    tiny = subprocess.run([spectop_bin, "run", "--preset", "tiny", "--print-config"], capture_output=True,
                          text=True, timeout=60, check=True).stdout

    def edited(name, replacements):
        text = tiny
        for old, new in replacements:
            assert old in text, "the tiny preset has no %r line any more" % old
            text = text.replace(old, new)
        path = folder / (name + ".toml")
        path.write_text(text)
        return ["--config", str(path)]

    runs = {
        "tiny": (["--preset", "tiny"], 20),
        # lr 1.0 without momentum: w32-active diverges live (Tests/SpecTopIntegrationTests/ReliabilityTests.swift).
        "diverging": (edited("diverging", [("lr = 0.1 ", "lr = 1.0 "), ("momentum = 0.9 ", "momentum = 0.0 ")]), 40),
        # The reach preset's probes are within the exact limit: exact spectra.
        "reach": (["--preset", "reach"], 5),
        # Above the exact limit: matrix-free (lanczos) spectra with their density.
        "lanczos": (edited("lanczos", [("exact_limit = 1850 ", "exact_limit = 32 "), ("top_k = 32 ", "top_k = 8 ")]), 10),
        # A Hutchinson trace: estimated χ_net and a "spectrum" event per model.
        "hutchinson": (edited("hutchinson", [('trace = "exact" ', 'trace = "hutchinson" ')]), 10),
        # A held-out batch B on a log schedule (4 centres a decade, windows of 2), cut at the 30-step budget.
        "cross-log": (edited("cross-log", [('cross = "off"', 'cross = "heldout"'), ('schedule = "every"', 'schedule = "log"'),
                                           ('points_per_decade = 10 ', 'points_per_decade = 4 '), ('window = 5 ', 'window = 2 ')]), 30),
        # B from the training batches, with Hutchinson traces.
        "cross-train": (edited("cross-train", [('cross = "off"', 'cross = "train"'), ('trace = "exact" ', 'trace = "hutchinson" ')]), 6),
    }
    corpus = {}
    for name, (source, steps) in runs.items():
        out = str(folder / (name + ".jsonl"))
        result = subprocess.run([spectop_bin, "run"] + source + ["--steps", str(steps), "--headless", "--threads", "1",
                                                                 "--out", out], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, "%s: %s" % (name, result.stderr)
        corpus[name] = out
    return corpus


ENGINE_RECORDS = ["tiny", "diverging", "reach", "lanczos", "hutchinson", "cross-log", "cross-train"]


@pytest.mark.parametrize("name", ENGINE_RECORDS)
def test_engine_records_follow_the_schema(validator, engine_corpus, name):
    assert_conforms(validator, engine_corpus[name])


def test_the_engine_corpus_covers_what_it_should(engine_corpus):
    def lines(name):
        return [line for _, _, line in read_lines(engine_corpus[name])]

    tiny = lines("tiny")
    header = tiny[0]
    assert header["version"] == 1 and header["tool"].startswith("spectop ")
    for key in ("seed", "preset", "config", "data", "models", "blas", "workers", "started"):
        assert key in header, key
    assert {m["mode"] for m in header["models"]} == {"active", "frozen"}
    steps = [l for l in tiny if l["type"] == "step"]
    assert all(len(s["layer_chi_net"]) == 3 and len(s["layer_grad_sq"]) == 3 for s in steps)
    assert tiny[-1] == {"type": "end", "reason": "steps", "wall": tiny[-1]["wall"]}

    diverged = [l for l in lines("diverging") if l["type"] == "event" and l["event"] == "diverged"]
    assert [e["model"] for e in diverged] == ["w32-active"] and "not finite" in diverged[0]["detail"]

    assert {l.get("method") for l in lines("reach") if l["type"] == "spectrum"} == {"exact"}

    lanczos = [l for l in lines("lanczos") if l["type"] == "spectrum" and l.get("method") == "lanczos"]
    assert lanczos and all(len(l["eigenvalues"]) == 8 < l["mode_count"] and "density" in l for l in lanczos)

    hutchinson = lines("hutchinson")
    assert all(l.get("chi_net_estimate") is True for l in hutchinson if l["type"] == "step")

    # The engine's log schedule is the probe's, step for step, plus the budget's last step (in no window).
    crossed = lines("cross-log")
    schedule = LogSchedule(points_per_decade=4, window=2)
    n = crossed[0]["data"]["probe"]
    for model in crossed[0]["models"]:
        assert model["schedule"] == {"kind": "log", "points_per_decade": 4, "window": 2} and model["cross"] == "heldout"
        steps = [l for l in crossed if l["type"] == "step" and l["model"] == model["id"]]
        assert [s["step"] for s in steps] == schedule.steps(30) + [30]
        assert [s.get("window") for s in steps] == [schedule.window_of(s["step"]) for s in steps]
        for s in steps:
            assert all(key in s for key in CROSS_FIELDS) and s["rows"] == n and s["cross_rows"] == n
            assert s["chi_loss_normalized"] == pytest.approx(n * s["chi_loss"], rel=1e-15)
            assert s["chi_net_normalized"] == pytest.approx(s["chi_net"] / n, rel=1e-15)
            assert -1 <= s["cross_chi_pos"] <= 1
            assert s["cross_chi_pos"] == pytest.approx(s["cross_grad_dot"] / (s["cross_chi_loss"] * s["cross_chi_net"]), rel=1e-12)
    assert any(s["cross_chi_pos"] < 0 for s in crossed if s["type"] == "step"), "a held-out batch interferes at some step"

    trained = lines("cross-train")
    assert {m["cross"] for m in trained[0]["models"]} == {"train"}
    steps = [l for l in trained if l["type"] == "step"]
    assert steps and all(s["cross_chi_net_estimate"] is True and s["cross_rows"] == 32 for s in steps)
    events = [l for l in hutchinson if l["type"] == "event" and l["event"] == "spectrum"]
    assert len(events) == len(hutchinson[0]["models"]) and all("hutchinson" in e["detail"] for e in events)


# ---------------------------------------------------------------- across languages


def run(spectop_bin, *arguments, timeout=120):
    return subprocess.run([spectop_bin] + list(arguments), capture_output=True, text=True, timeout=timeout)


def csv_value(cell):
    return None if cell == "" else float(cell)


def written(value):
    """A value as the probe writes it: None for undefined or non-finite."""
    return None if value is None or not math.isfinite(value) else float(value)


def export_rows(spectop_bin, record, tmp_path):
    out = tmp_path / (os.path.basename(record) + ".csv")
    result = run(spectop_bin, "export", record, "--csv", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as f:
        return list(csv.DictReader(f))


def test_spectop_export_gives_back_what_the_probe_measured(spectop_bin, probe_corpus, tmp_path):
    """Every step's numbers cross from Probe.history through the record and
    spectop's reader into the CSV bit for bit (float64, shortest round trip)."""
    path, histories = probe_corpus["merged"]
    rows = export_rows(spectop_bin, path, tmp_path)
    order = []
    for row in rows:
        if row["model"] not in order:
            order.append(row["model"])
    assert order == list(histories), "the CSV's models are not the header's, in its order"
    compared = 0
    for model_id, history in histories.items():
        model_rows = [row for row in rows if row["model"] == model_id]
        assert [int(row["step"]) for row in model_rows] == [m.step for m in history], model_id
        for row, measurement in zip(model_rows, history):
            for key in STEP_FIELDS:
                assert csv_value(row[key]) == written(getattr(measurement, key)), (model_id, measurement.step, key, row[key])
                compared += 1
            assert row["chi_net_estimate"] == ("true" if measurement.chi_net_estimate else "false")
            expected = written(measurement.chi_net_stderr) if measurement.chi_net_estimate else None
            assert csv_value(row["chi_net_stderr"]) == expected, (model_id, measurement.step)
            spectrum = measurement.spectrum if measurement.diverged is None else None
            for key in ("chi_pos_exact", "lambda_eff", "r_eff", "effective_rank"):
                assert csv_value(row[key]) == (written(getattr(spectrum, key)) if spectrum else None), (model_id, key)
    assert compared >= 5 * 20
    # The lines' wall times too (the probe's history has none: compare with the record).
    walls = [l["wall"] for _, _, l in read_lines(path) if l["type"] == "step"]
    assert sorted(float(row["wall"]) for row in rows) == sorted(walls)


@pytest.mark.parametrize("name, model_id", [("lanczos", "w8-lanczos"), ("cross-lanczos", "w6-cross-lanczos")])
def test_spectop_export_reads_the_probes_matrix_free_spectra(spectop_bin, probe_corpus, tmp_path, name, model_id):
    """spectop's reader takes the probe's lanczos lines as it takes the
    engine's: their r_eff, λ_eff, χ_pos and effective rank come back bit for
    bit, and beside them, on a crossed log-scheduled record, the cross
    fields of the same steps."""
    path, histories = probe_corpus[name]
    rows = export_rows(spectop_bin, path, tmp_path)
    history = histories[model_id]
    assert [int(row["step"]) for row in rows] == [m.step for m in history]
    for row, measurement in zip(rows, history):
        assert measurement.spectrum.method == "lanczos"
        for key in ("chi_pos_exact", "lambda_eff", "r_eff", "effective_rank"):
            assert csv_value(row[key]) == written(getattr(measurement.spectrum, key)), key
        if measurement.cross is not None:
            for key in ("chi_pos", "chi_net", "grad_dot"):
                assert csv_value(row["cross_" + key]) == written(getattr(measurement.cross, key)), key


def test_spectop_exports_a_record_with_user_scalars(spectop_bin, probe_corpus, tmp_path):
    """A record with scalars lines exports its measurements as one without
    them; where this spectop exports the user's columns (`user:NAME`,
    docs/RECORD.md), they hold the logged values, the later one at a step."""
    path, histories = probe_corpus["scalars"]
    rows = export_rows(spectop_bin, path, tmp_path)
    history = {m.step: m for m in histories["w8-scalars"]}
    measured = [row for row in rows if int(row["step"]) in history]
    assert [int(row["step"]) for row in measured] == sorted(history)
    for row in measured:
        for key in STEP_FIELDS:
            assert csv_value(row[key]) == written(getattr(history[int(row["step"])], key)), (row["step"], key)
    user = [column for column in rows[0] if column.startswith("user:")] if rows else []
    if user:
        logged = {}
        for _, _, line in read_lines(path):
            if line["type"] == "scalars":
                logged.setdefault(line["step"], {}).update(line["values"])
        assert sorted(int(row["step"]) for row in rows) == sorted(set(history) | set(logged))
        for row in rows:
            for column in user:
                assert csv_value(row[column]) == logged.get(int(row["step"]), {}).get(column[5:]), (row["step"], column)


def test_spectop_claims_reads_modes_sizes_and_the_divergence(spectop_bin, probe_corpus):
    path, histories = probe_corpus["merged"]
    result = run(spectop_bin, "claims", "--json", path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["finished"] is True
    assert any("w8-diverged" in note for note in report["notes"]), report["notes"]
    named = json.dumps([c.get("conditions") for c in report["claims"]])
    assert "w8-diverged" not in named  # left out of every claim
    # Claim 4 pairs the frozen model (mode "frozen" from the header) with its
    # active twin of the same size ("params"), from the χ_net and loss the probe wrote.
    claim = next(c for c in report["claims"] if c["number"] == 4)
    values = {c["number"]: c["values"] for c in claim["conditions"]}
    frozen, active = histories["w8-frozen"], histories["w8-active"]
    nets = [m.chi_net for m in frozen]
    assert values["4.1"] == {"w8-frozen": max(abs(n - nets[0]) / nets[0] for n in nets)}
    assert values["4.2"] == {"w8-frozen vs w8-active": frozen[-1].loss / active[-1].loss}
    assert claim["conditions"][0]["pass"] is True


def screen_text(spectop_bin, arguments, wanted, settle=0.0, timeout=20.0):
    """What `spectop replay`/`watch` draws in a pseudo-terminal, escape
    sequences turned into line breaks: read until `wanted` appears (then
    `settle` seconds more) or `timeout`, then q."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios
    pid, fd = pty.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.environ.update({"TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
            os.execv(spectop_bin, [spectop_bin] + arguments)
        finally:
            os._exit(127)
    raw = b""
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 220, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        deadline, found = time.time() + timeout, None
        while time.time() < (deadline if found is None else min(deadline, found + settle)):
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    raw += os.read(fd, 1 << 16)
                except OSError:
                    break
            if found is None and wanted in plain(raw):
                found = time.time()
        os.write(fd, b"q")
        end = time.time() + 10
        while time.time() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                raw += chunk
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = 0
                break
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    text = plain(raw)
    refusal = re.search(r"spectop: [^\n]*(terminal|terminfo)[^\n]*", text)
    if wanted not in text and refusal:
        pytest.skip("the monitor cannot run in a pseudo-terminal here: %s" % refusal.group(0))
    return text


def plain(raw):
    text = raw.decode("utf-8", "replace")
    return re.sub(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])", "\n", text)


def test_replay_and_watch_show_why_the_probe_took_no_spectrum(spectop_bin, probe_corpus, tmp_path):
    """The reason travels as the "spectrum" event, which spectop's readers
    show where the histogram would be; an unknown kind would not be shown."""
    refused = probe_corpus["refused"][0]
    reason = "m = n*C = 12 outputs is above spectrum_max_outputs = 4"
    assert reason in screen_text(spectop_bin, ["replay", refused], reason)
    hutchinson = probe_corpus["hutchinson"][0]
    reason = "Hutchinson estimate (m = 18 outputs): no exact spectrum"
    assert reason in screen_text(spectop_bin, ["watch", hutchinson], reason)
    # The control: the same record with the kind renamed shows the model but not the reason.
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(open(refused, encoding="utf-8").read().replace('"event":"spectrum"', '"event":"some_new_kind"'))
    screen = screen_text(spectop_bin, ["replay", str(renamed)], "w8-refused", settle=1.5)
    assert "w8-refused" in screen and "spectrum_max_outputs" not in screen


def check_command(spectop_bin):
    """`spectop check` when this spectop has it (an older one parses `check`
    as `run`'s argument and prints run's help)."""
    result = run(spectop_bin, "check", "--help")
    if result.returncode != 0 or not re.search(r"USAGE: spectop check\b", result.stdout + result.stderr):
        pytest.skip("this spectop (%s) has no `check` command yet: the record checks by spectop itself are skipped"
                    % spectop_bin)


def test_spectop_check_passes_every_record(spectop_bin, probe_corpus, engine_corpus):
    check_command(spectop_bin)
    failures = []
    for path in [probe_corpus[name][0] for name in PROBE_RECORDS] + [engine_corpus[name] for name in ENGINE_RECORDS]:
        result = run(spectop_bin, "check", path)
        if result.returncode != 0:
            failures.append("exit %d: %s%s" % (result.returncode, result.stdout, result.stderr))
    assert not failures, "".join(failures)


# ---------------------------------------------------------------- not vacuous


def mutated(source, target, change):
    """A copy of the record with the first line `change` alters changed (change returns None to leave it)."""
    lines = read_lines(source)
    out, done = [], False
    for _, raw, line in lines:
        new = None if done else change(dict(line))
        if new is not None:
            done = True
            raw = json.dumps(new, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
        out.append(raw)
    assert done, "no line to change"
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return str(target)


def first(kind, edit, **where):
    def change(line):
        if line.get("type") != kind or any(line.get(k) != v for k, v in where.items()):
            return None
        edit(line)
        return line
    return change


BROKEN = {
    "a step line without model": first("step", lambda l: l.pop("model")),
    "a step as a string": first("step", lambda l: l.update(step=str(l["step"]))),
    "a step with a fraction": first("step", lambda l: l.update(step=l["step"] + 0.5)),
    "an integral step written as a float": first("step", lambda l: l.update(step=float(l["step"]))),
    "a negative step": first("step", lambda l: l.update(step=-1)),
    "a loss as a string": first("step", lambda l: l.update(loss=str(l["loss"]))),
    "a step line without chi_pos": first("step", lambda l: l.pop("chi_pos")),
    "a negative chi_net": first("step", lambda l: l.update(chi_net=-1.0)),
    "chi_net_estimate as a number": first("step", lambda l: l.update(chi_net_estimate=1)),
    "an event without its kind": first("event", lambda l: l.pop("event")),
    "a header of version 2": first("run", lambda l: l.update(version=2)),
    "a header without models": first("run", lambda l: l.pop("models")),
    "a model without an id": first("run", lambda l: l["models"][0].pop("id")),
    "an unknown mode": first("run", lambda l: l["models"][0].update(mode="lazy")),
    "an unknown spectrum method": first("spectrum", lambda l: l.update(method="arnoldi")),
    "a lanczos spectrum without its density": first("spectrum", lambda l: l.update(method="lanczos")),
    "an end line without a reason": first("end", lambda l: l.pop("reason")),
    "rows written as a float": first("step", lambda l: l.update(rows=float(l["rows"]))),
    "rows of zero": first("step", lambda l: l.update(rows=0)),
    "normalised factors without rows": first("step", lambda l: l.pop("rows")),
    "a negative chi_net_normalized": first("step", lambda l: l.update(chi_net_normalized=-1.0)),
    "a window as a string": first("step", lambda l: l.update(window="5"), model="w6-cross-heldout"),
    "a cross field without the others": first("step", lambda l: l.pop("cross_rows"), model="w6-cross-heldout"),
    "cross fields without cross_chi_pos": first("step", lambda l: l.pop("cross_chi_pos"), model="w6-cross-heldout"),
    "a cross_chi_pos as a string": first("step", lambda l: l.update(cross_chi_pos="-0.5"), model="w6-cross-heldout"),
    "a negative cross_chi_net": first("step", lambda l: l.update(cross_chi_net=-2.0), model="w6-cross-heldout"),
    "a negative cross_chi_loss": first("step", lambda l: l.update(cross_chi_loss=-2.0), model="w6-cross-heldout"),
    "cross_rows written as a float": first("step", lambda l: l.update(cross_rows=4.0), model="w6-cross-train"),
    "cross_chi_net_estimate as a number": first("step", lambda l: l.update(cross_chi_net_estimate=1), model="w6-cross-train"),
    "an estimate flag without the cross fields": first("step", lambda l: l.update(cross_chi_net_estimate=True), model="w8-active"),
    "a vector count without an estimate": first("step", lambda l: l.update(chi_net_vectors=4), model="w8-active"),
    "an estimate of one vector": first("step", lambda l: l.update(chi_net_vectors=1), model="w8-hutchinson"),
    "a schedule without its kind": first("run", lambda l: l["models"][0]["schedule"].pop("kind")),
    "an every schedule without every": first("run", lambda l: l["models"][0]["schedule"].pop("every")),
    "a log schedule without its window": first("run", lambda l: l["models"][5]["schedule"].pop("window")),
    "a schedule window of 0": first("run", lambda l: l["models"][5]["schedule"].update(window=0)),
    "a cross source as a number": first("run", lambda l: l["models"][5].update(cross=1)),
}

# Broken scalars lines, mutated from the "scalars" record.
BROKEN_SCALARS = {
    "a scalars line without model": first("scalars", lambda l: l.pop("model")),
    "a scalars line without values": first("scalars", lambda l: l.pop("values")),
    "empty values": first("scalars", lambda l: l.update(values={})),
    "a value as a string": first("scalars", lambda l: l.update(values={"acc": "0.5"})),
    "a value as a list": first("scalars", lambda l: l.update(values={"acc": [0.5]})),
    "an empty name": first("scalars", lambda l: l.update(values={"": 0.5})),
    "a scalars step as a string": first("scalars", lambda l: l.update(step=str(l["step"]))),
    "a scalars line without wall": first("scalars", lambda l: l.pop("wall")),
}

ALLOWED = {
    "an unknown field": first("step", lambda l: l.update(chi_new=1.5)),
    "an unknown line type": first("step", lambda l: l.update(type="checkpoint")),
    "an unknown event kind": first("event", lambda l: l.update(event="some_new_kind")),
    "an unknown header field": first("run", lambda l: l.update(host="node7")),
    "chi_net_stderr null": first("step", lambda l: l.update(chi_net_stderr=None)),
    "a user scalar named like a step field": first("step", lambda l: l.update(type="scalars", values={"loss": 1.0})),
    "an undefined cross_chi_pos": first("step", lambda l: l.update(cross_chi_pos=None), model="w6-cross-heldout"),
    "a negative cross_grad_dot": first("step", lambda l: l.update(cross_grad_dot=-3.5), model="w6-cross-heldout"),
    "a step without the normalised factors": first("step", lambda l: [l.pop(k) for k in NORMALISED_FIELDS]),
    "an unknown schedule kind": first("run", lambda l: l["models"][0].update(schedule={"kind": "cosine"})),
    "an unknown cross source": first("run", lambda l: l["models"][5].update(cross="validation-set")),
}


@pytest.mark.parametrize("mutation", sorted(BROKEN))
def test_a_broken_line_fails_the_schema(validator, probe_corpus, tmp_path, mutation):
    path = mutated(probe_corpus["merged"][0], tmp_path / "broken.jsonl", BROKEN[mutation])
    assert schema_problems(validator, path), "the schema accepts %s" % mutation


@pytest.mark.parametrize("mutation", sorted(BROKEN_SCALARS))
def test_a_broken_scalars_line_fails_the_schema(validator, probe_corpus, tmp_path, mutation):
    path = mutated(probe_corpus["scalars"][0], tmp_path / "broken.jsonl", BROKEN_SCALARS[mutation])
    assert schema_problems(validator, path), "the schema accepts %s" % mutation


def test_the_file_rules_catch_scalars_that_go_back(probe_corpus, tmp_path):
    lines = open(probe_corpus["scalars"][0], encoding="utf-8").read().splitlines()
    at = [k for k, line in enumerate(lines) if '"type":"scalars"' in line]
    back = lines[at[2]].replace('"step":2,', '"step":1,', 1)
    assert '"step":1,' in back
    repeated = tmp_path / "repeated.jsonl"
    repeated.write_text("\n".join(lines[:at[2] + 1] + [lines[at[2]]] + lines[at[2] + 1:]) + "\n")
    assert not file_problems(str(repeated))  # the same step twice is allowed
    going_back = tmp_path / "going-back.jsonl"
    going_back.write_text("\n".join(lines[:at[2] + 1] + [back] + lines[at[2] + 1:]) + "\n")
    assert any("must not go back" in p for p in file_problems(str(going_back)))


def test_merge_records_keeps_the_scalars(validator, probe_corpus, tmp_path):
    out = str(tmp_path / "merged-scalars.jsonl")
    merge_records([probe_corpus["exact"][0], probe_corpus["scalars"][0]], out)
    assert_conforms(validator, out)
    kept = [line for _, _, line in read_lines(out) if line["type"] == "scalars"]
    source = [line for _, _, line in read_lines(probe_corpus["scalars"][0]) if line["type"] == "scalars"]
    assert kept == source


@pytest.mark.parametrize("mutation", sorted(ALLOWED))
def test_what_the_rules_allow_stays_valid(validator, probe_corpus, tmp_path, mutation):
    path = mutated(probe_corpus["merged"][0], tmp_path / "allowed.jsonl", ALLOWED[mutation])
    assert not schema_problems(validator, path)


def test_the_file_rules_catch_a_repeated_step_and_a_literal_nan(probe_corpus, tmp_path):
    lines = open(probe_corpus["exact"][0], encoding="utf-8").read().splitlines()
    second_step = [k for k, line in enumerate(lines) if '"type":"step"' in line][1]
    repeated = tmp_path / "repeated.jsonl"
    repeated.write_text("\n".join(lines[:second_step + 1] + [lines[second_step]] + lines[second_step + 1:]) + "\n")
    assert any("steps must increase" in p for p in file_problems(str(repeated)))
    nan = tmp_path / "nan.jsonl"
    nan.write_text("\n".join(lines).replace('"chi_pos":', '"chi_pos":NaN,"was":', 1) + "\n")
    with pytest.raises(ValueError, match="NaN literal"):
        file_problems(str(nan))


def test_spectop_reads_what_the_rules_allow_and_refuses_a_new_version(spectop_bin, probe_corpus, tmp_path):
    """Reader rules 2, 3 and 6 in spectop itself: an unknown field, line type
    and event kind change nothing it exports; version 2 is refused."""
    source = probe_corpus["merged"][0]
    before = export_rows(spectop_bin, source, tmp_path)
    text = open(source, encoding="utf-8").read().splitlines()
    extended = [text[0]]
    for line in text[1:]:
        extended.append(line.replace('"type":"step",', '"type":"step","chi_new":[1,{"a":null}],'))
        if '"type":"event"' in line:
            extended.append('{"type":"checkpoint","model":"w8-active","step":99,"path":"x.pt"}')
            extended.append(line.replace('"event":"spectrum"', '"event":"some_new_kind"'))
    forward = tmp_path / "forward.jsonl"
    forward.write_text("\n".join(extended) + "\n", encoding="utf-8")
    assert export_rows(spectop_bin, str(forward), tmp_path) == before
    assert run(spectop_bin, "claims", str(forward)).returncode == 0

    newer = tmp_path / "newer.jsonl"
    newer.write_text("\n".join([text[0].replace('"version":1', '"version":2')] + text[1:]) + "\n", encoding="utf-8")
    result = run(spectop_bin, "export", str(newer), "--csv", str(tmp_path / "newer.csv"))
    assert result.returncode == 2 and "version 2 is not supported" in result.stderr, result.stderr
    assert not (tmp_path / "newer.csv").exists()


def test_spectop_check_finds_a_broken_line(spectop_bin, probe_corpus, tmp_path):
    check_command(spectop_bin)
    for mutation in ("a step line without model", "a step as a string"):
        path = mutated(probe_corpus["merged"][0], tmp_path / "broken.jsonl", BROKEN[mutation])
        result = run(spectop_bin, "check", path)
        assert result.returncode == 2, (mutation, result.stdout, result.stderr)
        assert re.search(r"broken\.jsonl:2: ", result.stdout + result.stderr), (mutation, result.stdout)


# ---------------------------------------------------------------- the probe held to the rules


def test_the_probe_refuses_a_negative_step(tmp_path):
    probe = Probe(mlp(6), X, Y, every=1, out=str(tmp_path / "r.jsonl"), name="m")
    with probe:
        with pytest.raises(ProbeError, match="the step must be 0 or more"):
            probe.step(-1)
        with pytest.raises(ProbeError, match="the step must be 0 or more"):
            probe.measure(-5)


def test_a_measurement_at_an_old_step_is_returned_but_not_recorded(validator, tmp_path):
    """measure() measures whatever the step; the record keeps its steps increasing."""
    out = tmp_path / "r.jsonl"
    with Probe(mlp(7), X, Y, every=1, out=str(out), name="m") as probe:
        probe.step(0)
        probe.step(1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = probe.measure(1)
            earlier = probe.measure(0)
        probe.measure(5)
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 1 and "not recorded" in said[0] and "must increase" in said[0]
    assert again.step == 1 and earlier.step == 0 and [m.step for m in probe.history] == [0, 1, 1, 0, 5]
    steps = [line["step"] for _, _, line in read_lines(str(out)) if line["type"] == "step"]
    assert steps == [0, 1, 5]
    assert_conforms(validator, str(out))
