#!/usr/bin/env bash
# Installs what the PyTorch probe needs (torch, and scipy: ARPACK for its
# matrix-free spectra) and what its tests need (numpy, pytest, and jsonschema
# for the record contract tests) into python/.venv and prints that
# interpreter's path as the last line of stdout.
#
# torch comes from a local CPU wheel when the machine has one
# (/opt/wheels/torch-*.whl, or $TORCH_WHEEL_DIR/torch-*.whl, matching this
# Python), else from the package registry (`pip install torch`). Without a
# usable venv module it installs into python3 itself. Exits 1 with a message
# when nothing can be installed; `make python` then fails, not skips.
# jsonschema (pure Python, from the registry with its dependencies) is not
# required: without it test_record_contract.py skips its schema checks with
# a message, and the script still succeeds. The same holds for tensorboard
# (python/tests/test_loggers.py, below).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=python/.venv
wheels=${TORCH_WHEEL_DIR:-/opt/wheels}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >/dev/null 2>&1 || rm -rf "$venv"
fi
if [ -x "$venv/bin/python" ]; then py="$(pwd)/$venv/bin/python"; else py="$(command -v python3)"; fi

if ! "$py" -c 'import torch, numpy, pytest' >/dev/null 2>&1; then
  tag=$("$py" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  wheel=$(ls "$wheels"/torch-*-"$tag"-*.whl 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$wheel" ]; then
    echo "installing torch from the local wheel $wheel" >&2
    "$py" -m pip install --quiet "$wheel" numpy pytest >&2
  else
    echo "installing torch from the package registry (no local wheel for $tag in $wheels)" >&2
    "$py" -m pip install --quiet torch numpy pytest >&2
  fi
fi
"$py" -c 'import torch, numpy, pytest' >&2 || { echo "could not install torch, numpy and pytest for $py" >&2; exit 1; }
if ! "$py" -c 'import scipy.sparse.linalg' >/dev/null 2>&1; then
  echo "installing scipy (the probe's matrix-free spectra: ARPACK through scipy.sparse.linalg.eigsh)" >&2
  "$py" -m pip install --quiet scipy >&2
fi
"$py" -c 'import scipy.sparse.linalg' >&2 || { echo "could not install scipy for $py" >&2; exit 1; }
if ! "$py" -c 'import jsonschema' >/dev/null 2>&1; then
  echo "installing jsonschema (record contract tests, docs/record.schema.json)" >&2
  "$py" -m pip install --quiet jsonschema >&2 \
    || echo "could not install jsonschema: the record schema checks in python/tests/test_record_contract.py will be skipped" >&2
fi
# tensorboard (for the probe's log_to test with a real SummaryWriter) is not
# required either: without it that test is skipped with a message. Only what
# torch.utils.tensorboard's writer needs is installed (--no-deps: no gRPC,
# no web server).
if ! "$py" -c 'import torch.utils.tensorboard' >/dev/null 2>&1; then
  echo "installing tensorboard, protobuf and absl-py (the log_to test with a real SummaryWriter)" >&2
  "$py" -m pip install --quiet --no-deps tensorboard protobuf absl-py >&2 \
    || echo "could not install tensorboard: python/tests/test_loggers.py skips its SummaryWriter test" >&2
fi
# transformers (GPT-2 and Llama from small configs in test_language_models.py,
# and the Hugging Face callback's Trainer test) is not required either:
# without it those tests are skipped with a message. It does not depend on
# torch, so it cannot replace the CPU torch; accelerate, which Trainer needs,
# does, so it comes --no-deps with psutil, its one missing dependency.
if ! "$py" -c 'import transformers' >/dev/null 2>&1; then
  echo "installing transformers (the Hugging Face model tests)" >&2
  "$py" -m pip install --quiet transformers >&2 \
    || echo "could not install transformers: python/tests/test_language_models.py skips its Hugging Face tests" >&2
fi
if "$py" -c 'import transformers' >/dev/null 2>&1 && ! "$py" -c 'import accelerate' >/dev/null 2>&1; then
  echo "installing accelerate (transformers.Trainer) without its dependencies, and psutil" >&2
  "$py" -m pip install --quiet --no-deps accelerate >&2 && "$py" -m pip install --quiet psutil >&2 \
    || echo "could not install accelerate: the Trainer test is skipped" >&2
fi
# lightning-fabric (Lightning's CSVLogger, for python/tests/test_foreign_logs.py's
# metrics.csv in the exact layout Lightning writes) is optional the same way:
# only the logger's own imports, with --no-deps (it pulls no torch of its own then).
if ! "$py" -c 'from lightning_fabric.loggers import CSVLogger' >/dev/null 2>&1; then
  echo "installing lightning-fabric, lightning-utilities, fsspec and packaging (Lightning's CSVLogger for the foreign-log tests)" >&2
  "$py" -m pip install --quiet --no-deps lightning-fabric lightning-utilities fsspec packaging >&2 \
    || echo "could not install lightning-fabric: python/tests/test_foreign_logs.py skips its Lightning test" >&2
fi
echo "$py"
