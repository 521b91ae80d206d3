"""On a CUDA device (skipped without one): the same numbers as on the CPU,
float32 and bfloat16 models, and the CUDA RNG stream left untouched."""

import pytest
import torch

from char_gpt import CharGPT
from conftest import relative_error
from spectop_probe import Probe

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def model_and_batch():
    torch.manual_seed(0)
    model = CharGPT(7, 8, width=16, depth=1, heads=2, dropout=0.1)
    x = torch.randint(0, 7, (3, 8), generator=torch.Generator().manual_seed(1))
    return model, x


@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
def test_cuda_matches_cpu_in_float64(trace):
    model, x = model_and_batch()
    options = dict(loss="cross_entropy", out=None, dtype=torch.float64, trace=trace, hutchinson_vectors=64)
    cpu = Probe(model, x, x, **options).measure(0)
    model.cuda()
    before = torch.cuda.get_rng_state()
    gpu = Probe(model, x.cuda(), x.cuda(), **options).measure(0)
    assert torch.equal(torch.cuda.get_rng_state(), before)
    for key in ("loss", "chi_loss", "grad_sq"):
        assert relative_error(getattr(gpu, key), getattr(cpu, key)) <= 1e-10, key
    if trace == "exact":
        assert relative_error(gpu.chi_net, cpu.chi_net) <= 1e-10
        assert gpu.spectrum is not None
        assert relative_error(gpu.spectrum.chi_pos_exact, cpu.spectrum.chi_pos_exact) <= 1e-9
    else:  # different random vectors on the two devices: agreement within the errors
        assert abs(gpu.chi_net - cpu.chi_net) <= 5 * (gpu.chi_net_stderr ** 2 + cpu.chi_net_stderr ** 2) ** 0.5


def test_cuda_bfloat16_model():
    model, x = model_and_batch()
    model = model.cuda().to(torch.bfloat16)
    snapshot = [p.detach().clone() for p in model.parameters()]
    r = Probe(model, x.cuda(), x.cuda(), loss="cross_entropy", out=None, dtype=torch.float32).measure(0)
    assert r.diverged is None and r.chi_pos is not None
    assert all(p.dtype == torch.bfloat16 and torch.equal(p, q) for p, q in zip(model.parameters(), snapshot))


def test_cuda_matrix_free_spectrum():
    """The matrix-free route on the device (products, Krylov basis): the same
    head, weights and λ_eff as on the CPU in float64, and in float32 within
    its round-off. The quadrature's seeds come from each device's generator,
    so the densities are independent estimates and are not compared."""
    model, x = model_and_batch()
    options = dict(loss="cross_entropy", out=None, trace="exact", spectrum_method="lanczos", top_k=8)
    cpu = Probe(model, x, x, dtype=torch.float64, **options).measure(0).spectrum
    model.cuda()
    gpu = Probe(model, x.cuda(), x.cuda(), dtype=torch.float64, **options).measure(0).spectrum
    single = Probe(model, x.cuda(), x.cuda(), dtype=torch.float32, **options).measure(0).spectrum
    assert cpu.method == gpu.method == single.method == "lanczos"
    for got, tolerance in ((gpu, 1e-9), (single, 1e-4)):
        assert max(abs(a - b) / b for a, b in zip(got.eigenvalues, cpu.eigenvalues)) <= tolerance
        assert relative_error(got.lambda_eff, cpu.lambda_eff) <= tolerance
    assert sum(gpu.weights) == pytest.approx(sum(cpu.weights), abs=1e-9)


def test_cuda_cross_batch_matches_cpu_in_float64():
    """The cross-batch quantities (a held-out B and a B passed to step) on CUDA equal the CPU's."""
    model, x = model_and_batch()
    xb = torch.randint(0, 7, (2, 8), generator=torch.Generator().manual_seed(2))
    options = dict(loss="cross_entropy", out=None, dtype=torch.float64, trace="exact", spectrum=False)
    cpu = Probe(model, x, x, cross_inputs=xb, cross_targets=xb, **options).measure(0).cross
    model.cuda()
    held = Probe(model, x.cuda(), x.cuda(), cross_inputs=xb.cuda(), cross_targets=xb.cuda(), **options).measure(0)
    train = Probe(model, x.cuda(), x.cuda(), cross="train", every=1, **options).step(0, cross_batch=(xb.cuda(), xb.cuda()))
    for gpu in (held.cross, train.cross):
        for key in ("loss", "grad_dot", "chi_loss", "chi_net", "chi_pos", "chi_loss_normalized", "chi_net_normalized"):
            assert relative_error(getattr(gpu, key), getattr(cpu, key)) <= 1e-10, key
        assert gpu.rows == cpu.rows == 16
    with pytest.raises(Exception, match="cross_batch is on cpu"):
        Probe(model, x.cuda(), x.cuda(), cross="train", every=1, **options).step(0, cross_batch=(xb, xb))


