"""An explicit float64 Jacobian reference for any model, independent of the
probe's routes: ``torch.func.jacrev`` of the whole batch's outputs (every
parameter column), the rows a classification loss counts selected by hand
(labels of -100, and Hugging Face's causal shift), ``g`` from the
closed-form cross-entropy residual (softmax − onehot)/n, ``Θ = J Jᵀ`` and
its ``eigh``. BatchNorm layers can be put on the batch's statistics (their
running statistics on copies), as training computes them."""

import torch
from torch import nn
from torch.func import functional_call, jacrev


def logits_of(output):
    return output.logits if hasattr(output, "logits") else output


def valid_rows(labels, causal=False):
    """(row indices, their labels) of the flattened [rows] labels."""
    if causal:
        labels = torch.cat([labels[:, 1:], torch.full_like(labels[:, :1], -100)], dim=1)
    flat = labels.reshape(-1)
    rows = torch.nonzero(flat != -100).reshape(-1)
    return rows, flat[rows]


def explicit(model, inputs, labels, causal=False, batch_statistics=False, trainable=None):
    """The LNP quantities of ``model`` (float64) on ``inputs`` (a dict of
    keyword inputs, or a tensor) with cross-entropy on ``labels``."""
    names = trainable or [n for n, p in model.named_parameters() if p.requires_grad]
    theta = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    constants = {n: p.detach() for n, p in model.named_parameters() if n not in names}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    args, kwargs = ((), dict(inputs)) if isinstance(inputs, dict) else ((inputs,), {})
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    if batch_statistics:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.train()
    rows, targets = valid_rows(labels, causal)

    def outputs(t):
        state = {**t, **constants, **{n: b.clone() for n, b in buffers.items()}}  # running stats on copies
        F = logits_of(functional_call(model, state, args, kwargs))
        return F.reshape(-1, F.shape[-1]).index_select(0, rows).reshape(-1)

    try:
        with torch.no_grad():
            F = outputs(theta)
        jac = jacrev(outputs)(theta)
    finally:
        for m, training in modes:
            m.training = training
    m = F.numel()
    J = torch.cat([jac[n].reshape(m, -1) for n in names], dim=1)
    n = rows.numel()
    C = m // n
    F = F.reshape(n, C)
    p = torch.softmax(F, dim=1)
    loss = float(-torch.log(p[torch.arange(n), targets]).mean())
    g = p.clone()
    g[torch.arange(n), targets] -= 1
    g = (g / n).reshape(-1)
    kernel = J @ J.T
    values = torch.linalg.eigvalsh(kernel).flip(0).clamp_min(0)
    chi_loss, chi_net, grad_sq = float(g @ g), float(torch.trace(kernel)), float(g @ kernel @ g)
    return {"J": J, "kernel": kernel, "rows": n, "outputs": m, "loss": loss, "chi_loss": chi_loss,
            "chi_net": chi_net, "grad_sq": grad_sq, "chi_pos": grad_sq / (chi_loss * chi_net),
            "eigenvalues": values}


def relative(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def assert_matches(result, ref, tolerance=1e-10, estimate=False):
    """The probe's step quantities against the reference (χ_net and χ_pos
    only within 4 stated standard errors when estimated)."""
    assert result.rows == ref["rows"]
    for key in ("loss", "chi_loss", "grad_sq") + (() if estimate else ("chi_net", "chi_pos")):
        error = relative(getattr(result, key), ref[key])
        assert error <= tolerance, "%s: %r vs reference %r (%.2e)" % (key, getattr(result, key), ref[key], error)
    if estimate:
        assert abs(result.chi_net - ref["chi_net"]) <= 4 * result.chi_net_stderr, (result.chi_net, ref["chi_net"])
