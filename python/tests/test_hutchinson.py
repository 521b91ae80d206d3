"""The Hutchinson χ_net says what it knows: its stated standard error is a
68 % interval at every vector count K, the record says K, and its working
memory stays within ``chunk_bytes`` however many vectors it draws."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from conftest import HERE, REPO
from test_against_jacobian import batch, reference, tiny_lm
from spectop_probe import Probe
from spectop_probe.measure import hutchinson_chunk, student_factor

# Estimates per K (each from fresh vectors of the probe's seeded generator).
# A stated ±1σ that is right covers the exact value with probability
# p = 0.683; over N = 600 independent estimates the observed coverage has the
# binomial spread sqrt(p(1-p)/N) = 0.019, so the band [0.60, 0.76] lies 4.3σ
# below and 4.0σ above p: a correct estimator fails it with probability below
# 1e-4. The plain s/√K at K = 2 (coverage 0.50: the t quantile there is 1.84)
# fails it by 5σ. On this model the t interval's coverage measured over
# 1,500-2,000 draws was 0.66 (K = 2, 4) and 0.68 (K = 16, 32): an estimate
# dominated by a few large eigenvalues is skewed, so the t interval lands a
# little under 0.683 at small K.
COVERAGE_SEEDS = {2: 600, 4: 600, 16: 600}


@pytest.mark.parametrize("vectors", sorted(COVERAGE_SEEDS))
def test_stated_standard_error_covers_the_exact_value_68_percent_of_the_time(vectors):
    model = tiny_lm()
    x, y = batch()
    exact = reference(model, x, y)["chi_net"]  # an explicit float64 Jacobian's ‖J‖_F²
    probe = Probe(model, x, y, loss="cross_entropy", out=None, dtype=torch.float64, trace="hutchinson",
                  hutchinson_vectors=vectors, spectrum=False, seed=1000 + vectors)
    seeds = COVERAGE_SEEDS[vectors]
    covered = 0
    for k in range(seeds):  # each measurement draws fresh vectors from the probe's generator
        r = probe.measure(k)
        assert r.chi_net_estimate and r.hutchinson_vectors == vectors
        covered += abs(r.chi_net - exact) <= r.chi_net_stderr
    coverage = covered / seeds
    print("K = %d: ±1 stated standard error covered the exact χ_net in %.3f of %d estimates"
          % (vectors, coverage, seeds))
    assert 0.60 <= coverage <= 0.76, coverage


def test_student_factor_is_the_t_quantile_at_one_sigma():
    """Independent of SciPy: the t distribution with ν = 1 is Cauchy
    (quantile tan(π(p − ½))), with ν = 2 it has the closed-form quantile
    (2p − 1)·sqrt(2 / (1 − (2p − 1)²)); for large ν it tends to 1."""
    p = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    assert student_factor(2) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    a = 2 * p - 1
    assert student_factor(3) == pytest.approx(a * math.sqrt(2 / (1 - a * a)), rel=1e-10)
    assert 1.0 < student_factor(1000) < 1.001


def test_record_says_how_many_vectors_each_estimate_used(tmp_path):
    model = tiny_lm()
    x, y = batch()
    out = tmp_path / "run.jsonl"
    with Probe(model, x, y, loss="cross_entropy", out=str(out), trace="hutchinson", hutchinson_vectors=6,
               spectrum=False, every=1) as probe:
        probe.step(0)
        probe.step(1)
    with Probe(model, x, y, loss="cross_entropy", out=str(tmp_path / "exact.jsonl"), trace="exact",
               spectrum=False) as exact:
        exact.step(0)
    steps = [json.loads(line) for line in open(out) if '"type":"step"' in line]
    assert [s["chi_net_vectors"] for s in steps] == [6, 6]
    assert all(s["chi_net_estimate"] is True and s["chi_net_stderr"] > 0 for s in steps)
    exact_steps = [json.loads(line) for line in open(tmp_path / "exact.jsonl") if '"type":"step"' in line]
    assert exact_steps and not any("chi_net_vectors" in s for s in exact_steps)


def test_chunk_holds_what_one_vector_costs():
    # 4.2M outputs of float32: signs (1 byte) + vector + cotangent (4 each) = 37.7 MB, plus the gradients.
    outputs, parameters = 4 * 64 * 16384, 300_000
    per_vector = outputs * 9 + parameters * 4
    assert hutchinson_chunk(parameters, outputs, 4, per_vector * 3, 32) == 3
    assert hutchinson_chunk(parameters, outputs, 4, per_vector * 3 - 1, 32) == 2
    assert hutchinson_chunk(parameters, outputs, 4, 1, 32) == 1       # never none
    assert hutchinson_chunk(parameters, outputs, 4, 1 << 40, 32) == 32  # never more than asked for


MEMORY_SCRIPT = r"""
import json, sys
import torch
from torch import nn
sys.path.insert(0, sys.argv[3])
from spectop_probe import Probe
from spectop_probe.measure import student_factor
student_factor(vectors := int(sys.argv[2]))   # SciPy's import is not the measurement's memory
torch.set_num_threads(1)
chunk, vectors = int(sys.argv[1]), int(sys.argv[2])
V, W, T, B = 16384, 16, 64, 4          # a language model's head: m = 4 x 64 x 16,384 = 4.2M outputs
torch.manual_seed(0)
model = nn.Sequential(nn.Embedding(V, W), nn.Tanh(), nn.Linear(W, W), nn.Tanh(), nn.Linear(W, V))
x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1)).backward()   # a training step
probe = Probe(model, x, y, loss="cross_entropy", out=None, trace="hutchinson", hutchinson_vectors=vectors,
              spectrum=False, chunk_bytes=chunk)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024   # kB

