"""resume=True: a restarted job appends to its record (issue 30 item 6).

The record stays one valid record (spectop check), every step at most once,
nothing recorded before is lost; a record of another model is refused at
construction and left untouched.
"""

import json
import subprocess

import pytest
import torch
from torch import nn

from spectop_probe import Probe, ProbeError


def model(width=8, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, width), nn.Tanh(), nn.Linear(width, 3))


def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)


def run(path, steps, net=None, **options):
    x, y = batch()
    probe = Probe(net or model(), x, y, loss="cross_entropy", every=2, out=str(path), trace="exact", **options)
    results = [probe.step(step) for step in steps]
    return probe, results


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_restarted_job_continues_its_record(tmp_path, spectop_bin):
    """The first job measures steps 0-8 and ends; the restarted one resumes
    from a checkpoint at step 5 and runs to 14: steps 6 and 8 are not
    measured again, 10-14 are appended; one run line, one end line, the
    resume event between, the wall clock going on."""
    path = tmp_path / "run.jsonl"
    probe, _ = run(path, range(0, 9))
    probe.close()
    before = path.read_text()
    probe, results = run(path, range(5, 15), resume=True, batch=32)
    probe.step(14)   # a step passed twice is measured once
    probe.close()
    record = lines(path)
    assert path.read_text().startswith(before[:before.rindex('{"type":"end"')])   # nothing recorded before is lost
    assert [r["type"] for r in record].count("run") == 1 and [r["type"] for r in record].count("end") == 1
    assert record[-1]["type"] == "end"
    steps = [r["step"] for r in record if r["type"] == "step"]
    assert steps == [0, 2, 4, 6, 8, 10, 12, 14]
    assert [r is not None for r in results] == [False, False, False, False, False, True, False, True, False, True]
    resume = [r for r in record if r["type"] == "event" and r["event"] == "resume"]
    assert len(resume) == 1 and resume[0]["step"] == 8
    walls = [r["wall"] for r in record if "wall" in r]
    assert walls == sorted(walls)
    # The amplification goes on from the first job's χ_net(0).
    first = [r for r in record if r["type"] == "step"][0]["chi_net"]
    assert probe.history[-1].amplification == pytest.approx(probe.history[-1].chi_net / first, rel=1e-12)
    check = subprocess.run([spectop_bin, "check", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_killed_jobs_record_is_resumed_without_its_cut_off_line(tmp_path):
    path = tmp_path / "run.jsonl"
    probe, _ = run(path, range(0, 5))
    probe.close()
    text = path.read_text()
    body = text[:text.rindex('{"type":"end"')]
    path.write_text(body + '{"type":"step","model":"model","step":6,"lo')   # killed mid-line, no end line
    probe, _ = run(path, range(5, 9), resume=True)
    probe.close()
    record = lines(path)
    assert [r["step"] for r in record if r["type"] == "step"] == [0, 2, 4, 6, 8]
    assert path.read_text().startswith(body)


@pytest.mark.parametrize("change,message", [
    ({"net": "wider"}, "params"),
    ({"name": "other"}, "no model named 'other'"),
])
def test_a_record_of_another_model_is_refused_and_left_as_it_was(tmp_path, change, message):
    path = tmp_path / "run.jsonl"
    probe, _ = run(path, range(0, 3))
    probe.close()
    before = path.read_bytes()
    options = {"resume": True}
    net = model(width=9) if change.get("net") == "wider" else None
    if "name" in change:
        options["name"] = change["name"]
    with pytest.raises(ProbeError, match=message):
        run(path, range(3, 5), net=net, **options)
    assert path.read_bytes() == before
    # The lock was released: the right model resumes it.
    probe, _ = run(path, range(3, 5), resume=True)
    probe.close()


def test_the_same_count_but_other_shapes_is_refused(tmp_path):
    """Parameter names and shapes are compared, not only their count."""
    path = tmp_path / "run.jsonl"
    x, y = batch()
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))              # 30 + 21 = 51 parameters
    b = nn.Sequential(nn.Linear(4, 6, bias=False), nn.Tanh(), nn.Linear(6, 3))  # 24 + 21 ... differs
    b.extra = nn.Parameter(torch.zeros(6))                                       # 24 + 6 + 21 = 51
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())
    Probe(a, x, y, loss="cross_entropy", out=str(path)).close()
    with pytest.raises(ProbeError, match="param_signature"):
        Probe(b, x, y, loss="cross_entropy", out=str(path), resume=True)


def test_resume_without_a_record_starts_one_and_bad_combinations_are_refused(tmp_path):
    path = tmp_path / "new.jsonl"
    probe, _ = run(path, range(0, 3), resume=True)
    probe.close()
    assert [r["type"] for r in lines(path)][0] == "run"
    x, y = batch()
    with pytest.raises(ProbeError, match="pass one"):
        Probe(model(), x, y, out=str(path), resume=True, overwrite=True)
    with pytest.raises(ProbeError, match="resume must be"):
        Probe(model(), x, y, out=str(tmp_path / "b.jsonl"), resume="yes")
    (tmp_path / "junk.jsonl").write_text("not json\n")
    with pytest.raises(ProbeError, match="line 1 is not JSON"):
        Probe(model(), x, y, out=str(tmp_path / "junk.jsonl"), resume=True)
    with pytest.raises(ProbeError, match="batch must be at least 1"):
        Probe(model(), x, y, out=None, batch=0)


def test_batch_is_the_headers_samples_per_step(tmp_path):
    """models[].batch is what spectop's compare view takes for the compute
    axis (6·N·B per step)."""
    path = tmp_path / "run.jsonl"
    x, y = batch()
    Probe(model(), x, y, out=str(path), batch=8 * 64).close()
    assert lines(path)[0]["models"][0]["batch"] == 512
