#!/usr/bin/env python3
"""The spectop probe's cost as a fraction of training time.

    python bench/probe_cost.py [--threads 2] [--quick]

In one run, side by side: (1) the overhead share at the probe's defaults
(budget 5%, every=100, spectra on) while training three models for real —
the char-GPT example (examples/pytorch), a GPT-2-shaped model (2 layers,
width 128, vocabulary 5000, batch 8x64; Hugging Face's GPT2LMHeadModel when
transformers is installed, else the example's transformer at that shape)
and a resnet18-shaped CNN (BasicBlocks [2, 2, 2, 2], widths 64-512,
BatchNorm; 10 classes on 8x8 images, to keep the run short) — as the time spent inside
probe.step over the training time outside it, with the measurements the
budget took, left out and the spectra; (2) one matrix-free spectrum (top-32
+ density) of the char-GPT width-64 probe, 8 sequences of 32 tokens (m =
16,896); (3) the spectrum cost curve against m below. Medians throughout.
``--quick`` trains fewer steps and stops the curve earlier.

    python bench/probe_cost.py --settings [--threads 2] [--width 128] [--every 100] [--repeats 5]

The older per-setting table: on the example's character-level transformer (examples/pytorch/char_gpt.py,
trained as examples/pytorch/train_char_gpt.py does), times the median
training step (forward, backward, AdamW), then the median measurement for
each estimator setting, and reports

    fraction = median measurement / (every x median training step),

the share of wall time the probe adds at `every` (goal: <= 5% at 100). The
settings: Hutchinson with 4, 16 and 64 vectors, the exact trace on a small
probe (one sequence, no spectrum), and a frozen body (closed-form readout
only). (The budget's own choice is what the default run's overhead table
measures.)

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
        if args.quick:
            sizes = sizes[:-2]
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


# ---------------------------------------------------------------- the overhead at the defaults


class BasicBlock(torch.nn.Module):
    """resnet18's block: two 3x3 convolutions with BatchNorm, a shortcut."""

    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(outputs)
        self.conv2 = torch.nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(outputs)
        self.shortcut = torch.nn.Sequential()
        if stride != 1 or inputs != outputs:
            self.shortcut = torch.nn.Sequential(torch.nn.Conv2d(inputs, outputs, 1, stride, bias=False),
                                                torch.nn.BatchNorm2d(outputs))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


def resnet18_shaped(classes=10):
    """torchvision's resnet18 layout (11.2M parameters) with a CIFAR stem."""
    layers = [torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU()]
    width = 64
    for outputs, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(width, outputs, stride), BasicBlock(outputs, outputs, 1)]
        width = outputs
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(512, classes)]
    return torch.nn.Sequential(*layers)


