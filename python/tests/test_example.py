"""The example runs end to end (at a toy size) and spectop reads what it wrote."""

import json
import os
import subprocess

from train_char_gpt import main


def test_example_writes_records_that_spectop_reads(tmp_path, spectop_bin):
    out = tmp_path / "runs"
    main(["--out", str(out), "--widths", "16,32", "--depth", "1", "--block", "4", "--batch", "4", "--steps", "4",
          "--every", "2", "--probe", "1", "--threads", "1"])
    # One record per model in the directory, and nothing else: watch and claims of the
    # directory show each model once (a combined record there showed every model twice).
    names = sorted(os.listdir(out))
    assert names == ["w16-active.jsonl", "w16-frozen.jsonl", "w32-active.jsonl", "w32-frozen.jsonl"]
    merged = tmp_path / "runs.jsonl"
    header = json.loads(open(merged).readline())
    assert [m["id"] for m in header["models"]] == ["w16-active", "w16-frozen", "w32-active", "w32-frozen"]
    assert [m["mode"] for m in header["models"]] == ["active", "frozen", "active", "frozen"]
    for source in (merged, out):
        result = subprocess.run([spectop_bin, "claims", str(source)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "w32-frozen" in result.stdout
        exported = subprocess.run([spectop_bin, "export", str(source), "--csv", "-"], capture_output=True, text=True,
                                  timeout=60)
        assert exported.returncode == 0, exported.stderr
        models = {line.split(",")[0] for line in exported.stdout.splitlines()[1:]}
        assert len(models) == 4, (source, sorted(models))
