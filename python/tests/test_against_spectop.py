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
from spectop_probe.spectrum import kolmogorov_distance

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
    lanczos_models = []
    for model_id in models:
        folder = os.path.join(directory, model_id)
        model, manifest = load_dump_model(folder)
        x, y = load_probe(folder, manifest)
        metrics = manifest["metrics"]
        out = tmp_path / (model_id + ".jsonl")
        # A budget (the default; this session's is None): the spectrum's route is then the crossover's (m,
        # flops) checked below, not budget=None's "exact wherever it fits". measure() always measures.
        with Probe(model, x, y, loss=manifest["loss"], every=1, out=str(out), name=model_id,
                   dtype=torch.float64, trace="exact", budget=0.05) as probe:
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
        if s.method == "lanczos":
            # Forming JJᵀ costs more than the matrix-free route (w128 and w512
            # active: 2·m²·P above 2e10 flops): matrix-free, against spectop's
            # exact spectrum of the same model.
            check_lanczos_against_exact(model_id, s, eigenvalues, metrics, worst)
            lines = [l for l in lines if l["type"] == "spectrum"]
            assert len(lines) == 1 and lines[0]["method"] == "lanczos" and "flops" in lines[0]["method_reason"]
            lanczos_models.append(model_id)
            continue
        assert s.method == "exact" and "exact_limit" in s.method_reason
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
    return lanczos_models


def check_lanczos_against_exact(model_id, s, eigenvalues, metrics, worst):
    """A matrix-free spectrum against spectop's exact one (dsyevd, all m):
    the head to 1e-6 relative, λ_eff and χ_pos to 1e-6, the histogram within
    0.05 (Kolmogorov) and r_eff within its stated interval."""
    k = len(s.eigenvalues)
    head = np.abs(np.array(s.eigenvalues) - eigenvalues[:k]) / eigenvalues[:k]
    worst["lanczos head"] = max(worst.get("lanczos head", 0.0), float(head.max()))
    assert head.max() <= 1e-6, "%s: head differs by %.2e relative" % (model_id, head.max())
    for key in ("chi_pos_exact", "lambda_eff"):
        assert relative_error(getattr(s, key), metrics[key]) <= 1e-6, (model_id, key)
    distance = kolmogorov_distance(s.density, eigenvalues, eigenvalues[0])
    worst["lanczos Kolmogorov"] = max(worst.get("lanczos Kolmogorov", 0.0), distance)
    assert distance <= 0.05, "%s: Kolmogorov distance %.3f" % (model_id, distance)
    assert abs(s.r_eff - metrics["r_eff"]) <= s.r_eff_uncertainty, (model_id, s.r_eff, s.r_eff_uncertainty, metrics["r_eff"])


@pytest.fixture(scope="module")
def digits_1024(spectop_bin, tmp_path_factory):
    """The digits preset's width-32 active model with a 1024-image probe:
    m = 10,240 outputs, above every exact limit, so spectop estimates its
    spectra matrix-free too (records and dump). (dump folder, record)."""
    folder = tmp_path_factory.mktemp("digits1024")
    config = subprocess.run([spectop_bin, "run", "--preset", "digits", "--print-config"], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    for old, new in (("widths = [8, 32, 128, 512]", "widths = [32]"), ('modes = ["active", "frozen"]', 'modes = ["active"]'),
                     ("probe = 128 ", "probe = 1024 ")):
        assert old in config, "the digits preset has no %r any more" % old
        config = config.replace(old, new)
    (folder / "digits1024.toml").write_text(config)
    subprocess.run([spectop_bin, "run", "--config", str(folder / "digits1024.toml"), "--headless", "--steps", "20",
                    "--threads", "1", "--dump", str(folder / "dump"), "--out", str(folder / "r.jsonl")],
                   check=True, capture_output=True, timeout=600)
    return folder / "dump" / "w32-active", folder / "r.jsonl"


def explicit_spectrum(model, x, g, chunk=256):
    """The exact eigenvalues of Θ = J Jᵀ (descending, all m) and λ_eff = ĝᵀΘĝ
    from the explicit float64 Jacobian, built by torch.func.jacrev in chunks
    of samples: the P eigenvalues of JᵀJ and m − P zeros (m > P here)."""
    from torch.func import functional_call, jacrev
    theta = {n: p.detach().double() for n, p in model.named_parameters()}
    P = sum(p.numel() for p in theta.values())
    gram = torch.zeros(P, P, dtype=torch.float64)
    pulled = torch.zeros(P, dtype=torch.float64)
    unit = (g / g.norm()).reshape(x.shape[0], -1)
    for start in range(0, x.shape[0], chunk):
        rows = x[start:start + chunk].double()
        jac = jacrev(lambda t: functional_call(model, t, (rows,)).reshape(-1))(theta)
        J = torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)
        gram += J.T @ J
        pulled += J.T @ unit[start:start + chunk].reshape(-1)
    values = torch.linalg.eigvalsh(gram).clamp_min(0).numpy()[::-1]
    m = g.numel()
    return np.concatenate([values, np.zeros(m - P)]), float(pulled @ pulled)