# The peak RSS (VmHWM) restarts from the current RSS: a child's ru_maxrss
# starts from its parent's (a large pytest process), so it cannot be used.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
result = probe.measure(0)
print(json.dumps({"before": before, "after": status("VmHWM"), "outputs": B * T * V,
                  "vectors": result.hutchinson_vectors}))
"""


def _peak_growth(chunk_bytes, vectors):
    """(bytes the peak RSS rose above the RSS before one measurement, m), in
    a fresh interpreter: torch's allocator is invisible to tracemalloc; the
    peak is the kernel's VmHWM, reset just before the measurement."""
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(chunk_bytes), str(vectors),
                           os.path.join(REPO, "python")], capture_output=True, text=True, timeout=300, cwd=HERE)
    if done.returncode != 0 and "clear_refs" in done.stderr:
        pytest.skip("cannot reset the peak RSS here (/proc/self/clear_refs): %s" % done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr[-2000:]
    numbers = json.loads(done.stdout.strip().splitlines()[-1])
    assert numbers["vectors"] == vectors
    return numbers["after"] - numbers["before"], numbers["outputs"]


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs")
def test_hutchinson_memory_stays_within_chunk_bytes():
    """Peak RSS measured (VmHWM in a subprocess), not estimated: 32 vectors
    on a 16,384-token vocabulary (16.8 MB per output-space vector) with
    chunk_bytes = 16 MiB raise the peak above the RSS before the measurement
    by its fixed part (F and the probe forward's F, the loss's log-softmax,
    g, the pullback's saved tensors) plus one chunk (one vector here: 38 MB
    with its signs and cotangent): 120 MB measured, about 5 logits-sized
    tensors besides the vector; the bound is 12 logits + chunk_bytes
    (218 MB). All 32 vectors at once (chunk_bytes unlimited; before, only
    the gradients were counted, and they fit) raised it by 760-830 MB, so
    the bound catches that."""
    chunk = 16 << 20
    growth, outputs = _peak_growth(chunk, 32)
    bound = chunk + 12 * outputs * 4
    print("peak RSS growth: %.0f MB with chunk_bytes = 16 MiB (bound %.0f MB)" % (growth / 1e6, bound / 1e6))
    assert growth <= bound, (growth, bound)
    unlimited, _ = _peak_growth(1 << 40, 32)
    print("peak RSS growth: %.0f MB with every vector at once" % (unlimited / 1e6))
    assert unlimited > bound, (unlimited, bound)
