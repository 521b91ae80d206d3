"""`spectop report` on records the probe writes now: the page has every
section, names the probe as the writer, and its claims table gives the
verdicts `spectop claims --json` gives for the same records."""

import json
import re
import subprocess

import torch
from torch import nn

import spectop_probe
from spectop_probe import Probe


def probe_records(folder):
    torch.manual_seed(0)
    x = torch.randn(96, 6)
    y = torch.sin(x.sum(dim=1, keepdim=True))
    paths = []
    for width in (4, 16, 64):
        model = nn.Sequential(nn.Linear(6, width), nn.Tanh(), nn.Linear(width, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        path = str(folder / ("w%d.jsonl" % width))
        with Probe(model, x[:16], y[:16], every=2, out=path, name="w%d-active" % width, width=width, depth=1,
                   spectrum_every=5) as probe:
            for step in range(31):
                if step:
                    optimizer.zero_grad()
                    (0.5 * ((model(x[16:]) - y[16:]) ** 2).sum(dim=1).mean()).backward()
                    optimizer.step()
                probe.step(step)
        paths.append(path)
    return paths


def test_report_of_probe_records_matches_claims(spectop_bin, tmp_path):
    records = tmp_path / "sweep"
    records.mkdir()
    probe_records(records)
    out = tmp_path / "report.html"
    result = subprocess.run([spectop_bin, "report", str(records), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    for section in ("run", "scaling", "curves", "spectra", "claims"):
        assert page.count('id="%s"' % section) == 1, section
    assert "spectop-probe" in page
    # What computed the numbers: the probe, torch and the device (the header's `torch` and `device`).
    assert "spectop-probe %s on torch %s, cpu" % (spectop_probe.__version__, torch.__version__) in page
    for width in (4, 16, 64):
        assert "w%d/w%d-active" % (width, width) in page  # a directory is one experiment: RUN/MODEL
    claims = subprocess.run([spectop_bin, "claims", "--json", str(records)], capture_output=True, text=True, timeout=120)
    assert claims.returncode == 0, claims.stderr
    expected = [(str(c["number"]), c["verdict"]) for c in json.loads(claims.stdout)["claims"]]
    shown = re.findall(r'<tr class="claim" data-claim="(\d+)" data-verdict="([^"]+)"', page)
    assert shown == expected
