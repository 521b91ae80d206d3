"""The framework callbacks drive the probe at the framework's global step.
The frameworks are not installed for these tests: a stand-in module with
the base class each callback imports checks the glue, and without it the
callback says which package it needs."""

import json
import sys
import types

import pytest
import torch

from spectop_probe import Probe, ProbeError
from spectop_probe.callbacks import huggingface_callback, lightning_callback


class Base:
    pass


def probe(tmp_path):
    return Probe(torch.nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every=2, out=str(tmp_path / "r.jsonl"),
                 name="m")


def test_huggingface(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", types.SimpleNamespace(TrainerCallback=Base))
    p = probe(tmp_path)
    callback = huggingface_callback(p)
    state = types.SimpleNamespace(global_step=0)
    callback.on_train_begin(None, state, None)
    for step in range(1, 5):
        state.global_step = step
        callback.on_step_end(None, state, None)
    callback.on_train_end(None, state, None)
    assert [m.step for m in p.history] == [0, 2, 4]
    assert (tmp_path / "r.jsonl").read_text().splitlines()[-1].startswith('{"type":"end","reason":"closed"')


def test_lightning(tmp_path, monkeypatch):
    lightning = types.ModuleType("lightning")
    lightning.pytorch = types.SimpleNamespace(Callback=Base)
    monkeypatch.setitem(sys.modules, "lightning", lightning)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", lightning.pytorch)
    p = probe(tmp_path)
    callback = lightning_callback(p)
    trainer = types.SimpleNamespace(global_step=0)
    callback.on_train_start(trainer, None)
    for step in range(1, 4):
        trainer.global_step = step
        callback.on_train_batch_end(trainer, None, None, None, step)
    callback.on_train_end(trainer, None)
    assert [m.step for m in p.history] == [0, 2]


def test_lightning_with_gradient_accumulation_measures_each_step_once(tmp_path, monkeypatch):
    """accumulate_grad_batches=4: on_train_batch_end fires four times per
    optimizer step and global_step moves on the fourth. Each global step is
    measured and recorded once."""
    lightning = types.ModuleType("lightning")
    lightning.pytorch = types.SimpleNamespace(Callback=Base)
    monkeypatch.setitem(sys.modules, "lightning", lightning)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", lightning.pytorch)
    p = Probe(torch.nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 1), every=1, out=str(tmp_path / "r.jsonl"),
              name="m", trace="hutchinson", hutchinson_vectors=4, spectrum=False)
    callback = lightning_callback(p)
    trainer = types.SimpleNamespace(global_step=0)
    callback.on_train_start(trainer, None)
    batch = 0
    for step in range(1, 6):
        for micro in range(4):
            if micro == 3:
                trainer.global_step = step  # the optimizer stepped after the fourth micro-batch
            callback.on_train_batch_end(trainer, None, None, None, batch)
            batch += 1
    callback.on_train_end(trainer, None)
    assert [m.step for m in p.history] == [0, 1, 2, 3, 4, 5]
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines if l["type"] == "step"] == [0, 1, 2, 3, 4, 5]


def test_missing_framework_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails
    with pytest.raises(ProbeError, match="needs the transformers package"):
        huggingface_callback(probe(tmp_path))