def test_the_matrix_free_spectrum_above_the_exact_limit(digits_1024, tmp_path):
    """m = 10,240: the probe's matrix-free top-10 eigenvalues equal an explicit
    float64 computation and the Swift engine's own lanczos spectrum (its
    dump and its record line at the same step) to 1e-6 relative; the
    estimated histogram is within 0.05 (Kolmogorov) of the exact one, and
    the exact r_eff lies within the stated interval."""
    folder, record = digits_1024
    model, manifest = load_dump_model(str(folder))
    model = model.double()
    x, y = load_probe(str(folder), manifest)
    metrics = manifest["metrics"]
    assert metrics["spectrum_method"] == "lanczos" and metrics["mode_count"] == 10240
    out = tmp_path / "probe.jsonl"
    with Probe(model, x, y, loss="cross_entropy", every=1, out=str(out), name="w32-active", dtype=torch.float64,
               trace="exact", budget=0.05) as probe:   # the crossover's route (budget=None: by spectrum_bytes alone)
        result = probe.measure(manifest["step"])
    s = result.spectrum
    assert s.method == "lanczos" and "above exact_limit" in s.method_reason and s.mode_count == 10240

    # The explicit reference, with g from the probe (checked against spectop's loss above).
    F = model(x.double()).detach()
    g = (torch.softmax(F, 1) - torch.nn.functional.one_hot(y.long(), 10)) / F.shape[0]
    exact, lambda_eff = explicit_spectrum(model, x, g.reshape(-1))
    ours = np.array(s.eigenvalues[:10])
    assert np.max(np.abs(ours - exact[:10]) / exact[:10]) <= 1e-6
    engine_dump = np.load(os.path.join(folder, metrics["eigenvalues"]))[:10]
    assert np.max(np.abs(ours - engine_dump) / engine_dump) <= 1e-6
    lines = [json.loads(line) for line in open(record)]
    engine_line = [l for l in lines if l["type"] == "spectrum" and l["step"] == manifest["step"]][0]
    assert engine_line["method"] == "lanczos" and engine_line["mode_count"] == 10240
    assert np.max(np.abs(ours - engine_line["eigenvalues"][:10]) / ours) <= 1e-6
    assert s.lambda_eff == pytest.approx(lambda_eff, rel=1e-10)
    assert relative_error(s.lambda_eff, engine_line["lambda_eff"]) <= 1e-6

    distance = kolmogorov_distance(s.density, exact, exact[0])
    exact_r_eff = float(np.sum(exact >= lambda_eff)) / exact.size
    print("m = 10,240: head vs explicit %.1e, vs engine %.1e; Kolmogorov %.3f; r_eff %.5f ± %.5f (exact %.5f; "
          "engine %.5f ± %.5f)" % (np.max(np.abs(ours - exact[:10]) / exact[:10]),
                                   np.max(np.abs(ours - engine_dump) / engine_dump), distance, s.r_eff,
                                   s.r_eff_uncertainty, exact_r_eff, engine_line["r_eff"],
                                   engine_line["r_eff_uncertainty"]))
    assert distance <= 0.05
    assert abs(s.r_eff - exact_r_eff) <= s.r_eff_uncertainty
    # The record line: the engine's lanczos fields, and the contract's shape.
    line = [json.loads(l) for l in out.read_text().splitlines() if '"type":"spectrum"' in l][0]
    assert set(engine_line) - {"method_reason"} <= set(line)
    assert len(line["density"]["counts"]) == len(engine_line["density"]["counts"])


def test_tiny_mse(tiny_dump, tmp_path):
    check_models(tiny_dump, ["w8-active", "w8-frozen", "w32-active", "w32-frozen"], tmp_path)


def test_digits_cross_entropy(digits_dump, tmp_path):
    lanczos = check_models(digits_dump, ["w%d-%s" % (w, m) for w in (8, 32, 128, 512) for m in ("active", "frozen")],
                           tmp_path)
    assert lanczos == ["w128-active", "w512-active"]


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
