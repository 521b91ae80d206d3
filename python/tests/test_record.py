"""The record the probe writes: every field of the contract, spectop's
conventions (null for undefined, descending eigenvalues), the "spectrum"
event that says why a model gets no spectrum, the end line at close and at
interpreter exit; a write that fails stops the record and not the training;
only regular files are written, and never one that another probe or spectop
is writing. docs/RECORD.md is the contract; test_record_contract.py holds
every line to docs/record.schema.json."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from char_gpt import CharGPT
from conftest import REPO
from spectop_probe import Probe, ProbeError


def read(path):
    return [json.loads(line) for line in open(path).read().splitlines()]


def test_header_steps_spectrum_end(tmp_path):
    torch.manual_seed(0)
    model = CharGPT(7, 6, width=16, depth=1, heads=2).freeze_body()
    x = torch.randint(0, 7, (3, 6))
    out = tmp_path / "r.jsonl"
    with Probe(model, x, x, loss="cross_entropy", every=2, out=str(out), name="w16-frozen", width=16, depth=1,
               data_name="chars") as probe:
        for step in range(5):
            probe.step(step)
    lines = read(out)
    header = lines[0]
    assert list(header)[:3] == ["type", "version", "tool"] and header["version"] == 1
    assert header["tool"].startswith("spectop-probe ")
    assert header["data"] == {"name": "chars", "probe": 18, "outputs": 7, "loss": "cross_entropy"}
    total = sum(p.numel() for p in model.parameters())
    entry = dict(header["models"][0])
    layers, signature = entry.pop("layers"), entry.pop("param_signature")
    assert [entry] == [{"id": "w16-frozen", "width": 16, "depth": 1, "params": total,
                        "trainable_params": 16 * 7 + 7, "trainable": "readout", "mode": "frozen",
                        "schedule": {"kind": "every", "every": 2}}]
    owners = []
    for name, _ in model.named_parameters():
        owner = name.rsplit(".", 1)[0] if "." in name else "(root)"
        if owner not in owners:
            owners.append(owner)
    assert layers == owners and layers[-1] == "lm_head"
    assert re.fullmatch(r"[0-9a-f]{16}", signature)
    steps = [l for l in lines if l["type"] == "step"]
    assert [s["step"] for s in steps] == [0, 2, 4]
    for s in steps:
        assert list(s) == ["type", "model", "step", "loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "wall",
                           "layer_chi_net", "layer_grad_sq", "rows", "chi_loss_normalized", "chi_net_normalized"]
        assert sum(s["layer_chi_net"]) == pytest.approx(s["chi_net"], rel=1e-12)
        assert all(v == 0 for v in s["layer_grad_sq"][:-1])   # frozen body: the readout's gradient only
        assert s["chi_pos"] == pytest.approx(s["grad_sq"] / (s["chi_loss"] * s["chi_net"]), rel=1e-12)
        # The batch-size normalised factors: n·χ_loss and χ_net/n, n = 3 sequences × 6 tokens.
        assert s["rows"] == 18
        assert s["chi_loss_normalized"] == 18 * s["chi_loss"] and s["chi_net_normalized"] == s["chi_net"] / 18
    # Readout only: χ_net is closed-form, the same at every step.
    assert len({s["chi_net"] for s in steps}) == 1
    spectra = [l for l in lines if l["type"] == "spectrum"]
    assert [s["step"] for s in spectra] == [0, 2, 4]
    for s in spectra:
        assert list(s) == ["type", "model", "step", "eigenvalues", "weights", "chi_pos_exact", "lambda_eff",
                           "r_eff", "effective_rank", "method", "method_reason"]
        # budget=None (this session's default): exact wherever the Jacobian fits spectrum_bytes.
        assert s["method"] == "exact" and "budget = None" in s["method_reason"]
        assert len(s["eigenvalues"]) == 18 * 7 and s["eigenvalues"] == sorted(s["eigenvalues"], reverse=True)
        assert sum(s["weights"]) == pytest.approx(1, abs=1e-6)
    assert lines[-1]["type"] == "end" and lines[-1]["reason"] == "closed"


def test_estimate_fields_and_the_no_spectrum_event(tmp_path):
    torch.manual_seed(0)
    model = CharGPT(7, 6, width=16, depth=1, heads=2)
    x = torch.randint(0, 7, (3, 6))
    out = tmp_path / "r.jsonl"
    # trace="hutchinson": this session's budget=None would take the exact trace at any m.
    with Probe(model, x, x, loss="cross_entropy", every=1, out=str(out), name="m", trace="hutchinson",
               hutchinson_vectors=6, spectrum_max_outputs=100) as probe:
        probe.step(0)
        probe.step(1)
    lines = read(out)
    steps = [l for l in lines if l["type"] == "step"]
    for s in steps:
        assert s["chi_net_estimate"] is True and s["chi_net_stderr"] > 0
        assert list(s)[9:] == ["chi_net_estimate", "chi_net_stderr", "chi_net_vectors", "layer_chi_net",
                               "layer_grad_sq", "rows", "chi_loss_normalized", "chi_net_normalized"]
        assert s["chi_net_vectors"] == 6
    events = [l for l in lines if l["type"] == "event"]
    assert len(events) == 1 and events[0]["event"] == "spectrum" and events[0]["model"] == "m"
    assert "m = n*C = 126 outputs is above spectrum_max_outputs = 100" == events[0]["detail"]
    assert not [l for l in lines if l["type"] == "spectrum"]
    # Without that cap, a Hutchinson χ_net gets a matrix-free spectrum (the
    # exact one would need the per-sample Jacobian the estimate avoided).
    again = tmp_path / "again.jsonl"
    with Probe(model, x, x, loss="cross_entropy", every=1, out=str(again), name="m", trace="hutchinson",
               hutchinson_vectors=6) as probe:
        probe.step(0)
    spectra = [l for l in read(again) if l["type"] == "spectrum"]
    assert len(spectra) == 1 and spectra[0]["method"] == "lanczos" and "Hutchinson" in spectra[0]["method_reason"]
    assert not [l for l in read(again) if l["type"] == "event"]


def test_undefined_chi_pos_is_null(tmp_path):
    """A model that fits its probe exactly has g = 0: χ_pos undefined, written null."""
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
    x = torch.randn(4, 2)
    out = tmp_path / "r.jsonl"
    with Probe(model, x, model(x).detach(), every=1, out=str(out), name="m") as probe:
        probe.step(0)
    step = [l for l in read(out) if l["type"] == "step"][0]
    assert step["chi_pos"] is None and step["chi_loss"] == 0
    spectrum = [l for l in read(out) if l["type"] == "spectrum"][0]
    assert spectrum["chi_pos_exact"] is None and spectrum["weights"] == [] and spectrum["r_eff"] is None


def test_end_line_at_interpreter_exit(tmp_path):
    out = tmp_path / "r.jsonl"
    script = textwrap.dedent("""
        import sys, torch
        sys.path.insert(0, %r)
        from spectop_probe import Probe
        probe = Probe(torch.nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every=1, out=%r, name="m",
                      budget=None)
        probe.step(0)
        # no close(): the interpreter's exit ends the record
    """ % (REPO + "/python", str(out)))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    lines = read(out)
    assert [l["type"] for l in lines] == ["run", "step", "spectrum", "usage", "end"]
    assert lines[-1]["reason"] == "exit"


def test_lines_are_on_disk_before_close(tmp_path):
    out = tmp_path / "r.jsonl"
    probe = Probe(nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every=1, out=str(out), name="m")
    probe.step(0)
    assert [l["type"] for l in read(out)] == ["run", "step", "spectrum", "usage"]  # flushed, not buffered
    probe.close()


def test_a_full_file_system_stops_the_record_not_the_training(tmp_path):
    """A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes a write fail
    with EFBIG partway through a line, as a full disk does with ENOSPC: the
    training loop runs to its end, the probe warns once and keeps measuring,
    record_error says why, and the record holds only complete lines."""
    pytest.importorskip("resource")
    out = tmp_path / "r.jsonl"
    limit = 2000  # the header and a few measurements
    script = textwrap.dedent("""
        import json, resource, signal, sys, warnings
        sys.path.insert(0, %r)
        import torch
        from torch import nn
        from spectop_probe import Probe, ProbeWarning
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(16, 3), torch.randn(16, 2)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            probe = Probe(model, x[:4], y[:4], every=1, out=%r, name="m", budget=None)
            for step in range(1, 21):
                optimizer.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
                probe.step(step)
            probe.close()
        print(json.dumps({"last_step": step, "measured": len(probe.history), "record_error": probe.record_error,
                          "warnings": [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]}))
    """ % (REPO + "/python", limit, limit, str(out)))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["last_step"] == 20 and report["measured"] == 20
    assert len(report["warnings"]) == 1, report["warnings"]
    assert "File too large" in report["warnings"][0] and "training goes on" in report["warnings"][0]
    assert "File too large" in report["record_error"]
    text = out.read_text()
    assert 0 < len(text) <= limit and text.endswith("\n")
    lines = [json.loads(line) for line in text.splitlines()]  # every line complete
    assert lines[0]["type"] == "run" and [l["step"] for l in lines if l["type"] == "step"][:1] == [1]
    assert lines[-1]["type"] != "end"  # the end line did not fit either


def test_a_record_being_written_is_refused_and_left_intact(tmp_path):
    """A second probe on the same out (overwrite=True) is refused without
    truncating it, and the first one's record stays readable (no NUL bytes
    from two writers at two offsets). Closing releases the file."""
    out = tmp_path / "r.jsonl"
    model, x, y = nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1)
    first = Probe(model, x, y, every=1, out=str(out), name="first")
    first.step(0)
    before = out.read_bytes()
    with pytest.raises(ProbeError, match="is being written by another process"):
        Probe(model, x, y, every=1, out=str(out), name="second", overwrite=True)
    assert out.read_bytes() == before
    first.step(1)
    first.close()
    assert b"\0" not in out.read_bytes()
    lines = read(out)
    # One usage line: the first measurement's (the next would come 5 s later).
    assert [l["type"] for l in lines] == ["run", "step", "spectrum", "usage", "step", "spectrum", "end"]
    assert lines[0]["models"][0]["id"] == "first"
    Probe(model, x, y, out=str(out), name="third", overwrite=True).close()
    assert read(out)[0]["models"][0]["id"] == "third"


def test_a_record_spectop_holds_is_not_truncated(tmp_path):
    """spectop holds flock(LOCK_EX) on its --out for the whole run; the probe
    asks for the same lock before it empties the file."""
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "r.jsonl"
    out.write_text("a spectop run in progress\n")
    with open(out, "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ProbeError, match="r.jsonl' is being written by another process"):
            Probe(nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), out=str(out), overwrite=True)
        assert out.read_text() == "a spectop run in progress\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_and_never_opened(tmp_path):
    fifo = tmp_path / "r.jsonl"
    os.mkfifo(fifo)
    # A reader, so that a probe that opened the FIFO would write into it
    # (and fail this test) rather than block it forever.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(ProbeError, match="r.jsonl'.*it is a FIFO, not a regular file"):
            Probe(nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), out=str(fifo), overwrite=True)
        assert os.read(reader, 4096) == b""
    finally:
        os.close(reader)


def test_directories_and_devices_are_refused(tmp_path):
    model, x, y = nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1)
    with pytest.raises(ProbeError, match="it is a directory, not a regular file"):
        Probe(model, x, y, out=str(tmp_path), overwrite=True)
    if os.path.exists("/dev/null"):
        with pytest.raises(ProbeError, match="'/dev/null': it is a device, not a regular file"):
            Probe(model, x, y, out="/dev/null", overwrite=True)
