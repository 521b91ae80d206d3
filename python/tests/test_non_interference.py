"""The probe never disturbs training: 20 steps of a transformer with dropout
(so the RNG stream matters) and AdamW, with and without a probe measuring
every 5 steps or on log windows (exact trace and spectrum on one run, Hutchinson on another,
a matrix-free spectrum at every measurement on a third, both traces again
with the training batch as the cross batch B, and a matrix-free spectrum
with a cross batch on a log schedule),
end with bit-identical parameters, gradients, optimizer state, RNG state and
train/eval flags. A model that writes its input (an inplace ReLU first) or its
buffers (a call counter, an EMA) in forward writes only the probe's copies."""

import copy

import pytest
import torch
from torch import nn

from char_gpt import CharGPT
from spectop_probe import LogSchedule, Probe, ProbeError

VOCAB, BLOCK = 6, 8


def train(probe_settings, tmp_path):
    torch.manual_seed(0)
    model = CharGPT(VOCAB, BLOCK, width=16, depth=1, heads=2, dropout=0.1)
    model.blocks[0].norm2.eval()  # a submodule the user put in eval mode must stay there
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data = torch.randint(0, VOCAB, (64, BLOCK + 1), generator=torch.Generator().manual_seed(5))
    probe_x, probe_y = data[:4, :-1], data[:4, 1:]
    probe = None
    if probe_settings is not None:
        probe_settings = dict(probe_settings)
        every = probe_settings.pop("every", 5)
        probe = Probe(model, probe_x, probe_y, loss="cross_entropy", every=every, out=str(tmp_path / "r.jsonl"),
                      name="m", **probe_settings)
    for step in range(1, 21):
        rows = torch.randint(0, 64, (8,))  # the global RNG: shifted if the probe drew from it
        x, y = data[rows, :-1], data[rows, 1:]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        optimizer.step()
        if probe is not None:
            # Between backward and the next zero_grad: .grad must survive a measurement.
            # With cross="train" the batch just trained on is the cross batch B.
            cross = (x, y) if probe.cross_source == "train" else None
            measured = probe.step(step, cross_batch=cross)
            assert (measured is not None) == probe.due(step)
            assert measured is None or (measured.cross is not None) == (cross is not None)
    if probe is not None:
        probe.close()
        assert len(probe.history) == sum(probe.due(step) for step in range(1, 21))
        if probe_settings.get("spectrum_method") == "lanczos":
            assert all(m.spectrum is not None and m.spectrum.method == "lanczos" for m in probe.history)
    return model, optimizer


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("settings", [
    {"trace": "exact", "dtype": torch.float64},
    {"trace": "hutchinson", "hutchinson_vectors": 4},
    {"trace": "hutchinson", "hutchinson_vectors": 4, "spectrum_method": "lanczos", "spectrum_share": None},
    {"trace": "exact", "cross": "train"},
    {"trace": "hutchinson", "hutchinson_vectors": 4, "cross": "train"},
    {"trace": "hutchinson", "hutchinson_vectors": 4, "cross": "train", "spectrum_method": "lanczos",
     "spectrum_share": None, "every": LogSchedule(points_per_decade=3, window=2)},  # steps 1-5, 10, 11
], ids=["exact-float64", "hutchinson-float32", "matrix-free-spectra", "cross-exact", "cross-hutchinson",
        "cross-matrix-free-log"])
def test_training_is_bit_identical(settings, tmp_path):
    reference_model, reference_optimizer = train(None, tmp_path)
    reference_rng = torch.get_rng_state()
    model, optimizer = train(settings, tmp_path)
    assert same(torch.get_rng_state(), reference_rng)
    for (name, p), (_, q) in zip(model.named_parameters(), reference_model.named_parameters()):
        assert same(p.data, q.data), name
        assert p.grad is not None and same(p.grad, q.grad), name
    state, reference_state = optimizer.state_dict(), reference_optimizer.state_dict()
    assert state["param_groups"] == reference_state["param_groups"]
    for key, values in reference_state["state"].items():
        for field, value in values.items():
            assert same(state["state"][key][field], value), (key, field)
    assert [m.training for m in model.modules()] == [m.training for m in reference_model.modules()]
    assert model.training and not model.blocks[0].norm2.training


