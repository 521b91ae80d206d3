#!/usr/bin/env python3
"""The spectop probe's cost as a fraction of training time.

    python bench/probe_cost.py [--threads 2] [--width 128] [--every 100] [--repeats 5]

On the example's character-level transformer (examples/pytorch/char_gpt.py,
trained as examples/pytorch/train_char_gpt.py does), times the median
training step (forward, backward, AdamW), then the median measurement for
each estimator setting, and reports

    fraction = median measurement / (every x median training step),

the share of wall time the probe adds at `every` (goal: <= 5% at 100). The
settings: Hutchinson with 4, 16 and 64 vectors, the default budget (which
picks the vector count itself), the exact trace on a small probe (one
sequence, no spectrum), and a frozen body (closed-form readout only).

    python bench/probe_cost.py --spectra [--threads 2] [--exact-seconds 60]

The spectrum cost curve against m = n·C instead, like `spectop bench --only
spectrum`: for the char-GPT example (width 64, depth 2, C = 66; probes of 4
tokens to 8 sequences of 32, m = 264 to 16,896) and a digits-shaped MLP
(d = 64, C = 10, relu, depth 2, width 256; m = 320 to 10,240), the wall time
of one spectrum (the measurement with it less the one without) exactly (the
per-sample Jacobian, float64 eigh) and matrix-free (ARPACK top-32, block
Lanczos density), the products it took and the process's peak RSS (VmHWM),
each size in a fresh process; then the crossover where matrix-free gets
faster, the figure behind matrix_free.DEFAULT_EXACT_LIMIT. The exact path
stops growing once one spectrum takes longer than --exact-seconds or its
float64 Jacobian would pass 4 GiB.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

if "--one" in sys.argv:
    # A size of the --spectra curve in its own process: BLAS threads are set
    # before NumPy loads its OpenBLAS (ARPACK's), and VmHWM is this size's peak.
    threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    os.environ["OPENBLAS_NUM_THREADS"] = threads
    os.environ["OMP_NUM_THREADS"] = threads

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "pytorch"))

from char_gpt import CharGPT  # noqa: E402
from spectop_probe import Probe  # noqa: E402
from train_char_gpt import load_text, windows  # noqa: E402


# ---------------------------------------------------------------- --spectra: the cost curve against m

CHAR_GPT_SIZES = [(1, 4), (1, 8), (1, 16), (1, 32), (2, 32), (4, 32), (8, 32)]   # (sequences, tokens)
MLP_SIZES = [32, 64, 128, 256, 512, 1024]                                          # samples (C = 10)


def spectrum_case(model_name, size, method, threads):
    """(model, inputs, targets, m) of one point of the curve."""
    torch.manual_seed(0)
    if model_name == "char-gpt":
        data, vocab = load_text(os.path.join(HERE, "..", "examples", "pytorch", "data", "sonnets.txt"))
        sequences, tokens = size
        model = CharGPT(len(vocab), 32, width=64, depth=2, heads=4)
        starts = torch.randint(0, len(data) - 33, (sequences,), generator=torch.Generator().manual_seed(1))
        x, y = windows(data, starts, 32)
        return model, x[:, :tokens].contiguous(), y[:, :tokens].contiguous(), sequences * tokens * len(vocab)
    n = size
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    x = torch.randn(n, 64, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(2))
    return model, x, y, n * 10


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one_spectrum(model_name, size, method, threads, rounds):
    """Prints one point as JSON: the spectrum's own seconds (median over
    rounds, the measurement with it less the one without), its products,
    and the peak RSS."""
    torch.set_num_threads(threads)
    model, x, y, m = spectrum_case(model_name, size, method, threads)
    common = dict(loss="cross_entropy", out=None, trace="hutchinson", hutchinson_vectors=2)
    without = Probe(model, x, y, spectrum=False, **common)
    with_it = Probe(model, x, y, spectrum_method=method, spectrum_bytes=1 << 40, spectrum_share=None, **common)
    without.measure(0)
    base, total, products, reason = [], [], None, None
    for k in range(rounds):
        base.append(without.measure(k).seconds)
        result = with_it.measure(k)
        total.append(result.seconds)
        spectrum = result.spectrum
        products = spectrum.products if spectrum is not None else None
        reason = spectrum.method_reason if spectrum is not None else "none"
    print(json.dumps({"m": m, "seconds": max(0.0, statistics.median(total) - statistics.median(base)),
                      "products": products, "peak_mib": peak_rss_mib(), "reason": reason}))


def spectra(args):
    """The cost curve: every size in a fresh process."""
    print("spectrum cost against m = n*C (float32 models, %d thread(s); one spectrum = the measurement with it "
          "less the one without; matrix-free: top-32 + density)" % args.threads, flush=True)
    for model_name, sizes in (("char-gpt", CHAR_GPT_SIZES), ("digits-mlp", MLP_SIZES)):
        print("\n%s" % ("CharGPT width 64, depth 2 (110,658 parameters, C = 66)" if model_name == "char-gpt"
                         else "digits-shaped MLP d 64, width 256, depth 2, relu (85,002 parameters, C = 10)"))
        print("%7s %12s %12s %9s %10s %10s" % ("m", "exact ms", "free ms", "products", "exact MiB", "free MiB"),
              flush=True)
        exact_on, crossover = True, None
        for size in sizes:
            row = {}
            for method in ("exact", "lanczos"):
                _, _, _, m = spectrum_case(model_name, size, method, args.threads)
                parameters = 110658 if model_name == "char-gpt" else 85002
                if method == "exact" and (not exact_on or m * parameters * 8 > 4 << 30):
                    continue
                command = [sys.executable, os.path.abspath(__file__), "--one", model_name, json.dumps(size), method,
                           "--threads", str(args.threads), "--rounds", str(args.rounds)]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode != 0:
                    print("  %s at m = %d failed: %s" % (method, m, done.stderr.strip().splitlines()[-1:]))
                    continue
                row[method] = json.loads(done.stdout.strip().splitlines()[-1])
            exact, free = row.get("exact"), row.get("lanczos")
            if exact is not None and exact["seconds"] > args.exact_seconds:
                exact_on = False
            if free is not None and exact is not None and free["seconds"] < exact["seconds"] and crossover is None:
                crossover = m
            print("%7d %12s %12s %9s %10s %10s" % (
                m, "%.0f" % (exact["seconds"] * 1e3) if exact else "-", "%.0f" % (free["seconds"] * 1e3) if free else "-",
                free["products"] if free else "-", "%.0f" % exact["peak_mib"] if exact else "-",
                "%.0f" % free["peak_mib"] if free else "-"), flush=True)
        print("crossover (matrix-free first faster): %s" % ("m = %d" % crossover if crossover else "not within these sizes"))


def main():
    if "--one" in sys.argv:
        at = sys.argv.index("--one")
        model_name, size, method = sys.argv[at + 1], json.loads(sys.argv[at + 2]), sys.argv[at + 3]
        threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 2
        one_spectrum(model_name, tuple(size) if isinstance(size, list) else size, method, threads, rounds)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--spectra", action="store_true", help="the spectrum cost curve against m instead")
    parser.add_argument("--exact-seconds", type=float, default=60, help="--spectra: stop the exact path past this")
    parser.add_argument("--rounds", type=int, default=2, help="--spectra: measurements timed per size")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--block", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--probe", type=int, default=8, help="probe sequences")
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="measurements timed per setting")
    parser.add_argument("--steps", type=int, default=30, help="training steps timed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.spectra:
        spectra(args)
        return

    data, vocab = load_text(os.path.join(HERE, "..", "examples", "pytorch", "data", "sonnets.txt"))
    V = len(vocab)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = CharGPT(V, args.block, width=args.width, depth=args.depth, heads=max(1, args.width // 16))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def train_step():
        x, y = windows(data, torch.randint(0, len(data) - args.block - 1, (args.batch,), generator=generator),
                       args.block)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1)).backward()
        optimizer.step()

    for _ in range(5):
        train_step()
    times = []
    for _ in range(args.steps):
        started = time.perf_counter()
        train_step()
        times.append(time.perf_counter() - started)
    step = statistics.median(times)
    params = sum(p.numel() for p in model.parameters())
    print("probe cost on CharGPT width %d, depth %d (%d parameters), batch %dx%d, %d thread(s)"
          % (args.width, args.depth, params, args.batch, args.block, args.threads))
    print("median training step %.1f ms (over %d steps); fraction = measurement / (%d x step)\n"
          % (step * 1e3, args.steps, args.every), flush=True)

    starts = torch.randint(0, len(data) - args.block - 1, (args.probe,), generator=torch.Generator().manual_seed(1))
    px, py = windows(data, starts, args.block)
    settings = [
        ("hutchinson, 4 vectors", dict(trace="hutchinson", hutchinson_vectors=4), px, py, model),
        ("hutchinson, 16 vectors", dict(trace="hutchinson", hutchinson_vectors=16), px, py, model),
        ("hutchinson, 64 vectors", dict(trace="hutchinson", hutchinson_vectors=64), px, py, model),
        ("hutchinson, 5% budget", dict(trace="hutchinson"), px, py, model),
        ("exact, 1-sequence probe", dict(trace="exact", spectrum=False), px[:1], py[:1], model),
    ]
    frozen = CharGPT(V, args.block, width=args.width, depth=args.depth, heads=max(1, args.width // 16))
    frozen.load_state_dict(model.state_dict())
    frozen.freeze_body()
    settings.append(("frozen body (closed form)", dict(spectrum=False), px, py, frozen))

    print("%-28s %7s %8s %12s %10s" % ("setting", "m", "vectors", "median ms", "fraction"))
    rows = []
    for label, options, x, y, net in settings:
        probe = Probe(net, x, y, loss="cross_entropy", every=args.every, out=None, **options)
        if "hutchinson_vectors" not in options and options.get("trace") == "hutchinson":
            # Let the budget see the training step time and one measurement's cost.
            probe._step_seconds = [step] * args.every
            probe.measure(0)
        probe.measure(0)  # warm-up (readout detection, allocator)
        seconds, vectors = [], 0
        for k in range(args.repeats):
            result = probe.measure(k)
            seconds.append(result.seconds)
            vectors = result.hutchinson_vectors
        median = statistics.median(seconds)
        m = len(y.reshape(-1)) * V
        fraction = median / (args.every * step)
        rows.append((label, fraction))
        print("%-28s %7d %8s %12.1f %9.2f%%" % (label, m, vectors or "-", median * 1e3, 100 * fraction), flush=True)
    print("\ngoal: <= 5%% at every=%d; %s" % (args.every, ", ".join(
        "%s %s" % (label, "meets it" if f <= 0.05 else "does not") for label, f in rows)))


if __name__ == "__main__":
    main()
