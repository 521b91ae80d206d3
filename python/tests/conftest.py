"""Shared set-up: one CPU thread (the machine is shared), the package and the
example model on the path, and the spectop binary for the tests that run it."""

import os
import sys

# NumPy's and SciPy's OpenBLAS (ARPACK's BLAS) on one thread too, as torch:
# on a shared two-core machine its spinning threads made small GEMMs 8x
# slower. OpenBLAS reads the variable when it loads, so both load here; the
# variable is then restored, so the spectop runs the tests start see the
# environment they were given.
_blas_threads = os.environ.get("OPENBLAS_NUM_THREADS")
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy  # noqa: E402,F401
import scipy.sparse.linalg  # noqa: E402,F401

if _blas_threads is None:
    del os.environ["OPENBLAS_NUM_THREADS"]
else:
    os.environ["OPENBLAS_NUM_THREADS"] = _blas_threads

import pytest  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(REPO, "examples", "pytorch"))
sys.path.insert(0, HERE)

torch.set_num_threads(1)


def relative_error(a, b):
    """|a - b| / max(|a|, |b|), floored near zero (STYLE.md)."""
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


@pytest.fixture(scope="session")
def spectop_bin():
    """The spectop release binary: $SPECTOP_BIN, else .build/release/spectop.
    Missing, the tests that need it are skipped, except under CI=true, where
    a missing binary is a failure (CI builds it before these tests run)."""
    path = os.environ.get("SPECTOP_BIN") or os.path.join(REPO, ".build", "release", "spectop")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = ("no spectop binary at %s: build it with `swift build -c release --product spectop` "
                   "or set SPECTOP_BIN" % path)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


# Probe's default budget before the session changes it (test_budget.py checks it).
ORIGINAL_BUDGET = None


@pytest.fixture(scope="session", autouse=True)
def _no_budget_by_default():
    """Most tests call ``probe.step`` back to back, with no training between:
    the default 5% budget would rightly leave nearly every such measurement
    out (a ``budget`` event each). So in this session ``Probe``'s default is
    ``budget=None`` (session-wide, so that module fixtures that build
    records see it too); test_budget.py passes its budgets explicitly and
    checks the real default through ``ORIGINAL_BUDGET``. Spawned processes
    (test_distributed.py) set it themselves."""
    global ORIGINAL_BUDGET
    from spectop_probe.probe import Probe
    defaults = Probe.__init__.__kwdefaults__
    ORIGINAL_BUDGET = defaults["budget"]
    defaults["budget"] = None
    try:
        yield
    finally:
        defaults["budget"] = ORIGINAL_BUDGET
