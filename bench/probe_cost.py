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
"""

import argparse
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "pytorch"))

from char_gpt import CharGPT  # noqa: E402
from spectop_probe import Probe  # noqa: E402
from train_char_gpt import load_text, windows  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
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