def test_bfloat16_model_measured_in_float32(tmp_path):
    """A bfloat16 model is measured on float32 copies; it stays bfloat16."""
    torch.manual_seed(0)
    model = CharGPT(VOCAB, BLOCK, width=16, depth=1, heads=2).to(torch.bfloat16)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randint(0, VOCAB, (2, BLOCK))
    r = Probe(model, x, x, loss="cross_entropy", out=None, dtype=torch.float32).measure(0)
    assert r.chi_pos is not None and 0 < r.chi_pos <= 1
    assert all(p.dtype == torch.bfloat16 and same(p, q) for p, q in zip(model.parameters(), before))
    # The same weights in float32 give the same numbers (the casts are exact).
    model32 = CharGPT(VOCAB, BLOCK, width=16, depth=1, heads=2)
    model32.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    r32 = Probe(model32, x, x, loss="cross_entropy", out=None, dtype=torch.float32).measure(0)
    assert r.chi_net == pytest.approx(r32.chi_net, rel=1e-6)
    assert r.grad_sq == pytest.approx(r32.grad_sq, rel=1e-6)


def snapshot(model, *tensors):
    return [t.detach().clone() for t in list(model.parameters()) + list(model.buffers()) + list(tensors)]


def unchanged(saved, model, *tensors):
    current = list(model.parameters()) + list(model.buffers()) + list(tensors)
    return len(saved) == len(current) and all(same(a, b.detach()) for a, b in zip(saved, current))


@pytest.mark.parametrize("settings", [
    {"trace": "exact"},
    {"trace": "hutchinson", "hutchinson_vectors": 4, "spectrum": False},
], ids=["exact", "hutchinson"])
def test_inplace_relu_on_the_input_leaves_the_training_data_alone(settings):
    """probe_inputs is a slice of the training tensor, and the model's first
    layer is ReLU(inplace=True): the training tensor is untouched, and the
    numbers are those of the same model with an out-of-place ReLU."""
    torch.manual_seed(0)
    x_train, y_train = torch.randn(64, 3), torch.randn(64, 2)
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    saved = snapshot(model, x_train, y_train)
    probe = Probe(model, x_train[:16], y_train[:16], every=1, out=None, **settings)
    assert unchanged(saved, model, x_train, y_train)
    inplace = probe.step(1)
    assert unchanged(saved, model, x_train, y_train)
    plain = copy.deepcopy(model)
    plain[0] = nn.ReLU()
    reference = Probe(plain, x_train[:16], y_train[:16], out=None, **settings).measure(1)
    for key in ("loss", "chi_loss", "chi_net", "grad_sq", "chi_pos"):
        assert getattr(inplace, key) == getattr(reference, key), key


