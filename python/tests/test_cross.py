"""Cross-batch LNP (docs/METHOD.md, "Cross-batch spectral position") and the
batch-size normalised factors ("Normalised factors").

The reference is written here from the paper's formulas (the appendix of
its method draft, KonstiNik/vatis background_info.tex), in float64, with
explicit Jacobians built row by row with torch.autograd.grad (none of the
probe's routes: no torch.func vjp/vmap, no closed-form readout, no
Hutchinson): g_A, g_B from the closed-form residuals, J_A, J_B, then

    δL(A,B) = (J_Aᵀg_A)·(J_Bᵀg_B),  χ_loss^{AB} = ‖g_A‖‖g_B‖,
    χ_net^{AB} = ‖J_A‖_F‖J_B‖_F,     χ_pos^{AB} = δL / (χ_loss^{AB} χ_net^{AB}),

and χ_pos^{AB} once more in the paper's mode-pair form, over the
eigenbases of Θ^{AA} and Θ^{BB} and the mixed kernel Θ^{AB} = J_B J_Aᵀ.
perspic's logging conventions (per-sample sums, normalised by the number of
targets, cross factors as the geometric mean of the two batches') are
checked against the normalised fields."""

import json
import math
import warnings

import pytest
import torch
from torch import nn

from char_gpt import CharGPT
from conftest import relative_error
from spectop_probe import Probe, ProbeError, ProbeWarning


# ---------------------------------------------------------------- models and batches


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 2)).double()


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.head = nn.Linear(3 * 3 * 3, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.conv(x)).flatten(1))


def cnn(seed=0):
    torch.manual_seed(seed)
    return SmallCNN().double()


def tiny_lm(seed=0):
    torch.manual_seed(seed)
    model = CharGPT(5, 4, width=8, depth=1, heads=2).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def batches(kind, seed=1):
    """(model, loss, (x_A, y_A), (x_B, y_B)) with |A| != |B|."""
    g = torch.Generator().manual_seed(seed)
    if kind == "mlp-mse":
        return (mlp(), "mse", (torch.randn(7, 3, generator=g, dtype=torch.float64), torch.randn(7, 2, generator=g, dtype=torch.float64)),
                (torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64)))
    if kind == "cnn-ce":
        return (cnn(), "cross_entropy",
                (torch.randn(6, 1, 5, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (6,), generator=g)),
                (torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (4,), generator=g)))
    if kind == "lm-ce":
        a = torch.randint(0, 5, (3, 5), generator=g)
        b = torch.randint(0, 5, (2, 5), generator=g)
        return tiny_lm(), "cross_entropy", (a[:, :-1], a[:, 1:]), (b[:, :-1], b[:, 1:])
    raise AssertionError(kind)


# ---------------------------------------------------------------- the reference, from the paper's formulas


def side(model, loss, x, y):
    """(L, g, J) for one batch, float64: g from the closed-form residual,
    J [m, P] row by row with torch.autograd.grad."""
    params = [p for p in model.parameters() if p.requires_grad]
    F = model(x)
    F = F.reshape(-1, F.shape[-1])
    n, C = F.shape
    if loss == "mse":
        residual = F.detach() - y.reshape(n, C)
        L = float(0.5 * residual.pow(2).sum() / n)
        g = residual / n
    else:
        p = torch.softmax(F.detach(), dim=1)
        labels = y.reshape(-1)
        L = float(-torch.log(p[torch.arange(n), labels]).mean())
        g = p.clone()
        g[torch.arange(n), labels] -= 1
        g = g / n
    flat = F.reshape(-1)
    rows = []
    for j in range(flat.numel()):
        grads = torch.autograd.grad(flat[j], params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(gr if gr is not None else torch.zeros_like(q)).reshape(-1)
                               for gr, q in zip(grads, params)]))
    return L, g.reshape(-1), torch.stack(rows), n