def overhead_case(name):
    """(description, model, train_step(), probe inputs, probe targets)."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    if name == "char-gpt":
        data, vocab = load_text(os.path.join(HERE, "..", "examples", "pytorch", "data", "sonnets.txt"))
        V, block = len(vocab), 32
        model = CharGPT(V, block, width=64, depth=2, heads=4)
        def batch(size):
            return windows(data, torch.randint(0, len(data) - block - 1, (size,), generator=generator), block)
        px, py = batch(8)
        description = "char-GPT example (width 64, depth 2, batch 32x32, probe 8x32)"
        forward = lambda x: model(x)  # noqa: E731
        train_batch = lambda: batch(32)  # noqa: E731
    elif name == "gpt2":
        V, block = 5000, 64
        try:
            from transformers import GPT2Config, GPT2LMHeadModel
            model = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=block, n_embd=128, n_layer=2, n_head=4))
            forward = lambda x: model(input_ids=x).logits  # noqa: E731
            kind = "Hugging Face GPT2LMHeadModel"
        except ImportError:
            model = CharGPT(V, block, width=128, depth=2, heads=4)
            forward = lambda x: model(x)  # noqa: E731
            kind = "plain-torch transformer (transformers absent)"
        def batch(size):
            tokens = torch.randint(0, V, (size, block + 1), generator=generator)
            return tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
        px, py = batch(2)
        description = "GPT-2-shaped, %s (2 layers, width 128, vocab 5000, batch 8x64, probe 2x64)" % kind
        train_batch = lambda: batch(8)  # noqa: E731
    else:
        model = resnet18_shaped()
        V = 10
        def batch(size):
            return (torch.randn(size, 3, 8, 8, generator=generator),
                    torch.randint(0, 10, (size,), generator=generator))
        px, py = batch(32)
        description = "resnet18-shaped CNN (BatchNorm, 10 classes, 8x8 images, batch 32, probe 32)"
        forward = lambda x: model(x)  # noqa: E731
        train_batch = lambda: batch(32)  # noqa: E731
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train_step():
        x, y = train_batch()
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(forward(x).reshape(-1, V), y.reshape(-1)).backward()
        optimizer.step()

    return description, model, train_step, px, py


def overhead(args):
    """Trains each model with a Probe at its defaults and reports the probe's
    share: the time inside probe.step over the training time outside it,
    first measurement included; at each thread count of --threads, side by
    side. The probe's construction (its calibration and the rehearsal of
    the first measurement, set-up before training) is shown apart."""
    # Whole intervals of every=100 (steps 0..N-1): the last window ends before a scheduled step.
    steps = args.overhead_steps or (200 if args.quick else 500)
    print("overhead at the probe's defaults (budget 0.05, every=100, spectra on), %d training steps, %s thread(s); "
          "share = time inside probe.step / training time outside it (worst: the largest share over the windows "
          "from the first measurement to each later scheduled step); setup = Probe(...) itself"
          % (steps, ",".join(map(str, args.thread_counts))), flush=True)
    print("%-18s %3s %10s %9s %8s %6s %8s %8s %9s %9s %8s %8s" % (
        "model", "thr", "params", "step ms", "setup s", "taken", "skipped", "spectra", "probe s", "share", "worst",
        "first ms"))
    for name in ("char-gpt", "gpt2", "resnet18"):
        for threads in args.thread_counts:
            torch.set_num_threads(threads)
            overhead_row(name, threads, steps)
    torch.set_num_threads(args.threads)


def overhead_row(name, threads, steps):
    """One row of the overhead table: one model trained with a fresh Probe."""
    description, model, train_step, px, py = overhead_case(name)
    model.train()
    for _ in range(3):
        train_step()
    started = time.perf_counter()
    probe = Probe(model, px, py, loss="cross_entropy", out=None)
    setup = time.perf_counter() - started
    training, probing, step_times = 0.0, 0.0, []
    taken = spectra = 0
    spent = []   # (step, probe seconds in the call, training seconds before it)
    for step in range(steps):
        trained = 0.0
        if step:
            started = time.perf_counter()
            train_step()
            trained = time.perf_counter() - started
            step_times.append(trained)
            training += trained
        started = time.perf_counter()
        result = probe.step(step)
        spent.append((step, time.perf_counter() - started, trained))
        probing += spent[-1][1]
        if result is not None:
            taken += 1
            spectra += result.spectrum is not None
    scheduled = probe.schedule.steps(steps - 1)
    # The budget's promise: over every window from the first scheduled
    # step to just before a later one (or the end), probe time <= 5% of
    # the training time in it.
    worst = 0.0
    for end in scheduled[1:] + [steps]:
        probe_time = sum(seconds for step, seconds, _ in spent if step < end)
        train_time = sum(trained for step, _, trained in spent if 0 < step < end) + sum(
            trained for step, _, trained in spent if step == end)
        worst = max(worst, probe_time / train_time if train_time > 0 else 0.0)
    print("%-18s %3d %10d %9.1f %8.2f %6d %8d %8d %9.2f %8.2f%% %7.2f%% %8.0f" % (
        name, threads, sum(p.numel() for p in model.parameters()), 1e3 * statistics.median(step_times), setup,
        taken, len(scheduled) - taken, spectra, probing, 100 * probing / training, 100 * worst,
        1e3 * spent[0][1]), flush=True)
    print("  %s" % description)
    for m in probe.history:
        spectrum = ""
        if m.spectrum is not None:
            spectrum = ", spectrum %s top-%d" % (m.spectrum.method, len(m.spectrum.eigenvalues))
        print("  step %d: %s%s, %.0f ms" % (
            m.step, "Hutchinson %d vectors" % m.hutchinson_vectors if m.chi_net_estimate else "exact trace",
            spectrum, 1e3 * m.seconds))


def chargpt_matrix_free(args):
    """One matrix-free spectrum (top-32 + density) of the char-GPT width-64
    probe of 8 sequences of 32 tokens (m = 16,896): the measurement with it
    less the one without, median over rounds."""
    rounds = 2 if args.quick else 3
    model, x, y, m = spectrum_case("char-gpt", (8, 32), "lanczos", args.threads)
    common = dict(loss="cross_entropy", out=None, trace="hutchinson", hutchinson_vectors=2, budget=None)
    without = Probe(model, x, y, spectrum=False, **common)
    with_it = Probe(model, x, y, spectrum_method="lanczos", spectrum_share=None, **common)
    without.measure(0)
    with_it.measure(0)
    base, total, products = [], [], None
    for k in range(rounds):
        base.append(without.measure(k + 1).seconds)
        result = with_it.measure(k + 1)
        total.append(result.seconds)
        products = result.spectrum.products if result.spectrum is not None else None
    seconds = max(0.0, statistics.median(total) - statistics.median(base))
    print("\nmatrix-free spectrum of the char-GPT w64 probe (m = %d, top-32 + density, %d thread(s)): %.2f s "
          "(median of %d), %s products" % (m, args.threads, seconds, rounds, products), flush=True)


def main():
    if "--one" in sys.argv:
        at = sys.argv.index("--one")
        model_name, size, method = sys.argv[at + 1], json.loads(sys.argv[at + 2]), sys.argv[at + 3]
        threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 2
        one_spectrum(model_name, tuple(size) if isinstance(size, list) else size, method, threads, rounds)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1", help="torch threads; the overhead table takes a list (2,1)")
    parser.add_argument("--spectra", action="store_true", help="the spectrum cost curve against m only")
    parser.add_argument("--overhead", action="store_true", help="the overhead at the defaults only")
    parser.add_argument("--matrix-free", action="store_true",
                        help="the char-GPT w64 probe's matrix-free spectrum (m = 16,896) only")
    parser.add_argument("--settings", action="store_true", help="the older per-setting table on the char-GPT")
    parser.add_argument("--quick", action="store_true", help="fewer training steps, a shorter curve")
    parser.add_argument("--overhead-steps", type=int, default=None, help="training steps per model (500; quick 200)")
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
    try:
        args.thread_counts = [int(t) for t in str(args.threads).split(",")]
        if not args.thread_counts or min(args.thread_counts) < 1:
            raise ValueError
    except ValueError:
        parser.error("--threads %s: a thread count of 1 or more, or a comma-separated list (2,1)" % args.threads)
    args.threads = args.thread_counts[0]
    torch.set_num_threads(args.threads)
    if args.spectra:
        spectra(args)
        return
    if args.overhead:
        overhead(args)
        return
    if args.matrix_free:
        chargpt_matrix_free(args)
        return
    if not args.settings:
        overhead(args)
        chargpt_matrix_free(args)
        print()
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