def test_cuda_budget_keeps_the_share_and_measures_peak_memory(tmp_path):
    """On CUDA: the budget's realised share on test_budget's fake clock
    (the deterministic-cost model on the device), and the exact spectrum's
    peak device memory (torch.cuda.max_memory_allocated) within what its
    spectrum_bytes check counts (the Jacobian and the kernel)."""
    from spectop_probe.matrix_free import exact_bytes
    from test_budget import FakeClock, realised_shares, train, batch, Costed, on_fake_clock
    clock = FakeClock()
    x, y = batch()
    model = Costed(clock).double().cuda()
    probe = Probe(model, x.cuda(), y.cuda(), loss="cross_entropy", out=None, dtype=torch.float64, every=10,
                  budget=0.05, chunk_bytes=1)
    on_fake_clock(probe, clock)
    calls = train(probe, clock, 600, 40.0)
    assert any(result is not None for _, _, result in calls)
    assert max(share for _, share in realised_shares(probe, calls, 40.0, 600)) <= 0.05 * (1 + 1e-9)

    torch.manual_seed(0)
    n, d, w, C = 256, 32, 240, 2
    net = torch.nn.Sequential(torch.nn.Linear(d, w), torch.nn.Tanh(), torch.nn.Linear(w, w), torch.nn.Tanh(),
                              torch.nn.Linear(w, C)).cuda()
    xs, ys = torch.randn(n, d).cuda(), torch.randint(0, C, (n,)).cuda()
    chunk = 8 << 20
    probe = Probe(net, xs, ys, loss="cross_entropy", out=None, trace="hutchinson", hutchinson_vectors=2,
                  spectrum_method="exact", budget=None, chunk_bytes=chunk)
    probe.measure(0)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    result = probe.measure(1)
    assert result.spectrum is not None and result.spectrum.method == "exact"
    P = sum(p.numel() for p in net.parameters())
    peak = torch.cuda.max_memory_allocated() - base
    assert peak <= (exact_bytes(n * C, P, 4) + 2 * chunk) * 1.05, (peak, exact_bytes(n * C, P, 4))


def test_cuda_masked_lm_and_batchnorm_match_cpu_in_float64():
    """The whole-batch exact routes on the device: a masked LM with -100 on
    padding (causal_lm, a non-tensor keyword) and a BatchNorm CNN on batch
    statistics give the CPU's numbers, and the CNN's running statistics stay
    as they were."""
    from masked_lm import masked_lm, padded_batch
    from resnet_shaped import images, resnet_shaped

    def to(inputs, device):
        return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}

    inputs = padded_batch(seed=1, items=3, block=6, vocab=7, lengths=(6, 4, 2))
    labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
    x, y = images()
    for model, batch, targets, loss in ((masked_lm(), inputs, labels, "causal_lm"),
                                        (resnet_shaped(), x, y, "cross_entropy")):
        options = dict(loss=loss, out=None, dtype=torch.float64, trace="exact")
        cpu = Probe(model, batch, targets, **options).measure(0)
        model.cuda()
        buffers = [b.detach().clone() for b in model.buffers()]
        on_device = to(batch, "cuda") if isinstance(batch, dict) else batch.cuda()
        gpu = Probe(model, on_device, targets.cuda(), **options).measure(0)
        for key in ("loss", "chi_loss", "grad_sq", "chi_net"):
            assert relative_error(getattr(gpu, key), getattr(cpu, key)) <= 1e-9, key
        assert gpu.rows == cpu.rows
        assert relative_error(gpu.spectrum.eigenvalues[0], cpu.spectrum.eigenvalues[0]) <= 1e-9
        assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))


def test_cuda_record_names_the_device_and_its_memory(tmp_path):
    """A record written on CUDA: the header names the GPU (`cuda:N NAME`) and
    the usage line holds the memory PyTorch's allocator reserves, read back
    from torch itself after the run (utilisation only where NVML is usable)."""
    import json
    model, x = model_and_batch()
    model.cuda()
    out = tmp_path / "cuda.jsonl"
    with Probe(model, x.cuda(), x.cuda(), loss="cross_entropy", out=str(out), every=1, name="gpt") as probe:
        probe.step(0)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    index = torch.cuda.current_device()
    assert lines[0]["device"] == "cuda:%d %s" % (index, torch.cuda.get_device_name(index))
    assert lines[0]["torch"] == torch.__version__
    usage = [l for l in lines if l["type"] == "usage"]
    assert len(usage) == 1
    assert 0 < usage[0]["gpu_memory_bytes"] <= torch.cuda.max_memory_reserved(index)
    if "gpu_utilization" in usage[0]:
        assert 0 <= usage[0]["gpu_utilization"] <= 100
