"""Foreign logs as spectop record sources (issue 32, item 1), against the
real writers: TensorBoard event files written by
``torch.utils.tensorboard.SummaryWriter`` and ``metrics.csv`` written by
Lightning's ``CSVLogger`` (lightning_fabric), with the key names of the paper
authors' tool (zincware/perspic) and its batch-size normalisation. The release
spectop (``SPECTOP_BIN``) reads them back:

- ``export --csv`` reproduces every logged value (TensorBoard: float32-exact,
  the precision the file holds; CSV: exactly the written double);
- ``claims`` reads a directory of runs as one experiment;
- ``check`` names what it could not map.

Each writer that cannot be imported skips its tests with the reason
(scripts/install-python-deps.sh installs both with --no-deps).
"""

import csv
import json
import math
import os
import struct
import subprocess

import pytest

BATCH = 64
STEPS = 15
WIDTHS = (16, 64, 256)


def perspic(width, step):
    """A perspic measurement (its names and normalisation) of a model of this width."""
    chi_pos = 0.4 * (1 + step) ** -0.6 * (16 / width) ** 0.25
    chi_net = width * (1 + 0.01 * step * math.sqrt(width))
    chi_loss = math.exp(-0.15 * step) / BATCH
    return {
        "loss": 0.7 * math.exp(-0.08 * step * (width / 16) ** 0.3),
        "chi_loss": chi_loss * BATCH,
        "chi_net": chi_net / BATCH,
        "chi_coup": chi_pos,
        "grad_norm_squared": chi_loss * chi_net * chi_pos,
        "batch_size": float(BATCH),
        "analysis_step": float(step),
        "val_accuracy": 0.1 + 0.05 * step,
    }


# Where each logged key lands in `spectop export --csv` (docs/USAGE.md, "Foreign logs").
COLUMN = {"loss": "loss", "chi_coup": "chi_pos", "grad_norm_squared": "grad_sq", "chi_net": "chi_net_normalized",
          "chi_loss": "chi_loss_normalized", "batch_size": "rows", "analysis_step": "user:analysis_step",
          "val_accuracy": "user:val_accuracy", "epoch": "user:epoch"}


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as error:  # an ImportError, or tensorboard's own import failing
        pytest.skip("torch.utils.tensorboard is not usable (%s: %s): scripts/install-python-deps.sh installs "
                    "tensorboard, protobuf and absl-py" % (type(error).__name__, error))
    return SummaryWriter


def csv_logger():
    try:
        from lightning_fabric.loggers import CSVLogger
    except Exception as error:
        pytest.skip("Lightning's CSVLogger is not usable (%s: %s): scripts/install-python-deps.sh installs "
                    "lightning-fabric with --no-deps" % (type(error).__name__, error))
    return CSVLogger


def spectop(binary, *args, check=True):
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError("spectop %s: status %d\n%s%s" % (" ".join(args), result.returncode, result.stdout, result.stderr))
    return result


def read_export(binary, path, tmp_path):
    out = tmp_path / "export.csv"
    spectop(binary, "export", str(path), "--csv", str(out))
    with open(out, newline="") as handle:
        return list(csv.DictReader(handle))


def write_tensorboard(root, new_style):
    SummaryWriter = summary_writer()
    for width in WIDTHS:
        writer = SummaryWriter(str(root / ("w%d" % width)))
        for step in range(STEPS):
            for key, value in perspic(width, step).items():
                writer.add_scalar(key, value, step, new_style=new_style and key != "val_accuracy")
        writer.close()


@pytest.mark.parametrize("new_style", [False, True], ids=["simple_value", "tensor"])
def test_export_of_a_summarywriter_log_reproduces_every_value_float32_exact(spectop_bin, tmp_path, new_style):
    root = tmp_path / "tb"
    write_tensorboard(root, new_style)
    rows = read_export(spectop_bin, root, tmp_path)
    by_key = {(row["model"], int(row["step"])): row for row in rows}
    assert len(by_key) == len(WIDTHS) * STEPS
    compared = 0
    for width in WIDTHS:
        for step in range(STEPS):
            row = by_key[("w%d" % width, step)]
            for key, value in perspic(width, step).items():
                cell = row[COLUMN[key]]
                assert cell != "", (width, step, key)
                # The file holds float32: spectop's number is that float32, exactly.
                assert float(cell) == f32(value), (width, step, key, cell, value)
                compared += 1
            # The record's own factors: perspic's normalised ones times/over its batch size.
            assert float(row["chi_net"]) == f32(perspic(width, step)["chi_net"]) * BATCH
            assert float(row["chi_loss"]) == f32(perspic(width, step)["chi_loss"]) / BATCH
    assert compared == len(WIDTHS) * STEPS * len(perspic(16, 0))