def reference(model, loss, a, b):
    La, ga, Ja, na = side(model, loss, *a)
    Lb, gb, Jb, nb = side(model, loss, *b)
    grad_a, grad_b = Ja.T @ ga, Jb.T @ gb
    dot = float(grad_a @ grad_b)
    chi_loss = float(ga.norm() * gb.norm())
    chi_net = float(torch.linalg.matrix_norm(Ja) * torch.linalg.matrix_norm(Jb))
    # The paper's mode-pair form: Σ_kl (ĝ_B·q_k^B)(ĝ_A·q_l^A) (q_k^Bᵀ Θ^{AB} q_l^A) / (‖J_B‖‖J_A‖).
    _, qa = torch.linalg.eigh(Ja @ Ja.T)
    _, qb = torch.linalg.eigh(Jb @ Jb.T)
    mixed = Jb @ Ja.T                                  # Θ^{AB} = ∇_θf^B (∇_θf^A)ᵀ, m_B × m_A
    pa, pb = qa.T @ (ga / ga.norm()), qb.T @ (gb / gb.norm())
    pairs = pb[:, None] * (qb.T @ mixed @ qa) * pa[None, :]
    modes = float(pairs.sum()) / float(torch.linalg.matrix_norm(Jb) * torch.linalg.matrix_norm(Ja))
    return {"loss_a": La, "loss_b": Lb, "rows_a": na, "rows_b": nb, "grad_dot": dot, "chi_loss": chi_loss,
            "chi_net": chi_net, "chi_pos": dot / (chi_loss * chi_net), "chi_pos_modes": modes,
            "grad_norms": float(grad_a.norm() * grad_b.norm()),
            "self": {"chi_loss": float(ga @ ga), "chi_net": float((Ja * Ja).sum())},
            "cross": {"chi_loss": float(gb @ gb), "chi_net": float((Jb * Jb).sum())}}


KINDS = ["mlp-mse", "cnn-ce", "lm-ce"]


def check(cross, ref):
    assert cross.rows == ref["rows_b"]
    assert relative_error(cross.loss, ref["loss_b"]) <= 1e-10
    # δL may be small next to its factors: relative to ‖∇L_A‖‖∇L_B‖.
    assert abs(cross.grad_dot - ref["grad_dot"]) <= 1e-10 * ref["grad_norms"], (cross.grad_dot, ref["grad_dot"])
    for key in ("chi_loss", "chi_net"):
        assert relative_error(getattr(cross, key), ref[key]) <= 1e-10, (key, getattr(cross, key), ref[key])
    assert abs(cross.chi_pos - ref["chi_pos"]) <= 1e-10
    assert abs(cross.chi_pos - ref["chi_pos_modes"]) <= 1e-10
    assert not cross.estimate and cross.stderr is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("readout", ["auto", None], ids=["closed-form-readout", "per-sample-readout"])
def test_cross_quantities_equal_an_explicit_jacobian(kind, readout):
    model, loss, a, b = batches(kind)
    ref = reference(model, loss, a, b)
    assert abs(ref["chi_pos"] - ref["chi_pos_modes"]) <= 1e-12  # the two forms of the paper agree
    # B held out ...
    probe = Probe(model, *a, loss=loss, out=None, dtype=torch.float64, trace="exact", readout=readout,
                  cross_inputs=b[0], cross_targets=b[1])
    r = probe.measure(0)
    assert r.cross.source == "heldout"
    check(r.cross, ref)
    assert r.rows == ref["rows_a"]
    # ... and B passed to step (the next training batch): the same numbers.
    probe = Probe(model, *a, loss=loss, every=1, out=None, dtype=torch.float64, trace="exact", readout=readout,
                  cross="train")
    r = probe.step(0, cross_batch=b)
    assert r.cross.source == "train"
    check(r.cross, ref)


