"""The probe against an explicit float64 Jacobian of a tiny transformer LM.

The reference forms J = ∂F/∂θ with torch.func.jacrev of the whole probe
batch (m = n·C rows, every parameter column), Θ = J Jᵀ, and g from the
closed-form cross-entropy residual (softmax − onehot)/n: none of the probe's
routes (per-sample vmap, closed-form readout, Hutchinson) is used."""

import math

import pytest
import torch
from torch.func import functional_call, jacrev

from char_gpt import CharGPT
from conftest import relative_error
from spectop_probe import Probe

VOCAB, BLOCK, ITEMS = 5, 4, 3


def tiny_lm(seed=0, frozen=False):
    torch.manual_seed(seed)
    model = CharGPT(VOCAB, BLOCK, width=8, depth=1, heads=2).double()
    # Train-like weights, not the symmetric initial ones (LayerNorm's 1/0).
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.freeze_body() if frozen else model


def batch(seed=1):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, VOCAB, (ITEMS, BLOCK + 1), generator=generator)
    return tokens[:, :-1], tokens[:, 1:]


def reference(model, x, y):
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    theta = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    rest = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    rest.update(dict(model.named_buffers()))

    def outputs(t):
        return functional_call(model, (t, rest), (x,)).reshape(-1)

    with torch.no_grad():
        F = outputs(theta).reshape(-1, VOCAB)
    jac = jacrev(outputs)(theta)
    J = torch.cat([jac[n].reshape(F.numel(), -1) for n in names], dim=1)  # [m, P]
    n = F.shape[0]
    p = torch.softmax(F, dim=1)
    labels = y.reshape(-1)
    loss = float(-(torch.log(p[torch.arange(n), labels])).mean())
    g = p.clone()
    g[torch.arange(n), labels] -= 1
    g = (g / n).reshape(-1)
    theta_kernel = J @ J.T
    values, vectors = torch.linalg.eigh(theta_kernel)
    values, vectors = values.flip(0).clamp_min(0), vectors.flip(1)
    ghat = g / g.norm()
    w = (vectors.T @ ghat) ** 2
    lambda_eff = float(ghat @ theta_kernel @ ghat)
    pk = values[values > 0] / values.sum()
    return {
        "J": J, "theta": theta_kernel, "names": names,
        "loss": loss, "chi_loss": float(g @ g), "chi_net": float(torch.trace(theta_kernel)),
        "grad_sq": float(g @ theta_kernel @ g),
        "chi_pos": float(g @ theta_kernel @ g) / (float(g @ g) * float(torch.trace(theta_kernel))),
        "eigenvalues": values, "weights": w, "lambda_eff": lambda_eff,
        "chi_pos_exact": float(w @ values / values.sum()),
        "r_eff": float((values >= lambda_eff).sum()) / values.numel(),
        "effective_rank": float(torch.exp(-(pk * pk.log()).sum())),
    }


@pytest.mark.parametrize("frozen", [False, True], ids=["active", "frozen"])
@pytest.mark.parametrize("readout", ["auto", None], ids=["closed-form-readout", "per-sample-readout"])
def test_exact_quantities(frozen, readout):
    model = tiny_lm(frozen=frozen)
    x, y = batch()
    ref = reference(model, x, y)
    probe = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, trace="exact", readout=readout)
    r = probe.measure(0)
    if readout == "auto":
        assert probe.function.readout_name == "lm_head"
        assert r.readout_chi_net > 0
    else:
        assert r.readout_chi_net == 0
    worst = 0.0
    for key in ("loss", "chi_loss", "chi_net", "grad_sq", "chi_pos"):
        error = relative_error(getattr(r, key), ref[key])
        worst = max(worst, error)
        assert error <= 1e-10, "%s: %r vs reference %r (%.2e)" % (key, getattr(r, key), ref[key], error)
    s = r.spectrum
    assert s is not None
    eigenvalues = torch.tensor(s.eigenvalues, dtype=torch.float64)
    assert float((eigenvalues - ref["eigenvalues"]).abs().max()) <= 1e-10 * float(ref["eigenvalues"][0])
    for key in ("chi_pos_exact", "lambda_eff", "effective_rank"):
        assert relative_error(getattr(s, key), ref[key]) <= 1e-10, key
    assert s.r_eff == ref["r_eff"]
    # Mode weights are determined only up to rotations inside a cluster of equal
    # eigenvalues (a frozen Θ = K ⊗ I has every eigenvalue C times): compare
    # cumulative weights at gaps in the spectrum.
    lam = ref["eigenvalues"]
    gaps = torch.nonzero(lam[:-1] - lam[1:] >= 1e-6 * lam[0]).reshape(-1)
    cumulative = torch.cumsum(torch.tensor(s.weights, dtype=torch.float64), 0)
    assert float((cumulative[gaps] - torch.cumsum(ref["weights"], 0)[gaps]).abs().max()) <= 1e-10
    # The two forms of χ_pos agree.
    assert relative_error(s.chi_pos_exact, r.chi_pos) <= 1e-10
    print("largest relative error against the explicit Jacobian: %.1e" % worst)


