"""The record the probe writes: every field of the contract, spectop's
conventions (null for undefined, descending eigenvalues), the no_spectrum
event, the end line at close and at interpreter exit."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from char_gpt import CharGPT
from conftest import REPO
from spectop_probe import Probe


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
    assert header["models"] == [{"id": "w16-frozen", "width": 16, "depth": 1, "params": total,
                                 "trainable_params": 16 * 7 + 7, "trainable": "readout", "mode": "frozen"}]
    steps = [l for l in lines if l["type"] == "step"]
    assert [s["step"] for s in steps] == [0, 2, 4]
    for s in steps:
        assert list(s) == ["type", "model", "step", "loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "wall"]
        assert s["chi_pos"] == pytest.approx(s["grad_sq"] / (s["chi_loss"] * s["chi_net"]), rel=1e-12)
    # Readout only: χ_net is closed-form, the same at every step.
    assert len({s["chi_net"] for s in steps}) == 1
    spectra = [l for l in lines if l["type"] == "spectrum"]
    assert [s["step"] for s in spectra] == [0, 2, 4]
    for s in spectra:
        assert list(s) == ["type", "model", "step", "eigenvalues", "weights", "chi_pos_exact", "lambda_eff",
                           "r_eff", "effective_rank"]
        assert len(s["eigenvalues"]) == 18 * 7 and s["eigenvalues"] == sorted(s["eigenvalues"], reverse=True)
        assert sum(s["weights"]) == pytest.approx(1, abs=1e-6)
    assert lines[-1]["type"] == "end" and lines[-1]["reason"] == "closed"


def test_estimate_fields_and_no_spectrum_event(tmp_path):
    torch.manual_seed(0)
    model = CharGPT(7, 6, width=16, depth=1, heads=2)
    x = torch.randint(0, 7, (3, 6))
    out = tmp_path / "r.jsonl"
    with Probe(model, x, x, loss="cross_entropy", every=1, out=str(out), name="m", exact_max_outputs=10,
               hutchinson_vectors=6) as probe:
        probe.step(0)
        probe.step(1)
    lines = read(out)
    steps = [l for l in lines if l["type"] == "step"]
    for s in steps:
        assert s["chi_net_estimate"] is True and s["chi_net_stderr"] > 0
        assert list(s)[-2:] == ["chi_net_estimate", "chi_net_stderr"]
    events = [l for l in lines if l["type"] == "event"]
    assert len(events) == 1 and events[0]["event"] == "no_spectrum" and events[0]["model"] == "m"
    assert "Hutchinson" in events[0]["detail"]
    assert not [l for l in lines if l["type"] == "spectrum"]


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
        probe = Probe(torch.nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every=1, out=%r, name="m")
        probe.step(0)
        # no close(): the interpreter's exit ends the record
    """ % (REPO + "/python", str(out)))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    lines = read(out)
    assert [l["type"] for l in lines] == ["run", "step", "spectrum", "end"]
    assert lines[-1]["reason"] == "exit"


def test_lines_are_on_disk_before_close(tmp_path):
    out = tmp_path / "r.jsonl"
    probe = Probe(nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every=1, out=str(out), name="m")
    probe.step(0)
    assert [l["type"] for l in read(out)] == ["run", "step", "spectrum"]  # flushed, not buffered
    probe.close()
