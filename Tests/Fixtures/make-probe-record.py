"""Writes Tests/Fixtures/probe-record.jsonl: a small experiment recorded by the
PyTorch probe (python/spectop_probe), for the tests of `spectop report` and
for docs/example-report.html. Three MLP widths on a fixed random teacher,
each active and frozen (readout only), Adam, measured every 5 steps with a
held-out batch (cross-batch chi_pos); the widest model's spectra are
matrix-free (top-k + Lanczos estimate), the others exact.

    python/.venv/bin/python Tests/Fixtures/make-probe-record.py [OUT.jsonl]
"""
import os
import sys
import tempfile

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from spectop_probe import Probe  # noqa: E402
from spectop_probe.record import merge_records  # noqa: E402

STEPS, N, D = 200, 32, 8


def mlp(width):
    return nn.Sequential(nn.Linear(D, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "probe-record.jsonl")
    torch.manual_seed(7)
    teacher = mlp(64)
    x = torch.randn(256, D)
    with torch.no_grad():
        y = teacher(x)
    probe_x, probe_y, held_x, held_y = x[:N], y[:N], x[-N:], y[-N:]
    train_x, train_y = x[:-N], y[:-N]
    folder = tempfile.mkdtemp(prefix="spectop-probe-fixture-")
    paths = []
    for width in (8, 32, 128):
        for mode in ("active", "frozen"):
            torch.manual_seed(width)
            model = mlp(width)
            if mode == "frozen":
                for p in list(model.parameters())[:-2]:
                    p.requires_grad_(False)
            path = os.path.join(folder, "w%d-%s.jsonl" % (width, mode))
            paths.append(path)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
            probe = Probe(model, probe_x, probe_y, loss="mse", every=5, out=path, name="w%d-%s" % (width, mode),
                          mode=mode, width=width, depth=2, data_name="teacher", spectrum_every=4,
                          spectrum_method="lanczos" if width == 128 else "exact", top_k=8,
                          cross_inputs=held_x, cross_targets=held_y, cross="heldout")
            for step in range(STEPS + 1):
                if step > 0:
                    batch = torch.randint(0, train_x.shape[0], (64,))
                    optimizer.zero_grad()
                    loss = 0.5 * ((model(train_x[batch]) - train_y[batch]) ** 2).sum(dim=1).mean()
                    loss.backward()
                    optimizer.step()
                probe.step(step)
            probe.close()
    merge_records(paths, out, overwrite=True)
    print("wrote", out)


if __name__ == "__main__":
    main()
