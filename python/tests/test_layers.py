"""Per-layer χ_net and gradient shares in the probe's record (issue 30 item 6).

The probe writes ``layer_chi_net`` and ``layer_grad_sq`` on every step line,
as spectop's engine does (docs/RECORD.md): one entry per module owning
parameters, in the model's order, frozen ones 0, summing to ``chi_net`` and
``grad_sq``. Checked against an explicit float64 Jacobian per layer and
against autograd's gradient, and read back by spectop's replay (the layers
panel of the spectrum view) in a real terminal.
"""

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import torch
from torch import nn

from conftest import relative_error
from spectop_probe import Probe

D, C, N = 5, 3, 12


def model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, 7), nn.Tanh(), nn.Linear(7, 6), nn.GELU(), nn.Linear(6, C)).double()


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, D, generator=g, dtype=torch.float64), torch.randint(0, C, (N,), generator=g)


def reference(net, x, y, trainable):
    """(Tr Θ_l, |∇_l L|²) per layer from the explicit Jacobian of the stacked
    outputs and autograd's gradient of the mean cross-entropy; layers are
    the Linear modules (0, 2, 4), frozen parameters contributing 0."""
    names = [name for name, _ in net.named_parameters()]
    params = dict(net.named_parameters())

    def outputs(*values):
        state = dict(zip(names, values))
        return torch.func.functional_call(net, state, (x,)).reshape(-1)

    jacobians = torch.autograd.functional.jacobian(outputs, tuple(params[n].detach() for n in names))
    loss = nn.functional.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, [params[n] for n in names])
    layers = {"0": 0, "2": 1, "4": 2}
    chi_net, grad_sq = [0.0] * 3, [0.0] * 3
    for name, jacobian, grad in zip(names, jacobians, grads):
        if name not in trainable:
            continue
        layer = layers[name.split(".")[0]]
        chi_net[layer] += float(jacobian.pow(2).sum())
        grad_sq[layer] += float(grad.pow(2).sum())
    return chi_net, grad_sq


def step_line(path):
    records = [json.loads(line) for line in open(path)]
    return records[0], [r for r in records if r["type"] == "step"]


@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
@pytest.mark.parametrize("trainable", [None, ["2.weight", "2.bias", "4.weight"]])
def test_layer_splits_match_an_explicit_jacobian(tmp_path, trace, trainable):
    net = model()
    x, y = batch()
    out = tmp_path / "run.jsonl"
    with Probe(net, x, y, loss="cross_entropy", every=1, out=str(out), dtype=torch.float64, trace=trace,
               hutchinson_vectors=4096, trainable=trainable, spectrum=False) as probe:
        probe.step(0)
    header, steps = step_line(out)
    assert header["models"][0]["layers"] == ["0", "2", "4"]
    line = steps[0]
    names = trainable or [name for name, _ in net.named_parameters()]
    chi_net, grad_sq = reference(net, x, y, set(names))
    assert len(line["layer_chi_net"]) == len(line["layer_grad_sq"]) == 3
    # They sum to the line's totals, as the specification says.
    assert relative_error(sum(line["layer_chi_net"]), line["chi_net"]) <= 1e-12
    assert relative_error(sum(line["layer_grad_sq"]), line["grad_sq"]) <= 1e-12
    for layer in range(3):
        assert relative_error(line["layer_grad_sq"][layer], grad_sq[layer]) <= 1e-10
        if trainable is not None and layer == 0:
            assert line["layer_chi_net"][0] == 0 and line["layer_grad_sq"][0] == 0   # frozen
            continue
        if trace == "exact" or layer == 2:   # the readout's share is closed-form on both routes
            assert relative_error(line["layer_chi_net"][layer], chi_net[layer]) <= 1e-10, layer
        else:
            # 4096 Rademacher vectors: each layer's estimate within a few percent.
            assert relative_error(line["layer_chi_net"][layer], chi_net[layer]) <= 0.1, layer


def test_spectop_replay_shows_the_probes_layer_shares(tmp_path, spectop_bin):
    """spectop's own reader takes the probe's split: `spectop check` passes
    and the spectrum view of `spectop replay` lists one row per layer with
    its share of χ_net and of the gradient, the percentages computed here
    from the record."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    net = model()
    x, y = batch()
    out = tmp_path / "run.jsonl"
    with Probe(net, x, y, loss="cross_entropy", every=1, out=str(out), dtype=torch.float64, trace="exact",
               name="mlp") as probe:
        for step in range(3):
            probe.step(step)
    check = subprocess.run([spectop_bin, "check", str(out)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    _, steps = step_line(out)
    last = steps[-1]
    expected = ["%.1f%%" % (100 * v / last["chi_net"]) for v in last["layer_chi_net"]]
    expected += ["%.1f%%" % (100 * v / last["grad_sq"]) for v in last["layer_grad_sq"]]
    session = "probe-layers-" + uuid.uuid4().hex[:8]
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    "%s replay %s --no-mouse" % (spectop_bin, out)], check=True, env={**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"})
    try:
        screen = ""
        deadline = time.time() + 30
        sent = False
        while time.time() < deadline:
            time.sleep(0.5)
            if not sent:
                subprocess.run(["tmux", "send-keys", "-t", session, "End"], check=True)
                time.sleep(0.5)
                subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
                sent = True
                continue
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
            if "share of gradient" in screen and all(value in screen for value in expected):
                break
        assert "share of gradient" in screen, screen
        for label in ("L0", "L1", "out"):
            assert label in screen, screen
        for value in expected:
            assert value in screen, (value, screen)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
