"""Bad input gives a ProbeError that names the problem; NaN outputs mark the
model diverged in the record and training goes on."""

import json
import os

import pytest
import torch
from torch import nn

from spectop_probe import Probe, ProbeError


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


def test_model_that_vmap_cannot_batch_is_named():
    """A forward with data-dependent Python control flow cannot run per
    sample under vmap: the error says so and what to use instead, and the
    Hutchinson route (no vmap over items) still measures it."""

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
    with pytest.raises(ProbeError, match="per-sample route.*trace=\"hutchinson\""):
        Probe(Branchy(), X, Y, out=None, trace="exact").measure(0)
    r = Probe(Branchy(), X, Y, out=None, trace="hutchinson", spectrum=False, hutchinson_vectors=4).measure(0)
    assert r.chi_net_estimate and r.chi_pos is not None
