"""The eNTK operator Θv = J(Jᵀv) of the whole probe batch against an explicit
float64 Jacobian (< 1e-10 relative), on models the per-sample route cannot
take: a causal LM with keyword inputs, an attention mask and right padding
(data-dependent control flow, a non-tensor keyword), the same through the
fused scaled_dot_product_attention kernel, a model whose items interact
(batch centring), and a custom autograd Function whose backward detaches.

The reference is torch.func.jacrev of the whole batch's flattened outputs:
J [m, P], every parameter column, no route of the probe's used."""

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from masked_lm import masked_lm, padded_batch
from spectop_probe.entk import ROUTES, entk_operator
from spectop_probe.spectrum import SpectrumFailure
from test_against_jacobian import batch as lm_batch, tiny_lm


def explicit_jacobian(model, inputs, names=None):
    """J [m, P] of the flattened outputs, rows sample-major (the probe's order)."""
    if isinstance(inputs, dict):
        args, kwargs = (), inputs
    else:
        args, kwargs = (inputs,), {}
    names = names or [n for n, p in model.named_parameters() if p.requires_grad]
    theta = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    rest = {n: p.detach() for n, p in model.named_parameters() if n not in names}
    rest.update(dict(model.named_buffers()))

    def outputs(t):
        out = functional_call(model, (t, rest), args, kwargs)
        return out.reshape(-1)

    jac = jacrev(outputs)(theta)
    m = next(iter(jac.values())).shape[0]
    return torch.cat([jac[n].reshape(m, -1) for n in names], dim=1)


def relative(a, b):
    return float((a - b).norm() / b.norm())


class Centred(nn.Module):
    """An MLP on batch-centred inputs: every output depends on every item,
    so the operator must not split the batch."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))

    def forward(self, x):
        return self.net(x - x.mean(0, keepdim=True))


class DetachedSquare(torch.autograd.Function):
    """x² with a correct first derivative whose backward is not itself
    differentiable in the cotangent (it detaches it), and a correct jvp."""
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad.detach()

    @staticmethod
    def jvp(ctx, tangent):
        (x,) = ctx.saved_tensors
        return 2 * x * tangent


class Squared(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(4, 5), nn.Linear(5, 3)

    def forward(self, x):
        return self.second(DetachedSquare.apply(self.first(x)))


def cases():
    torch.manual_seed(0)
    x = torch.randn(5, 4, dtype=torch.float64)
    tokens, _ = lm_batch()
    return {
        "char-gpt": (tiny_lm(), tokens),
        "masked-lm": (masked_lm(), padded_batch()),
        "masked-lm-sdpa": (masked_lm(sdpa=True), padded_batch()),
        "batch-centred": (Centred().double(), x),
        "detached-backward": (Squared().double(), x),
    }


CASES = cases()
EXPECTED_ROUTE = {"char-gpt": "reverse", "masked-lm": "reverse", "masked-lm-sdpa": "reverse-math",
                  "batch-centred": "reverse", "detached-backward": "forward"}


@pytest.mark.filterwarnings("ignore:There is a performance drop")
@pytest.mark.parametrize("name", sorted(CASES))
def test_products_equal_the_explicit_jacobian(name):
    model, inputs = CASES[name]
    J = explicit_jacobian(model, {k: v for k, v in inputs.items()} if isinstance(inputs, dict) else inputs)
    theta = J @ J.T
    operator = entk_operator(model, inputs)
    assert operator.size == J.shape[0] and operator.parameters == J.shape[1]
    generator = torch.Generator().manual_seed(7)
    block = torch.randn(3, operator.size, generator=generator, dtype=torch.float64)
    assert relative(operator.apply(block), block @ theta) < 1e-10   # several vectors at once
    assert relative(operator.apply(block[:1]), block[:1] @ theta) < 1e-10
    assert operator.route == EXPECTED_ROUTE[name]


def test_the_masked_lm_is_one_the_per_sample_route_cannot_take():
    """The premise of the masked-LM cases: per-sample vmap fails on its
    data-dependent mask. The exact trace then takes whole-batch products
    (one backward per output entry through the measurement's pullback),
    says why in ``per_sample_failure``, and equals the explicit Jacobian."""
    from spectop_probe import Probe
    from reference_jacobian import explicit, relative as scalar_relative
    model = masked_lm()
    inputs = padded_batch()
    labels = torch.zeros(3, 6, dtype=torch.long)
    probe = Probe(model, inputs, labels, loss="cross_entropy", out=None, dtype=torch.float64, trace="exact",
                  spectrum=False)
    result = probe.measure(0)
    assert "per-sample route" in probe.function.per_sample_failure
    ref = explicit(model, inputs, labels)
    assert scalar_relative(result.chi_net, ref["chi_net"]) < 1e-12
    assert scalar_relative(result.grad_sq, ref["grad_sq"]) < 1e-10


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_gives_the_same_products(route):
    """Each route alone, on a model all three can take."""
    model, tokens = CASES["char-gpt"]
    J = explicit_jacobian(model, tokens)
    operator = entk_operator(model, tokens, routes=(route,))
    block = torch.randn(2, operator.size, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert relative(operator.apply(block), block @ (J @ J.T)) < 1e-10
    assert operator.route == route


def test_a_route_that_gives_wrong_products_is_refused():
    """The detached backward makes the reverse route's Ju silently wrong;
    alone, it is refused by the check, not used."""
    model, x = CASES["detached-backward"]
    operator = entk_operator(model, x, routes=("reverse",))
    with pytest.raises(SpectrumFailure, match="passes the check"):
        operator.apply(torch.ones(1, operator.size, dtype=torch.float64))


def test_a_subset_of_parameters_and_chunks_of_one_vector():
    """θ a subset (the readout and one hidden layer), and chunk_bytes so small
    that every vector of a block is its own chunk: the same products."""
    model, tokens = CASES["char-gpt"]
    names = [n for n, _ in model.named_parameters() if n.startswith(("lm_head.", "blocks.0.mlp."))]
    J = explicit_jacobian(model, tokens, names)
    operator = entk_operator(model, tokens, trainable=names, chunk_bytes=1)
    assert operator.chunk == 1 and operator.parameters == J.shape[1]
    block = torch.randn(4, operator.size, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert relative(operator.apply(block), block @ (J @ J.T)) < 1e-10