class Stateful(nn.Module):
    """Counts its calls and keeps an EMA of its inputs, both in forward, and
    the EMA shifts the outputs (so a measurement must see one state)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 8)
        self.head = nn.Linear(8, 2)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.register_buffer("ema", torch.zeros(3))

    def forward(self, x):
        self.calls += 1
        self.ema.mul_(0.9).add_(0.1 * x.detach().mean(0))
        return self.head(torch.tanh(self.body(x) + self.ema.sum()))


def test_buffers_written_in_forward_are_the_probes_own_copies():
    torch.manual_seed(0)
    model = Stateful()
    model(torch.randn(8, 3))  # the buffers hold something other than their initial values
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    saved = snapshot(model, x, y)
    probe = Probe(model, x, y, every=1, out=None, trace="hutchinson", hutchinson_vectors=4, spectrum=False)
    assert unchanged(saved, model, x, y)
    result = probe.step(1)
    assert unchanged(saved, model, x, y)
    # Every forward of the measurement saw the user's state: the loss is that
    # of one forward of a copy of the model (eval mode, float32).
    with torch.no_grad():
        expected = 0.5 * (copy.deepcopy(model).eval()(x) - y).pow(2).sum() / x.shape[0]
    assert result.loss == pytest.approx(float(expected), rel=1e-6)
    assert result.chi_pos is not None and 0 < result.chi_pos <= 1
    # The per-sample route cannot batch the EMA's in-place update
    # (torch.func.vmap): the exact trace takes whole-batch products instead,
    # equals the explicit Jacobian of the same forward (on copies of the
    # buffers), and still writes nothing of the user's.
    from torch.func import functional_call, jacrev
    exact_probe = Probe(model, x, y, out=None, trace="exact", spectrum=False)
    exact = exact_probe.measure(1)
    assert "per-sample route" in exact_probe.function.per_sample_failure
    assert unchanged(saved, model, x, y)
    theta = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    jac = jacrev(lambda t: functional_call(copy.deepcopy(model).eval(), {**t, **{n: b.clone() for n, b in
                                                                                 buffers.items()}}, (x,)).reshape(-1))(theta)
    assert exact.chi_net == pytest.approx(sum(float(j.pow(2).sum()) for j in jac.values()), rel=1e-5)


def train_resnet_shaped(probe_settings, tmp_path):
    """Six SGD-with-momentum steps of the resnet18-shaped BatchNorm CNN in
    train mode (running statistics updated by training only), one of its
    BatchNorm layers put in eval mode by the user."""
    from resnet_shaped import images, resnet_shaped
    model = resnet_shaped(dtype=torch.float32).train()
    model.layer2[1].bn2.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    data, labels = images(seed=7, count=32, dtype=torch.float32)
    probe = None
    if probe_settings is not None:
        probe = Probe(model, data[:4], labels[:4], loss="cross_entropy", every=2, out=str(tmp_path / "bn.jsonl"),
                      name="cnn", **probe_settings)
    for step in range(1, 7):
        rows = torch.randint(0, 32, (8,))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(data[rows]), labels[rows]).backward()
        optimizer.step()
        if probe is not None:
            assert (probe.step(step) is not None) == (step % 2 == 0)
    if probe is not None:
        probe.close()
    return model, optimizer


@pytest.mark.parametrize("settings", [
    {"batchnorm": "batch", "trace": "exact"},
    {"batchnorm": "batch", "trace": "hutchinson", "hutchinson_vectors": 4, "spectrum_method": "lanczos",
     "spectrum_share": None, "top_k": 4},
    {"batchnorm": "eval", "trace": "exact"},
], ids=["batch-exact", "batch-matrix-free", "eval-exact"])
def test_batchnorm_training_is_bit_identical(settings, tmp_path):
    """Running means, variances and num_batches_tracked too: the probe's
    forwards on batch statistics update only their private copies."""
    reference_model, reference_optimizer = train_resnet_shaped(None, tmp_path)   # seeds the RNG itself
    reference_rng = torch.get_rng_state()
    model, optimizer = train_resnet_shaped(settings, tmp_path)
    assert same(torch.get_rng_state(), reference_rng)
    for (name, p), (_, q) in zip(model.named_parameters(), reference_model.named_parameters()):
        assert same(p.data, q.data), name
        assert p.grad is not None and same(p.grad, q.grad), name
    buffers = dict(reference_model.named_buffers())
    assert any(name.endswith("running_var") for name in buffers)
    for name, b in model.named_buffers():
        assert same(b, buffers[name]), name
    for key, values in reference_optimizer.state_dict()["state"].items():
        for field, value in values.items():
            assert same(optimizer.state_dict()["state"][key][field], value), (key, field)
    assert [m.training for m in model.modules()] == [m.training for m in reference_model.modules()]
    assert model.training and not model.layer2[1].bn2.training
