#!/usr/bin/env python3
"""PyTorch peer comparison for `spectop bench`.

Builds the MLPs that `spectop bench --json` measured (same shapes, same
thread count, CPU, float32) in PyTorch and times the same operations:

  * one training step: forward, MSE loss, backward, SGD update;
  * kernel-free LNP with torch.func: per-sample gradients with vmap(grad) for
    Tr(Theta) (one pass per output, chunked over samples) and an ordinary
    backward pass for |grad L|^2;
  * the exact eNTK: the Jacobian with vmap(jacrev), Theta = J J^T (float32, in
    row blocks when J would not fit the memory budget), then eigh in float64.

Prints a table (shape, spectop ms, PyTorch ms, ratio = PyTorch / spectop, so
> 1 means spectop is faster). Then checks spectop's eigenvalues: it runs
`spectop run --preset tiny --headless --no-record --dump DIR`, rebuilds every dumped
model in float64 from its manifest, forms the eNTK with torch.func and
compares eigenvalues (max |diff| / lambda_1 <= 1e-4, and relative error for
the eigenvalues >= 1e-3 lambda_1).

Exits 0 with a one-line message when torch is not installed; exits 1 when the
eigenvalue check fails.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import torch
    from torch.func import functional_call, grad, jacrev, vmap
except ImportError:
    print("PyTorch is not installed: skipping the peer comparison (pip install torch to enable it)")
    sys.exit(0)

import numpy as np

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": lambda h: torch.nn.functional.gelu(h, approximate="none"),
    "gelu_tanh": lambda h: torch.nn.functional.gelu(h, approximate="tanh"),
    "identity": lambda h: h,
}


class MLP(torch.nn.Module):
    """spectop's MLP: layer l computes s_l * (a @ W_l^T) + t_l * b_l, then the
    activation (identity for the readout)."""

    def __init__(self, shapes, activations, weight_multipliers=None, bias_multipliers=None, dtype=torch.float32):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(i, o, dtype=dtype) for i, o in shapes)
        self.activations = [ACTIVATIONS[a] for a in activations]
        n = len(shapes)
        self.s = weight_multipliers or [1.0] * n
        self.t = bias_multipliers or [1.0] * n
        self.plain = all(v == 1.0 for v in self.s + self.t)

    def forward(self, x):
        for layer, act, s, t in zip(self.layers, self.activations, self.s, self.t):
            if self.plain:  # the standard parameterization: nn.Linear as is
                x = act(layer(x))
            else:
                x = act(s * (x @ layer.weight.T) + t * layer.bias)
        return x


def build(input_dim, width, depth, outputs, activation, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    shapes = [(input_dim if l == 0 else width, outputs if l == depth else width) for l in range(depth + 1)]
    acts = [activation] * depth + ["identity"]
    return MLP(shapes, acts, dtype=dtype)


def median_seconds(body, repeats, warmup=2, minimum_sample=0.1, long_call=20.0):
    """Median seconds per call after warm-up; short calls are repeated within
    a sample so a sample lasts about `minimum_sample` (like spectop's BenchTimer).
    Calls longer than `long_call` seconds are timed once after the warm-up."""
    last = 0.0
    for _ in range(max(1, warmup)):
        start = time.perf_counter()
        body()
        last = time.perf_counter() - start
    if last > long_call:  # one call already takes long: one sample is enough
        repeats = 1
    calls = max(1, math.ceil(minimum_sample / last)) if last > 0 else 1
    samples = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        for _ in range(calls):
            body()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


# ---------------------------------------------------------------- training step

def time_train_step(entry, repeats):
    n, d, c = entry["batch"], entry["input_dim"], entry["outputs"]
    model = build(d, entry["width"], entry["depth"], c, entry["activation"])
    gen = torch.Generator().manual_seed(1)
    x_all = torch.randn(8 * n, d, generator=gen)
    y_all = torch.randn(8 * n, c, generator=gen)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    state = {"order": torch.randperm(8 * n, generator=gen), "cursor": 0}

    def step():
        if state["cursor"] + n > 8 * n:
            state["order"] = torch.randperm(8 * n, generator=gen)
            state["cursor"] = 0
        idx = state["order"][state["cursor"]:state["cursor"] + n]
        state["cursor"] += n
        x, y = x_all[idx], y_all[idx]
        optimizer.zero_grad(set_to_none=True)
        loss = 0.5 * ((model(x) - y) ** 2).sum() / n
        loss.backward()
        optimizer.step()

    return median_seconds(step, repeats) * 1000


# ---------------------------------------------------------------- kernel-free LNP

def chunk_rows(params_count, outputs, budget_bytes):
    """Samples per chunk so that per-sample(-per-output) gradients fit `budget_bytes` in float32."""
    return max(1, int(budget_bytes // max(1, params_count * outputs * 4)))


def time_lnp(entry, repeats, budget_bytes):
    n, d, c = entry["probe"], entry["input_dim"], entry["outputs"]
    model = build(d, entry["width"], entry["depth"], c, "relu")
    params = {k: v.detach() for k, v in model.named_parameters()}
    p_count = sum(v.numel() for v in params.values())
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(n, d, generator=gen)
    y = torch.randn(n, c, generator=gen)
    chunk = chunk_rows(p_count, 1, budget_bytes)

    def f_single(p, xi):
        return functional_call(model, p, (xi.unsqueeze(0),)).squeeze(0)

    per_output = [grad(lambda p, xi, k=k: f_single(p, xi)[k]) for k in range(c)]
    per_sample = [vmap(g, in_dims=(None, 0)) for g in per_output]

    def measure():
        # |grad L|^2 = g^T Theta g: one ordinary backward pass.
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        out = functional_call(model, leaves, (x,))
        loss = 0.5 * ((out - y) ** 2).sum() / n
        grads = torch.autograd.grad(loss, list(leaves.values()))
        grad_sq = sum(float(torch.linalg.vector_norm(g)) ** 2 for g in grads)
        # Tr Theta = sum over samples and outputs of |d f_c(x_i) / d theta|^2.
        trace = 0.0
        for k in range(c):
            for start in range(0, n, chunk):
                g = per_sample[k](params, x[start:start + chunk])
                # vector_norm reduces in place; (t ** 2).sum() would copy a tensor of n x P.
                trace += sum(float(torch.linalg.vector_norm(t)) ** 2 for t in g.values())
        return grad_sq, trace

    return median_seconds(measure, repeats, warmup=1, minimum_sample=0.0) * 1000


# ---------------------------------------------------------------- exact eNTK

def jacobian_blocks(model, params, x):
    """J for the rows of x: dict name -> [b*C, numel] float32 (vmap of jacrev)."""

    def f_single(p, xi):
        return functional_call(model, p, (xi.unsqueeze(0),)).squeeze(0)

    jac = vmap(jacrev(f_single), in_dims=(None, 0))(params, x)
    return {k: v.reshape(v.shape[0] * v.shape[1], -1) for k, v in jac.items()}


def contract(ja, jb):
    """J_a J_b^T summed over parameter tensors (float32 GEMMs, as torch users write it)."""
    out = None
    for k in ja:
        term = ja[k] @ jb[k].T
        out = term if out is None else out + term
    return out


def entk_costs(entry):
    n, c, w, depth, d = entry["n"], entry["outputs"], entry["width"], entry["depth"], entry["input_dim"]
    p_count = sum((d if l == 0 else w) * (c if l == depth else w) + (c if l == depth else w) for l in range(depth + 1))
    jac_bytes = n * c * p_count * 4
    contraction_tflop = 2.0 * (n * c) ** 2 * p_count / 1e12
    return p_count, jac_bytes, contraction_tflop


def time_entk(entry, repeats, budget_bytes):
    """(jacobian+contraction ms, eigh ms, total ms, blocks)."""
    n, d, c = entry["n"], entry["input_dim"], entry["outputs"]
    model = build(d, entry["width"], entry["depth"], c, "relu")
    params = {k: v.detach() for k, v in model.named_parameters()}
    p_count, _, _ = entk_costs(entry)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(3))
    # Two row blocks must fit the budget at once.
    per_block = max(1, min(n, int(budget_bytes // 2 // (c * p_count * 4))))
    blocks = [(s, min(n, s + per_block)) for s in range(0, n, per_block)]

    def kernel():
        theta = torch.empty(n * c, n * c, dtype=torch.float32)
        for i, (a0, a1) in enumerate(blocks):
            ja = jacobian_blocks(model, params, x[a0:a1])
            theta[a0 * c:a1 * c, a0 * c:a1 * c] = contract(ja, ja)
            for b0, b1 in blocks[i + 1:]:
                jb = jacobian_blocks(model, params, x[b0:b1])
                block = contract(ja, jb)
                theta[a0 * c:a1 * c, b0 * c:b1 * c] = block
                theta[b0 * c:b1 * c, a0 * c:a1 * c] = block.T
                del jb
            del ja
        return theta

    kernel_times, eigh_times = [], []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        theta = kernel()
        mid = time.perf_counter()
        torch.linalg.eigh(theta.double())  # with vectors, like spectop (it needs them for the mode weights)
        end = time.perf_counter()
        kernel_times.append(mid - start)
        eigh_times.append(end - mid)
        del theta
    k, e = statistics.median(kernel_times) * 1000, statistics.median(eigh_times) * 1000
    return k, e, k + e, len(blocks)


# ---------------------------------------------------------------- eigenvalue check

def rebuild_from_dump(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    layers = manifest["layers"]
    shapes = [(l["weight_shape"][1], l["weight_shape"][0]) for l in layers]
    model = MLP(shapes, [l["activation"] for l in layers], [l["weight_multiplier"] for l in layers],
                [l["bias_multiplier"] for l in layers], dtype=torch.float64)
    model.plain = False  # always apply the multipliers explicitly
    with torch.no_grad():
        for layer, spec in zip(model.layers, layers):
            layer.weight.copy_(torch.from_numpy(np.load(os.path.join(folder, spec["weight"])).astype(np.float64)))
            layer.bias.copy_(torch.from_numpy(np.load(os.path.join(folder, spec["bias"])).astype(np.float64)))
    return manifest, model


def check_eigenvalues(spectop, tolerance, steps):
    """Returns (rows, ok)."""
    directory = tempfile.mkdtemp(prefix="spectop-peer-")
    try:
        # --no-record: only the dump is needed, and a bench must not fill or prune the user's runs directory.
        cmd = [spectop, "run", "--preset", "tiny", "--headless", "--no-record", "--steps", str(steps), "--dump", directory]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
        x = torch.from_numpy(np.load(os.path.join(directory, "probe_x.npy")).astype(np.float64))
        rows, ok = [], True
        for name in sorted(os.listdir(directory)):
            folder = os.path.join(directory, name)
            if not os.path.isfile(os.path.join(folder, "manifest.json")):
                continue
            manifest, model = rebuild_from_dump(folder)
            eig_file = manifest["metrics"].get("eigenvalues")
            if not eig_file:
                rows.append((name, None, None, None, "no eigenvalues in the dump"))
                continue
            theirs = np.load(os.path.join(folder, eig_file)).astype(np.float64)
            params = {k: v.detach() for k, v in model.named_parameters()}
            if manifest["trainable"] == "readout":  # frozen: only the readout's parameters enter Theta
                last = len(model.layers) - 1
                trainable = {k: v for k, v in params.items() if k.startswith(f"layers.{last}.")}
            else:
                trainable = params
            frozen = {k: v for k, v in params.items() if k not in trainable}

            def f_single(p, xi):
                return functional_call(model, {**frozen, **p}, (xi.unsqueeze(0),)).squeeze(0)

            jac = vmap(jacrev(f_single), in_dims=(None, 0))(trainable, x)
            j = torch.cat([v.reshape(v.shape[0] * v.shape[1], -1) for v in jac.values()], dim=1)
            ours = torch.linalg.eigvalsh(j @ j.T).flip(0).clamp_min(0).numpy()
            top = max(ours[0], theirs[0])
            max_abs = float(np.max(np.abs(ours - theirs)) / top)
            big = ours >= 1e-3 * top
            max_rel = float(np.max(np.abs(ours[big] - theirs[big]) / ours[big]))
            passed = max_abs <= tolerance and max_rel <= tolerance
            ok = ok and passed
            rows.append((name, len(ours), max_abs, max_rel, "ok" if passed else "MISMATCH"))
        if not rows:
            raise RuntimeError(f"no model folders in the dump at {directory}")
        return rows, ok
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- main

def table(header, rows):
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        lines.append("  " + "  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(len(r))))
    return "\n".join(lines)


def fmt(ms):
    return "-" if ms is None else (f"{ms:.0f}" if ms >= 100 else f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spectop", default=".build/release/spectop", help="the spectop binary")
    ap.add_argument("--spectop-json", help="reuse this `spectop bench --json` output instead of running the bench")
    ap.add_argument("--quick", action="store_true", help="run `spectop bench --quick` (reduced sizes)")
    ap.add_argument("--threads", type=int,
                    help="threads for both sides: passed to `spectop bench --threads` (default: its own, 2)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median)")
    ap.add_argument("--kernel-repeats", type=int, default=1, help="timed runs per eNTK case")
    ap.add_argument("--memory-gib", type=float, default=4.0,
                    help="budget for per-sample gradients and Jacobian blocks (GiB)")
    ap.add_argument("--max-entk-tflop", type=float, default=6.0,
                    help="skip eNTK cases whose J J^T contraction exceeds this many TFLOP")
    ap.add_argument("--only", default="train,lnp,entk,eigen",
                    help="comma-separated sections to run: train, lnp, entk, eigen (default: all)")
    ap.add_argument("--eigen-tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    sections = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = sections - {"train", "lnp", "entk", "eigen"}
    if unknown:
        ap.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}")

    if args.spectop_json:
        with open(args.spectop_json) as f:
            report = json.load(f)
    else:
        if not os.access(args.spectop, os.X_OK):
            print(f"torch_peer: {args.spectop} is not an executable (build with `swift build -c release`)", file=sys.stderr)
            return 2
        # --engine-only: the terminal and spectrum-cost figures take minutes and are not compared here.
        cmd = [args.spectop, "bench", "--json", "--engine-only", "--memory-steps", "0"] + (["--quick"] if args.quick else [])
        if args.threads is not None:
            cmd += ["--threads", str(args.threads)]
        print(f"running {' '.join(cmd)} ...", file=sys.stderr)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"torch_peer: spectop bench failed: {done.stderr.strip()}", file=sys.stderr)
            return 1
        report = json.loads(done.stdout)

    threads = int(report.get("bench_blas_threads", 2))
    torch.set_num_threads(threads)
    budget = args.memory_gib * 2 ** 30
    print(f"spectop {report['spectop_version']} (OpenBLAS {report['blas_core']}) vs PyTorch {torch.__version__}, "
          f"CPU, {threads} thread(s) each; ratio = PyTorch / spectop (> 1: spectop faster)")

    rows = []
    for e in report["train_step"] if "train" in sections else []:
        print(f"  train step w{e['width']} C{e['outputs']} ...", file=sys.stderr)
        ms = time_train_step(e, args.repeats)
        rows.append((f"train step  d{e['input_dim']} w{e['width']}x{e['depth']} C{e['outputs']} batch {e['batch']}",
                     fmt(e["ms"]), fmt(ms), f"{ms / e['ms']:.2f}"))
    for e in report["lnp"] if "lnp" in sections else []:
        print(f"  LNP C{e['outputs']} ...", file=sys.stderr)
        ms = time_lnp(e, args.repeats, budget)
        rows.append((f"LNP         d{e['input_dim']} w{e['width']}x{e['depth']} C{e['outputs']} probe {e['probe']}",
                     fmt(e["ms"]), fmt(ms), f"{ms / e['ms']:.2f}"))
    notes = []
    if "entk" in sections:
        for e in report["entk"]:
            label = f"eNTK+eigh   d{e['input_dim']} w{e['width']}x{e['depth']} C{e['outputs']} n {e['n']}"
            _, jac_bytes, tflop = entk_costs(e)
            if tflop > args.max_entk_tflop:
                rows.append((label, fmt(e["total_ms"]), "skipped", "-"))
                notes.append(f"{label.split()[0]} n={e['n']} C={e['outputs']}: J is {jac_bytes / 2**30:.1f} GiB and J J^T "
                             f"{tflop:.0f} TFLOP (> --max-entk-tflop {args.max_entk_tflop:g}); skipped")
                continue
            print(f"  eNTK n{e['n']} C{e['outputs']} ({jac_bytes / 2**30:.1f} GiB Jacobian, {tflop:.2f} TFLOP) ...", file=sys.stderr)
            k, eig, total, blocks = time_entk(e, args.kernel_repeats, budget)
            rows.append((label, fmt(e["total_ms"]), fmt(total), f"{total / e['total_ms']:.2f}"))
            notes.append(f"eNTK n={e['n']} C={e['outputs']}: PyTorch J+JJ^T {fmt(k)} ms in {blocks} row block(s), eigh {fmt(eig)} ms; "
                         f"spectop factors {fmt(e['factors_ms'])} + kernel {fmt(e['kernel_ms'])} + eigh {fmt(e['eigh_ms'])} ms")
    print(table(["shape", "spectop ms", "PyTorch ms", "ratio"], rows))
    for note in notes:
        print("  note: " + note)

    if "eigen" not in sections:
        return 0
    print(f"\nEigenvalue check: spectop's dump (preset tiny) vs torch.func eNTK in float64, tolerance {args.eigen_tolerance:g}")
    try:
        checks, ok = check_eigenvalues(args.spectop, args.eigen_tolerance, steps=50)
    except (RuntimeError, OSError, KeyError, ValueError) as error:
        print(f"torch_peer: eigenvalue check could not run: {error}", file=sys.stderr)
        return 1
    print(table(["model", "eigenvalues", "max|diff|/l1", "max rel (>=1e-3 l1)", "result"],
                [(n, k if k is not None else "-", "-" if a is None else f"{a:.2e}", "-" if r is None else f"{r:.2e}", s)
                 for n, k, a, r, s in checks]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
