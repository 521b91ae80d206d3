#!/usr/bin/env python3
"""Writes the foreign-log fixtures in examples/foreign-logs/ with the real
writers: torch.utils.tensorboard.SummaryWriter (TensorBoard event files) and
lightning_fabric's CSVLogger (Lightning's metrics.csv). The Swift tests
(Tests/SpecTopReadersTests/ForeignLogTests.swift) read them back and compare
every value with `values()` below, recomputed in Swift.

    python/.venv/bin/python scripts/make_foreign_log_fixtures.py

Needs torch and tensorboard (scripts/install-python-deps.sh) and, for the CSV,
lightning-fabric (pip install --no-deps lightning-fabric lightning-utilities fsspec).

The numbers follow the paper authors' tool (zincware/perspic) in name and in
normalisation: chi_loss = n*chi_loss_raw, chi_net = chi_net_raw/n with
n = batch_size, chi_coup = chi_pos, grad_norm_squared = chi_loss_raw *
chi_net_raw * chi_pos.
"""
import math
import os
import time
import shutil
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "foreign-logs")
STEPS = 12
BATCH = 32
# The scalars' wall clock: whole seconds from now on, 10 s a step, so the wall times
# (counted from the file's first event, which SummaryWriter stamps with the time it opens
# the file) are known to the tests as differences.
WALL0 = float(int(time.time()) + 1)


def values(width, step):
    """One perspic measurement of a model of this width at this step (doubles)."""
    chi_pos = 0.5 * (1 + step) ** -0.5 * (16 / width) ** 0.2
    chi_net_raw = width * (1 + 0.05 * step * width / 16)
    chi_loss_raw = math.exp(-0.2 * step) / BATCH
    return {
        "loss": 0.5 * math.exp(-0.1 * step * (width / 16) ** 0.3),
        "chi_loss": chi_loss_raw * BATCH,
        "chi_net": chi_net_raw / BATCH,
        "chi_coup": chi_pos,
        "grad_norm_squared": chi_loss_raw * chi_net_raw * chi_pos,
        "batch_size": float(BATCH),
        "analysis_step": float(step),
    }


def tensorboard(directory, width, new_style):
    from torch.utils.tensorboard import SummaryWriter
    import numpy as np

    os.makedirs(directory, exist_ok=True)
    writer = SummaryWriter(directory)
    for step in range(STEPS):
        wall = WALL0 + 10.0 * step
        for key, value in values(width, step).items():
            # new_style writes the tensor form (a rank-0 DT_FLOAT tensor), the old the simple_value form.
            writer.add_scalar(key, value, step, walltime=wall, new_style=new_style)
        writer.add_scalar("val_acc", 0.5 + 0.03 * step, step, walltime=wall)
        writer.add_scalar("epoch", float(step // 4), step, walltime=wall)
        if new_style:
            writer.add_scalar("lr_double", 1e-3 / (1 + step), step, walltime=wall, new_style=True, double_precision=True)
        if step % 6 == 0:
            writer.add_histogram("weights", np.linspace(-1, 1, 50), step, walltime=wall)
    writer.close()
    # A fixed name, so the tests can name the file.
    for name in os.listdir(directory):
        if "tfevents" in name:
            os.rename(os.path.join(directory, name), os.path.join(directory, "events.out.tfevents.fixture"))


def lightning(root, widths):
    from lightning_fabric.loggers import CSVLogger

    for width in widths:
        logger = CSVLogger(root, name="lightning_logs")
        for step in range(STEPS):
            metrics = dict(values(width, step))
            metrics["epoch"] = step // 4
            logger.log_metrics(metrics, step=step)
            if step % 4 == 3:
                # Validation keys come in a row of their own at the same step, as Lightning logs them.
                logger.log_metrics({"val_loss": 0.6 - 0.02 * step, "epoch": step // 4}, step=step)
        logger.finalize("success")


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    tensorboard(os.path.join(ROOT, "tensorboard", "w16"), 16, new_style=False)
    tensorboard(os.path.join(ROOT, "tensorboard", "w64"), 64, new_style=True)
    lightning(ROOT, [16, 64])
    print("wrote", ROOT)


if __name__ == "__main__":
    sys.exit(main())