def write_lightning(root):
    CSVLogger = csv_logger()
    for width in WIDTHS:
        logger = CSVLogger(str(root), name="lightning_logs")
        for step in range(STEPS):
            metrics = dict(perspic(width, step))
            metrics["epoch"] = step // 5
            logger.log_metrics(metrics, step=step)
            if step == 7:
                logger.save()  # a flush mid-run, as Lightning does every log_every_n_steps
        logger.finalize("success")
    return root / "lightning_logs"


def test_export_of_a_lightning_csv_log_reproduces_every_value_exactly(spectop_bin, tmp_path):
    logs = write_lightning(tmp_path / "csv")
    rows = read_export(spectop_bin, logs, tmp_path)
    by_key = {(row["model"], int(row["step"])): row for row in rows}
    assert sorted({model for model, _ in by_key}) == ["version_0", "version_1", "version_2"]
    for index, width in enumerate(WIDTHS):
        for step in range(STEPS):
            row = by_key[("version_%d" % index, step)]
            values = dict(perspic(width, step), epoch=step // 5)
            for key, value in values.items():
                # CSVLogger writes Python's repr: the double itself comes back.
                assert float(row[COLUMN[key]]) == value, (width, step, key, row[COLUMN[key]], value)


def test_claims_reads_a_directory_of_runs_as_one_experiment(spectop_bin, tmp_path):
    root = tmp_path / "sweep"
    write_tensorboard(root, new_style=False)
    report = json.loads(spectop(spectop_bin, "claims", str(root), "--json").stdout)
    text = json.dumps(report)
    claim1 = next(claim for claim in report["claims"] if claim["number"] == 1)
    assert claim1["verdict"] == "holds", claim1
    # Claim 1's first condition counts each model's chi_pos samples: all three runs, one experiment.
    for width in WIDTHS:
        assert "w%d" % width in text
    plain = spectop(spectop_bin, "claims", str(root)).stdout
    # Models in the directory's name order.
    assert "(w16 %d, w256 %d, w64 %d)" % (STEPS, STEPS, STEPS) in plain, plain


def test_check_names_the_keys_it_could_not_map(spectop_bin, tmp_path):
    root = tmp_path / "tb"
    write_tensorboard(root, new_style=False)
    result = spectop(spectop_bin, "check", str(root))
    lines = result.stdout.splitlines()
    unmapped = [line for line in lines if "not spectop fields" in line]
    assert len(unmapped) == 1 and "val_accuracy" in unmapped[0], result.stdout
    assert any("analysis_step is kept as a user scalar" in line for line in lines), result.stdout
    assert lines[-1].startswith(str(root) + ": OK (tensorboard log: 3 models, 3 files"), result.stdout
    assert "read as loss, chi_loss, chi_net, chi_pos, grad_sq, rows" in lines[-1]


def test_check_reports_a_damaged_event_file_with_its_byte_offset(spectop_bin, tmp_path):
    root = tmp_path / "tb"
    write_tensorboard(root, new_style=False)
    path = next((root / "w64").iterdir())
    data = bytearray(path.read_bytes())
    # The second record: skip the first (file_version) by its length field.
    first_length = struct.unpack("<Q", data[:8])[0]
    second = 16 + first_length
    data[second + 13] ^= 0xFF
    path.write_bytes(bytes(data))
    result = spectop(spectop_bin, "check", str(root), check=False)
    assert result.returncode == 2, result
    assert "%s: byte %d: bad data checksum" % (path, second) in result.stdout, result.stdout
    # export still reads the rest, warning about the damage on stderr.
    export = spectop(spectop_bin, "export", str(root), "--csv", "-")
    assert "byte %d" % second in export.stderr
    assert len(export.stdout.splitlines()) == 1 + len(WIDTHS) * STEPS
