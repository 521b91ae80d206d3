"""The probe against spectop itself: spectop trains and dumps (presets tiny:
MSE, and digits: cross-entropy; active and frozen models), the probe measures
the MLP rebuilt from the dump on the dumped probe set, and every number must
agree with spectop's own to the issue's tolerances.

Why the tolerances hold: spectop measures in Float32 (docs/METHOD.md
"Precision"), the probe here in float64 on the same Float32 weights, so the
difference is spectop's round-off, measured at 1e-7..3e-6 relative."""

import json
import os
import subprocess

import numpy as np
import pytest
import torch

from conftest import relative_error
from spectop_mlp import load_dump_model, load_probe
from spectop_probe import Probe

SCALAR_TOLERANCES = {"loss": 5e-6, "chi_loss": 5e-6, "grad_sq": 5e-6, "chi_net": 1e-6, "chi_pos": 1e-6}


def dump(spectop_bin, tmp_path_factory, preset, steps):
    folder = tmp_path_factory.mktemp(preset)
    subprocess.run([spectop_bin, "run", "--preset", preset, "--headless", "--steps", str(steps), "--threads", "1",
                    "--dump", str(folder / "dump"), "--out", str(folder / "r.jsonl")],
                   check=True, capture_output=True, timeout=600)
    return folder / "dump"


@pytest.fixture(scope="module")
def tiny_dump(spectop_bin, tmp_path_factory):
    return dump(spectop_bin, tmp_path_factory, "tiny", 30)


@pytest.fixture(scope="module")
def digits_dump(spectop_bin, tmp_path_factory):
    return dump(spectop_bin, tmp_path_factory, "digits", 20)


def check_models(directory, expect_models, tmp_path):
    models = sorted(p for p in os.listdir(directory) if os.path.isdir(os.path.join(directory, p)))
    assert models == sorted(expect_models)
    worst = {}
    for model_id in models:
        folder = os.path.join(directory, model_id)
        model, manifest = load_dump_model(folder)
        x, y = load_probe(folder, manifest)
        metrics = manifest["metrics"]
        out = tmp_path / (model_id + ".jsonl")
        with Probe(model, x, y, loss=manifest["loss"], every=1, out=str(out), name=model_id,
                   dtype=torch.float64, trace="exact") as probe:
            result = probe.measure(manifest["step"])
        assert probe.mode == ("frozen" if manifest["trainable"] == "readout" else "active")
        assert not result.chi_net_estimate
        for key, tolerance in SCALAR_TOLERANCES.items():
            error = relative_error(getattr(result, key), metrics[key])
            worst[key] = max(worst.get(key, 0.0), error)
            assert error <= tolerance, "%s %s: probe %r, spectop %r (relative error %.2e > %.0e)" % (
                model_id, key, getattr(result, key), metrics[key], error, tolerance)
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        if result.spectrum is None:
            # Only when the Jacobian is above the probe's memory limit; the record must say so.
            events = [l for l in lines if l["type"] == "event" and l["event"] == "spectrum"]
            assert len(events) == 1 and "GiB" in events[0]["detail"], lines
            continue
        s = result.spectrum
        eigenvalues = np.load(os.path.join(folder, metrics["eigenvalues"]))
        assert len(s.eigenvalues) == eigenvalues.size
        # Weyl: Float32 round-off in spectop's Θ moves each eigenvalue by ~1e-7·λ_1.
        absolute = np.max(np.abs(np.array(s.eigenvalues) - eigenvalues)) / eigenvalues[0]
        worst["eigenvalues/λ1"] = max(worst.get("eigenvalues/λ1", 0.0), absolute)
        assert absolute <= 1e-6, "%s eigenvalues: largest difference %.2e λ_1" % (model_id, absolute)
        for key in ("chi_pos_exact", "lambda_eff", "effective_rank"):
            error = relative_error(getattr(s, key), metrics[key])
            worst[key] = max(worst.get(key, 0.0), error)
            assert error <= 1e-6, "%s %s: relative error %.2e" % (model_id, key, error)
        assert s.r_eff == pytest.approx(metrics["r_eff"], abs=1e-12), model_id
        spectrum_lines = [l for l in lines if l["type"] == "spectrum"]
        assert len(spectrum_lines) == 1 and spectrum_lines[0]["eigenvalues"] == pytest.approx(s.eigenvalues, rel=1e-15)
    print("largest relative errors against spectop:", {k: "%.1e" % v for k, v in worst.items()})


def test_tiny_mse(tiny_dump, tmp_path):
    check_models(tiny_dump, ["w8-active", "w8-frozen", "w32-active", "w32-frozen"], tmp_path)


def test_digits_cross_entropy(digits_dump, tmp_path):
    check_models(digits_dump, ["w%d-%s" % (w, m) for w in (8, 32, 128, 512) for m in ("active", "frozen")], tmp_path)


def test_frozen_chi_net_stays_constant(tiny_dump, tmp_path):
    """A frozen model's Θ does not depend on the readout it trains: χ_net is
    the same number after readout updates (spectop: bit for bit)."""
    folder = os.path.join(tiny_dump, "w32-frozen")
    model, manifest = load_dump_model(folder)
    x, y = load_probe(folder, manifest)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with Probe(model, x, y, loss="mse", every=5, out=str(tmp_path / "f.jsonl"), name="w32-frozen",
               dtype=torch.float64) as probe:
        for step in range(1, 21):
            optimizer.zero_grad()
            (0.5 * (model(x) - y).pow(2).sum(1).mean()).backward()
            optimizer.step()
            probe.step(step)
    values = [m.chi_net for m in probe.history]
    losses = [m.loss for m in probe.history]
    assert len(values) == 4 and losses[-1] < losses[0]  # the readout did train
    assert max(values) - min(values) <= 1e-12 * values[0], values
    assert probe.history[-1].amplification == pytest.approx(1.0, abs=1e-12)


def test_spectop_reads_the_probe_record(spectop_bin, tiny_dump, tmp_path):
    """`spectop claims` parses a probe record (exit 0) and names its models."""
    records = []
    for model_id in ("w8-active", "w8-frozen", "w32-active", "w32-frozen"):
        folder = os.path.join(tiny_dump, model_id)
        model, manifest = load_dump_model(folder)
        x, y = load_probe(folder, manifest)
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
        path = tmp_path / (model_id + ".jsonl")
        with Probe(model, x, y, loss="mse", every=2, out=str(path), name=model_id, width=int(model_id[1:].split("-")[0]),
                   depth=2) as probe:
            for step in range(0, 11):
                if step:
                    optimizer.zero_grad()
                    (0.5 * (model(x) - y).pow(2).sum(1).mean()).backward()
                    optimizer.step()
                probe.step(step)
        records.append(str(path))
        result = subprocess.run([spectop_bin, "claims", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert model_id in result.stdout + result.stderr
    from spectop_probe import merge_records
    merged = tmp_path / "all.jsonl"
    merge_records(records, str(merged))
    result = subprocess.run([spectop_bin, "claims", str(merged)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for model_id in ("w8-active", "w32-frozen"):
        assert model_id in result.stdout
    # Claim 4 (frozen models stall) is evaluated on the frozen readout-only probes.
    assert "frozen models stall" in result.stdout
