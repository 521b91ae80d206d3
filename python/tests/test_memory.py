"""Memory is checked as measured, not as estimated (issue 30 item 3).

The exact spectrum's route is taken only where ``matrix_free.exact_bytes``
(the Jacobian and the kernel) fits in ``spectrum_bytes``: here the process's
peak resident memory while it runs (Linux: VmHWM after resetting it through
/proc/self/clear_refs) is measured against that figure. Before the Jacobian
was filled in place and Θ accumulated in float64 by column blocks, the peak
was about 3× the Jacobian the check counted.
"""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, os, sys, gc
import torch
sys.path.insert(0, os.environ["PROBE_PATH"])
torch.set_num_threads(1)
from spectop_probe import Probe
from spectop_probe.matrix_free import exact_bytes

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

torch.manual_seed(0)
n, d, w, C = 256, 32, 240, 2
net = torch.nn.Sequential(torch.nn.Linear(d, w), torch.nn.Tanh(), torch.nn.Linear(w, w), torch.nn.Tanh(),
                          torch.nn.Linear(w, C))
x, y = torch.randn(n, d), torch.randint(0, C, (n,))
P, m = sum(p.numel() for p in net.parameters()), n * C
chunk = 8 << 20
probe = Probe(net, x, y, loss="cross_entropy", out=None, trace="hutchinson", hutchinson_vectors=2,
              spectrum_method="exact", budget=None, chunk_bytes=chunk, spectrum_bytes=1 << 30)
probe.measure(0)          # the allocator's and torch.func's first-call set-up
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")          # VmHWM := VmRSS
base = status("VmRSS")
result = probe.measure(1)
print(json.dumps({"peak": status("VmHWM") - base, "estimate": exact_bytes(m, P, 4), "chunk": chunk,
                  "jacobian": m * P * 4, "method": result.spectrum.method}))
"""


def test_the_exact_spectrum_peaks_within_what_its_check_counts(tmp_path):
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak resident memory")
    env = dict(os.environ, PROBE_PATH=os.path.join(os.path.dirname(__file__), "..", "..", "python"),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    numbers = json.loads(run.stdout.strip().splitlines()[-1])
    assert numbers["method"] == "exact"
    # The Jacobian (130 MB here) dominates; the per-sample chunk and the float64 column block sit beside it.
    # Resident memory also holds what no buffer count sees (the allocator's free lists, pages
    # torch and LAPACK touch for the first time); on a fresh clone it came to 5% over the
    # buffers (169 MB against 161 MB). The regression this guards against was 3x the Jacobian.
    allowed = numbers["estimate"] + 2 * numbers["chunk"]
    assert numbers["peak"] <= allowed * 1.15, numbers
    assert numbers["peak"] >= 0.9 * numbers["jacobian"], numbers   # the measurement did see the Jacobian