@pytest.mark.parametrize("kind", KINDS)
def test_normalised_factors_follow_the_paper_and_perspic(kind):
    """χ̃_loss^{AB} = √(|A||B|)·χ_loss^{AB}, χ̃_net^{AB} = χ_net^{AB}/√(|A||B|);
    perspic logs per batch χ_net/n and n·χ_loss (n = targets.numel(), one
    per row here) and the cross factors as geometric means of the two."""
    model, loss, a, b = batches(kind)
    ref = reference(model, loss, a, b)
    r = Probe(model, *a, loss=loss, out=None, dtype=torch.float64, cross_inputs=b[0],
              cross_targets=b[1]).measure(0)
    na, nb = a[1].numel(), b[1].numel()
    if loss == "mse":
        na, nb = na // 2, nb // 2  # one row per sample of C = 2 targets
    assert (r.rows, r.cross.rows) == (na, nb)
    perspic_self = (ref["self"]["chi_loss"] * na, ref["self"]["chi_net"] / na)
    perspic_cross = (ref["cross"]["chi_loss"] * nb, ref["cross"]["chi_net"] / nb)
    assert relative_error(r.chi_loss_normalized, perspic_self[0]) <= 1e-10
    assert relative_error(r.chi_net_normalized, perspic_self[1]) <= 1e-10
    assert relative_error(r.cross.chi_loss_normalized, math.sqrt(perspic_self[0] * perspic_cross[0])) <= 1e-10
    assert relative_error(r.cross.chi_net_normalized, math.sqrt(perspic_self[1] * perspic_cross[1])) <= 1e-10
    # perspic's cross_chi_coup from its normalised factors is the same χ_pos^{AB}: the product is invariant.
    coup = ref["grad_dot"] / (math.sqrt(perspic_self[0] * perspic_cross[0]) * math.sqrt(perspic_self[1] * perspic_cross[1]))
    assert abs(r.cross.chi_pos - coup) <= 1e-10
    assert relative_error(r.cross.chi_loss_normalized * r.cross.chi_net_normalized,
                          r.cross.chi_loss * r.cross.chi_net) <= 1e-14
    assert relative_error(r.chi_loss_normalized * r.chi_net_normalized, r.chi_loss * r.chi_net) <= 1e-14


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("readout", ["auto", None], ids=["closed-form-readout", "per-sample-readout"])
def test_b_equal_to_a_gives_the_self_quantities_exactly(dtype, readout):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.randn(9, 3), torch.randint(0, 3, (9,))
    r = Probe(model, x, y, loss="cross_entropy", out=None, dtype=dtype, readout=readout, cross_inputs=x,
              cross_targets=y).measure(0)
    c = r.cross
    assert (c.loss, c.grad_dot, c.chi_loss, c.chi_net, c.chi_pos, c.rows) == \
        (r.loss, r.grad_sq, r.chi_loss, r.chi_net, r.chi_pos, r.rows)
    assert (c.chi_loss_normalized, c.chi_net_normalized) == (r.chi_loss_normalized, r.chi_net_normalized)
    # And the self values are those of a probe without a cross batch, bit for bit.
    plain = Probe(model, x, y, loss="cross_entropy", out=None, dtype=dtype, readout=readout).measure(0)
    assert (plain.loss, plain.grad_sq, plain.chi_loss, plain.chi_net, plain.chi_pos) == \
        (r.loss, r.grad_sq, r.chi_loss, r.chi_net, r.chi_pos)
    assert plain.cross is None


def test_an_interfering_batch_gives_a_negative_position():
    """B with the same inputs and the residual reversed (y_B = 2f − y_A): a
    step on A raises the loss on B, g_B = −g_A, so χ_pos^{AB} = −χ_pos."""
    model, _, (x, y), _ = batches("mlp-mse")
    with torch.no_grad():
        f = model(x)
    r = Probe(model, x, y, out=None, dtype=torch.float64, cross_inputs=x, cross_targets=2 * f - y).measure(0)
    assert r.chi_pos > 0 and r.cross.chi_pos < 0 and r.cross.grad_dot < 0
    assert abs(r.cross.chi_pos + r.chi_pos) <= 1e-12
    # First-order check of the meaning: a small step on A raises L_B by about η·δL.
    eta = 1e-6
    with torch.no_grad():
        for p in model.parameters():
            p.grad = None
    la = 0.5 * (model(x) - y).pow(2).sum() / x.shape[0]
    la.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= eta * p.grad
        after = float(0.5 * (model(x) - (2 * f - y)).pow(2).sum() / x.shape[0])
    assert relative_error(after - r.cross.loss, eta * -r.cross.grad_dot) <= 1e-4