def test_frozen_body_is_exact_even_with_hutchinson():
    """With only the readout trainable, χ_net is its closed form: exact, no estimate."""
    model = tiny_lm(frozen=True)
    x, y = batch()
    ref = reference(model, x, y)
    r = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, trace="hutchinson").measure(0)
    assert not r.chi_net_estimate and r.chi_net_stderr is None
    assert relative_error(r.chi_net, ref["chi_net"]) <= 1e-10


def test_hutchinson_is_unbiased_and_reports_its_error():
    """Many independent estimates: their mean lies within 3 standard errors
    of the exact trace, and the standard error each reports matches the
    observed spread of the estimates (within 20%) and the theoretical one,
    sqrt(2(‖Θ_b‖_F² − Σ diag Θ_b²)/K) for the body kernel Θ_b."""
    model = tiny_lm()
    x, y = batch()
    ref = reference(model, x, y)
    vectors, repeats = 8, 200
    probe = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, trace="hutchinson",
                  hutchinson_vectors=vectors, spectrum=False, seed=11)
    estimates, errors = [], []
    for k in range(repeats):
        r = probe.measure(k)
        assert r.chi_net_estimate and r.hutchinson_vectors == vectors
        estimates.append(r.chi_net)
        errors.append(r.chi_net_stderr)
    estimates = torch.tensor(estimates, dtype=torch.float64)
    spread = float(estimates.std(unbiased=True))
    mean_error = math.sqrt(float(torch.tensor(errors).pow(2).mean()))
    exact = ref["chi_net"]
    assert abs(float(estimates.mean()) - exact) <= 3 * spread / math.sqrt(repeats), (float(estimates.mean()), exact)
    assert abs(mean_error - spread) <= 0.2 * spread, (mean_error, spread)
    # The closed-form readout share is exact; the estimate's variance is the body's.
    body_columns = [k for k, name in enumerate(n for n in ref["names"] for _ in range(dict(model.named_parameters())[n].numel()))
                    if not name.startswith("lm_head.")]
    Jb = ref["J"][:, body_columns]
    theta_b = Jb @ Jb.T
    theoretical = math.sqrt(2 * (float(theta_b.pow(2).sum()) - float(torch.diagonal(theta_b).pow(2).sum())) / vectors)
    assert abs(spread - theoretical) <= 0.2 * theoretical, (spread, theoretical)
    print("Hutchinson: exact %.6g, mean %.6g, spread %.4g, reported %.4g, theory %.4g"
          % (exact, float(estimates.mean()), spread, mean_error, theoretical))


def test_hutchinson_runs_one_backward_per_vector_batch(monkeypatch):
    """The cost is one batched backward for all vectors, whatever the
    parameter count (a bug once ran one backward per parameter tensor:
    29 times too many on the benchmark's transformer)."""
    model = tiny_lm()
    x, y = batch()
    probe = Probe(model, x, y, loss="cross_entropy", out=None, trace="hutchinson", hutchinson_vectors=8,
                  spectrum=False)
    probe.measure(0)  # readout detection happens once, on the first measurement
    calls = []
    original = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or original(*a, **k))
    probe.measure(1)
    # g from the loss, Jᵀg, and one vmapped Jᵀv for the 8 vectors.
    assert len(calls) == 3, len(calls)
    assert len([n for n, _ in model.named_parameters()]) > 10  # so the old bug would show


def test_trainable_readout_equals_a_frozen_body():
    """trainable="readout" measures the same θ as requires_grad=False on the body."""
    x, y = batch()
    frozen = Probe(tiny_lm(frozen=True), x, y, loss="cross_entropy", out=None, dtype=torch.float64).measure(0)
    named = Probe(tiny_lm(), x, y, loss="cross_entropy", out=None, dtype=torch.float64, trainable="readout")
    assert named.trainable == ["lm_head.weight", "lm_head.bias"] and named.mode == "frozen"
    result = named.measure(0)
    for key in ("loss", "chi_loss", "chi_net", "grad_sq", "chi_pos"):
        assert getattr(result, key) == getattr(frozen, key), key
