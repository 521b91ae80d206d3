"""BatchNorm networks in both modes of ``batchnorm=``: "batch" (the default:
normalised with the probe batch's own statistics, the function training
differentiates) and "eval" (the running statistics). A resnet18-shaped CNN
(resnet_shaped.py) against an explicit float64 Jacobian of the same function
(reference_jacobian.py), and the model's running statistics untouched."""

import copy

import pytest
import torch
from torch import nn

from reference_jacobian import assert_matches, explicit
from resnet_shaped import images, resnet_shaped
from spectop_probe import Probe, ProbeError


def state_of(model):
    return {name: value.detach().clone() for name, value in list(model.named_parameters()) + list(model.named_buffers())}


def unchanged(before, model):
    after = state_of(model)
    return before.keys() == after.keys() and all(
        before[k].dtype == after[k].dtype and torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("mode", ["batch", "eval"])
def test_resnet_shaped_cnn_equals_the_explicit_jacobian(mode):
    """Exact trace and exact spectrum: in "batch" mode by whole-batch
    products (a per-sample Jacobian would normalise each image by itself),
    in "eval" mode per sample; both to 1e-10 of the reference."""
    model = resnet_shaped()
    x, y = images()
    ref = explicit(model, x, y, batch_statistics=(mode == "batch"))
    before = state_of(model)
    flags = [m.training for m in model.modules()]
    probe = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, trace="exact", batchnorm=mode)
    result = probe.measure(0)
    assert_matches(result, ref)
    assert probe.function.items_interact == (mode == "batch")
    eigenvalues = torch.tensor(result.spectrum.eigenvalues, dtype=torch.float64)
    assert result.spectrum.method == "exact" and len(eigenvalues) == ref["outputs"] == 40
    assert float((eigenvalues - ref["eigenvalues"]).abs().max()) <= 1e-10 * float(ref["eigenvalues"][0])
    assert unchanged(before, model)   # running_mean, running_var, num_batches_tracked included
    assert [m.training for m in model.modules()] == flags


def test_batch_mode_measures_the_function_being_trained():
    """The probe's loss is the train-mode forward's in "batch" mode (the
    loss the training step differentiates) and the eval-mode forward's in
    "eval" mode; with these running statistics the two differ."""
    model = resnet_shaped()
    x, y = images()
    trained = copy.deepcopy(model).train()
    evaluated = copy.deepcopy(model).eval()
    with torch.no_grad():
        train_loss = float(nn.functional.cross_entropy(trained(x), y))
        eval_loss = float(nn.functional.cross_entropy(evaluated(x), y))
    batch = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, spectrum=False).measure(0)
    running = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, spectrum=False,
                    batchnorm="eval").measure(0)
    assert batch.loss == pytest.approx(train_loss, rel=1e-12)
    assert running.loss == pytest.approx(eval_loss, rel=1e-12)
    assert abs(train_loss - eval_loss) > 0.01 * train_loss


def test_batch_mode_hutchinson_and_matrix_free_spectrum():
    model = resnet_shaped()
    x, y = images()
    ref = explicit(model, x, y, batch_statistics=True)
    result = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, trace="hutchinson",
                   hutchinson_vectors=64, top_k=6).measure(0)
    assert_matches(result, ref, estimate=True)
    s = result.spectrum
    assert s.method == "lanczos"
    top = torch.tensor(s.eigenvalues[:6], dtype=torch.float64)
    assert float(((top - ref["eigenvalues"][:6]).abs() / ref["eigenvalues"][:6]).max()) < 1e-8


def test_batchnorm_value_is_checked_first():
    model = resnet_shaped()
    x, y = images()
    with pytest.raises(ProbeError, match="batchnorm='train'.*\"batch\".*\"eval\""):
        Probe(model, x, y, loss="cross_entropy", out=None, batchnorm="train")


def test_one_item_batch_mode_batchnorm1d_is_a_clear_error():
    """BatchNorm1d on the statistics of a single item has no variance:
    refused at construction with what to do, not raised at a step."""
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    with pytest.raises(ProbeError, match="forward fails on the probe batch.*more items, or pass batchnorm=\"eval\""):
        Probe(model, torch.randn(1, 3), torch.randn(1, 2), out=None)
    Probe(model, torch.randn(1, 3), torch.randn(1, 2), out=None, batchnorm="eval").measure(0)


def test_auto_trace_weighs_the_whole_batch_routes_cost():
    """trace="auto" is exact while m <= exact_max_outputs per sample; the
    whole-batch route (batch statistics) costs a batch backward per output,
    items times more, so it is exact only while m <= exact_max_outputs / items:
    m = 40 with 4 images is exact under a limit of 160, estimated under 159.
    The rule of a budget (the default; measure() always measures):
    budget=None takes the exact trace at any m."""
    model = resnet_shaped()
    x, y = images()
    settings = dict(loss="cross_entropy", out=None, dtype=torch.float64, spectrum=False, hutchinson_vectors=4,
                    budget=0.05)
    assert not Probe(model, x, y, exact_max_outputs=160, **settings).measure(0).chi_net_estimate
    assert Probe(model, x, y, exact_max_outputs=159, **settings).measure(0).chi_net_estimate
    assert not Probe(model, x, y, exact_max_outputs=40, batchnorm="eval", **settings).measure(0).chi_net_estimate