def test_the_cross_position_stays_in_minus_one_to_one():
    """Cauchy–Schwarz twice: |∇L_A·∇L_B| ≤ ‖g_A‖‖J_A‖_op‖g_B‖‖J_B‖_op ≤ χ_loss^{AB}χ_net^{AB}.
    Over random batches B, targets and a training run, exact traces."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1))
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    probe = Probe(model, x, y, every=1, out=None, cross="train", spectrum=False)
    generator = torch.Generator().manual_seed(9)
    seen = []
    for step in range(40):
        xb = torch.randn(int(torch.randint(1, 6, (1,), generator=generator)), 2, generator=generator)
        yb = 3 * torch.randn(xb.shape[0], 1, generator=generator)
        r = probe.step(step, cross_batch=(xb, yb))
        seen.append(r.cross.chi_pos)
        optimizer.zero_grad()
        (0.5 * (model(x) - y).pow(2).sum(1).mean()).backward()
        optimizer.step()
    assert all(-1 <= v <= 1 for v in seen)
    assert min(seen) < 0 < max(seen)  # both transfer and interference occur with random targets


def test_normalised_values_are_invariant_to_duplicating_every_row():
    model, loss, (xa, ya), (xb, yb) = batches("cnn-ce")
    once = Probe(model, xa, ya, loss=loss, out=None, dtype=torch.float64, cross_inputs=xb,
                 cross_targets=yb).measure(0)
    twice = Probe(model, xa.repeat(2, 1, 1, 1), ya.repeat(2), loss=loss, out=None, dtype=torch.float64,
                  cross_inputs=xb.repeat(2, 1, 1, 1), cross_targets=yb.repeat(2)).measure(0)
    assert (twice.rows, twice.cross.rows) == (2 * once.rows, 2 * once.cross.rows)
    # The raw factors depend on the row count ...
    assert relative_error(twice.chi_loss, once.chi_loss / 2) <= 1e-12
    assert relative_error(twice.chi_net, 2 * once.chi_net) <= 1e-12
    assert relative_error(twice.cross.chi_loss, once.cross.chi_loss / 2) <= 1e-12
    # ... the normalised ones, χ_pos and δL do not.
    for key in ("chi_loss_normalized", "chi_net_normalized", "chi_pos", "grad_sq", "loss"):
        assert relative_error(getattr(twice, key), getattr(once, key)) <= 1e-12, key
    for key in ("chi_loss_normalized", "chi_net_normalized", "chi_pos", "grad_dot", "loss"):
        assert relative_error(getattr(twice.cross, key), getattr(once.cross, key)) <= 1e-12, key


def test_hutchinson_cross_is_an_estimate_with_its_error():
    """Above the exact limit both traces are Hutchinson estimates; the cross
    χ_net says so, with a standard error that covers the exact value."""
    model, loss, a, b = batches("lm-ce")
    exact = Probe(model, *a, loss=loss, out=None, dtype=torch.float64, trace="exact", cross_inputs=b[0],
                  cross_targets=b[1]).measure(0)
    zs = []
    for seed in range(40):
        r = Probe(model, *a, loss=loss, out=None, dtype=torch.float64, trace="hutchinson", hutchinson_vectors=8,
                  readout=None, seed=seed, cross_inputs=b[0], cross_targets=b[1]).measure(0)
        c = r.cross
        assert c.estimate and c.stderr > 0 and c.vectors == 8
        assert c.grad_dot == exact.cross.grad_dot  # δL and the loss factors are exact whatever the trace
        assert c.chi_loss == exact.cross.chi_loss
        zs.append((c.chi_net - exact.cross.chi_net) / c.stderr)
    inside = sum(abs(z) <= 2 for z in zs)
    assert inside >= 30, zs                        # about 95% expected within 2 stated errors
    assert abs(sum(zs) / len(zs)) <= 1.0, zs       # no gross bias


def test_the_record_carries_the_cross_and_normalised_fields(tmp_path):
    model, loss, a, b = batches("mlp-mse")
    out = tmp_path / "r.jsonl"
    with Probe(model, *a, loss=loss, every=2, out=str(out), cross="train") as probe:
        for step in range(5):
            probe.step(step, cross_batch=b)
            probe.step(step, cross_batch=(b[0][:2], b[1][:2]))  # a step already seen: ignored, B too
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["models"][0]["cross"] == "train"
    assert lines[0]["models"][0]["schedule"] == {"kind": "every", "every": 2}
    steps = [l for l in lines if l["type"] == "step"]
    assert [s["step"] for s in steps] == [0, 2, 4]
    for s, m in zip(steps, probe.history):
        assert s["rows"] == 7 and s["cross_rows"] == 5
        assert s["cross_chi_pos"] == m.cross.chi_pos and s["cross_grad_dot"] == m.cross.grad_dot
        assert s["chi_loss_normalized"] == 7 * s["chi_loss"] == m.chi_loss_normalized
        assert s["cross_chi_net_normalized"] == m.cross.chi_net_normalized
        assert "window" not in s and "cross_chi_net_estimate" not in s


# ---------------------------------------------------------------- bad arguments and failures


X, Y = torch.randn(5, 3), torch.randn(5, 2)


def small():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


@pytest.mark.parametrize("options, message", [
    ({"cross_inputs": X}, "cross_inputs and cross_targets go together"),
    ({"cross_targets": Y}, "cross_inputs and cross_targets go together"),
    ({"cross": "held-out"}, "cross='held-out': use \"heldout\""),
    ({"cross": "heldout"}, "needs the held-out batch"),
    ({"cross": "train", "cross_inputs": X, "cross_targets": Y}, "must not be given too"),
    ({"cross_inputs": {"x": X}, "cross_targets": Y}, r"shaped like probe_inputs \(a tensor\)"),
    ({"cross_inputs": [X, X], "cross_targets": Y}, "not 2 tensors"),
    ({"cross_inputs": X.to("meta"), "cross_targets": Y}, "is on meta"),
    ({"cross_inputs": X, "cross_targets": [1.0]}, "must hold tensors"),
    ({"cross_inputs": X[:0], "cross_targets": Y[:0]}, "must not be empty"),
    ({"cross_inputs": torch.randn(5, 4), "cross_targets": Y}, "fails on the held-out batch"),
    ({"cross_inputs": X, "cross_targets": torch.randn(5, 3)}, "held-out batch .*mse: probe_targets has 15 numbers"),
])
def test_bad_cross_arguments_are_refused_up_front(options, message):
    with pytest.raises(ProbeError, match=message):
        Probe(small(), X, Y, out=None, **options)


def test_a_held_out_batch_with_other_outputs_is_refused():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 4)

        def forward(self, x):
            h = self.body(x)
            return h[:, :2] if x.shape[0] == 5 else h

    with pytest.raises(ProbeError, match="gives 4 outputs per row, the probe batch 2"):
        Probe(TwoHeads(), X, Y, out=None, cross_inputs=torch.randn(3, 3), cross_targets=torch.randn(3, 4))


def test_bad_cross_batches_passed_to_step():
    probe = Probe(small(), X, Y, every=1, out=None)
    with pytest.raises(ProbeError, match=r"needs Probe\(..., cross=\"train\"\)"):
        probe.step(0, cross_batch=(X, Y))
    held = Probe(small(), X, Y, every=1, out=None, cross_inputs=X, cross_targets=Y)
    with pytest.raises(ProbeError, match="its held-out batch"):
        held.step(0, cross_batch=(X, Y))
    train = Probe(small(), X, Y, every=1, out=None, cross="train")
    with pytest.raises(ProbeError, match="must be a pair"):
        train.step(0, cross_batch=X)
    with pytest.raises(ProbeError, match="a sequence of 3"):
        train.step(0, cross_batch=(X, Y, Y))
    with pytest.raises(ProbeError, match="cross_batch is on meta"):
        train.step(0, cross_batch=(X, Y.to("meta")))
    assert train.history == []  # nothing was measured by the refused calls
    assert train.step(0, cross_batch=(X, Y)).cross is not None


def test_a_cross_batch_that_fails_is_said_once_and_the_step_is_recorded(tmp_path):
    """A batch B the model cannot run (the wrong feature count, found only
    when measured) costs the cross fields of that step, never the step or
    the training loop."""
    out = tmp_path / "r.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Probe(small(), X, Y, every=1, out=str(out), cross="train") as probe:
            probe.step(0, cross_batch=(torch.randn(4, 7), torch.randn(4, 2)))
            probe.step(1, cross_batch=(torch.randn(4, 7), torch.randn(4, 2)))
            probe.step(2, cross_batch=(X, Y))
            probe.step(3)  # no B at a measured step
            probe.step(4)
    said = [str(w.message) for w in caught if issubclass(w.category, ProbeWarning)]
    assert len(said) == 2, said
    assert "could not be measured at step 0" in said[0] and "RuntimeError" in said[0]
    assert "got no cross_batch" in said[1]
    steps = [json.loads(l) for l in out.read_text().splitlines() if '"type":"step"' in l]
    assert [("cross_chi_pos" in s) for s in steps] == [False, False, True, False, False]
    events = [json.loads(l) for l in out.read_text().splitlines() if '"type":"event"' in l]
    assert [(e["event"], e["step"]) for e in events] == [("error", 0)] and "RuntimeError" in events[0]["detail"]
    assert [m.cross is not None for m in probe.history] == [False, False, True, False, False]
    assert all(s["chi_pos"] is not None for s in steps)
