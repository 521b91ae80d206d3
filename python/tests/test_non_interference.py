"""The probe never disturbs training: 20 steps of a transformer with dropout
(so the RNG stream matters) and AdamW, with and without a probe measuring
every 5 steps (exact trace and spectrum on one run, Hutchinson on another),
end with bit-identical parameters, gradients, optimizer state, RNG state and
train/eval flags."""

import pytest
import torch

from char_gpt import CharGPT
from spectop_probe import Probe

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
        probe = Probe(model, probe_x, probe_y, loss="cross_entropy", every=5, out=str(tmp_path / "r.jsonl"),
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
            measured = probe.step(step)
            assert (measured is not None) == (step % 5 == 0)
    if probe is not None:
        probe.close()
        assert len(probe.history) == 4
    return model, optimizer


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("settings", [
    {"trace": "exact", "dtype": torch.float64},
    {"trace": "hutchinson", "hutchinson_vectors": 4},
], ids=["exact-float64", "hutchinson-float32"])
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
