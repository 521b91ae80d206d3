#!/usr/bin/env python3
"""The paper's language-model experiment in miniature, instrumented with the
spectop probe: character-level GPT-style transformers of three widths, each
trained twice from the same initial weights, once with every layer training
(active) and once with its body frozen (only the readout trains), on
data/sonnets.txt. One record per model goes to DIR/<model>.jsonl, which
`spectop watch DIR` follows and `spectop claims DIR` reads as one experiment;
DIR.jsonl, beside the directory (not in it, where watch and claims would show
every model twice), combines them into one file to share.

    python examples/pytorch/train_char_gpt.py --out runs/char-gpt
    spectop claims runs/char-gpt

Runs in about three minutes on one core (examples/pytorch/README.md
reports what it shows).
"""

import argparse
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, HERE)

from char_gpt import CharGPT  # noqa: E402
from spectop_probe import Probe, merge_records  # noqa: E402


def load_text(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))
    index = {ch: k for k, ch in enumerate(vocab)}
    return torch.tensor([index[ch] for ch in text], dtype=torch.long), vocab


def windows(data, starts, block):
    """(inputs, next-character targets), each [len(starts), block]."""
    offsets = torch.arange(block)
    rows = starts[:, None] + offsets[None, :]
    return data[rows], data[rows + 1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/char-gpt", help="directory for the records (created)")
    parser.add_argument("--widths", default="16,32,64", help="model widths (comma-separated)")
    parser.add_argument("--depth", type=int, default=2, help="transformer blocks")
    parser.add_argument("--block", type=int, default=32, help="context length")
    parser.add_argument("--batch", type=int, default=32, help="training sequences per step")
    parser.add_argument("--steps", type=int, default=400, help="training steps per model")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--every", type=int, default=20, help="probe every N steps")
    parser.add_argument("--probe", type=int, default=8, help="probe sequences (n = probe * block rows)")
    parser.add_argument("--vectors", type=int, default=None,
                        help="Hutchinson vectors per measurement (default: the probe's 5%% budget chooses)")
    parser.add_argument("--budget", default="none",
                        help="the probe's budget, a share of the training time (0.05), or none (the default here: "
                             "this demo measures every scheduled step and takes every spectrum, for spectop watch; "
                             "a real job keeps the probe's default 5%%)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="overwrite existing records")
    args = parser.parse_args(argv)
    if args.budget.lower() == "none":
        budget = None
    else:
        try:
            budget = float(args.budget)
        except ValueError:
            parser.error("--budget: a share of the training time (0.05) or none, not %r" % args.budget)

    torch.set_num_threads(args.threads)
    data, vocab = load_text(os.path.join(HERE, "data", "sonnets.txt"))
    V = len(vocab)
    split = int(0.9 * len(data))
    train, held_out = data[:split], data[split:]
    generator = torch.Generator().manual_seed(args.seed)
    # The probe: fixed training windows, shared by every model (as in spectop).
    probe_x, probe_y = windows(train, torch.randint(0, split - args.block - 1, (args.probe,), generator=generator),
                               args.block)
    os.makedirs(args.out, exist_ok=True)
    records = []
    for width in [int(w) for w in args.widths.split(",")]:
        heads = max(1, width // 16)
        for mode in ("active", "frozen"):
            name = "w%d-%s" % (width, mode)
            torch.manual_seed(args.seed + width)  # active and frozen start from the same weights and batches
            model = CharGPT(V, args.block, width=width, depth=args.depth, heads=heads)
            if mode == "frozen":
                model.freeze_body()
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr,
                                          weight_decay=0.0)
            path = os.path.join(args.out, name + ".jsonl")
            records.append(path)
            started = time.perf_counter()
            batches = torch.Generator().manual_seed(args.seed + 7)
            with Probe(model, probe_x, probe_y, loss="cross_entropy", every=args.every, out=path, name=name,
                       width=width, depth=args.depth, data_name="sonnets (char, V=%d)" % V,
                       hutchinson_vectors=args.vectors, overwrite=args.force, budget=budget,
                       # Without a budget "auto" would take the exact trace (16,896 backwards a
                       # measurement here); the demo keeps Hutchinson's few.
                       trace="hutchinson" if budget is None else "auto",
                       batch=args.batch * args.block) as probe:
                probe.step(0)
                for step in range(1, args.steps + 1):
                    x, y = windows(train, torch.randint(0, split - args.block - 1, (args.batch,), generator=batches),
                                   args.block)
                    optimizer.zero_grad(set_to_none=True)
                    loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
                    loss.backward()
                    optimizer.step()
                    probe.step(step)
                with torch.no_grad():
                    hx, hy = windows(held_out, torch.arange(0, len(held_out) - args.block - 1, args.block), args.block)
                    held = float(torch.nn.functional.cross_entropy(model(hx).reshape(-1, V), hy.reshape(-1)))
            last = probe.latest
            params = sum(p.numel() for p in model.parameters())
            print("%-13s params %7d  probe loss %.4f  held-out %.4f  chi_net %.4g%s  chi_pos %.3g  reach %.3g  "
                  "amplification %.3g  %.0fs" % (
                      name, params, last.loss, held, last.chi_net,
                      " ± %.2g" % last.chi_net_stderr if last.chi_net_estimate else "",
                      last.chi_pos or float("nan"), last.reach or float("nan"), last.amplification or float("nan"),
                      time.perf_counter() - started), flush=True)
    # Beside the directory, not in it: watch and claims read every record in DIR.
    merged = os.path.normpath(args.out) + ".jsonl"
    if os.path.exists(merged) and args.force:
        os.remove(merged)
    merge_records(records, merged)
    print("records in %s (spectop claims %s); all models in one file: %s" % (args.out, args.out, merged))


if __name__ == "__main__":
    main()
