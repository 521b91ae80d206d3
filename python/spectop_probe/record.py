"""The spectop JSON Lines record, writer side.

The format is spectop's own (README "Recording, replay and claims"; the reader
is Sources/SpecTopRecord/Record/RunRecord.swift): one JSON object per line,
``type`` first, non-finite numbers as ``null``. Every line is flushed as soon
as it is written: a probe writes a few lines per measurement, so this costs
nothing and is stronger than spectop's "at least once a second" (a killed job
loses no complete line).
"""

from __future__ import annotations

import atexit
import datetime
import json
import math
import os
import threading
import time
import weakref
from typing import Any, Dict, List, Optional

from .errors import ProbeError


def _number(value: Optional[float]) -> Optional[float]:
    """Non-finite or missing numbers are written as null, like spectop's JSONLine."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _integral(value: Optional[float]):
    """spectop writes integral doubles below 1e15 as integers; do the same so
    the two tools' lines look alike (the reader accepts either)."""
    value = _number(value)
    if value is not None and value == int(value) and abs(value) < 1e15:
        return int(value)
    return value


def encode(fields: Dict[str, Any]) -> str:
    """One record line. Key order is kept (``type`` first) so lines stay
    readable with ``tail -f``; ``allow_nan=False`` guards the null rule."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class RecordWriter:
    """Writes one record file; thread-safe; ends it with an ``end`` line on
    :meth:`close` (reason ``closed``) or at interpreter exit (reason ``exit``).

    An existing file is never replaced unless ``overwrite=True``: a record is
    the result of a training job, and losing one to a re-run with the same
    ``out`` is the mistake this guards against.
    """

    def __init__(self, path: str, overwrite: bool = False):
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        mode = "w" if overwrite else "x"
        try:
            self._file = open(self.path, mode, encoding="utf-8")
        except FileExistsError:
            raise ProbeError(
                "out=%r already exists: spectop-probe does not overwrite a record; "
                "choose another path or pass overwrite=True" % self.path) from None
        except OSError as error:
            raise ProbeError("cannot write the record out=%r: %s" % (self.path, error.strerror or error)) from error
        self._closed = False
        # A weak reference, so that registering for exit does not keep an
        # abandoned probe (and its model) alive until the interpreter ends.
        reference = weakref.ref(self)
        self._exit_hook = lambda: _close_at_exit(reference)
        atexit.register(self._exit_hook)

    @property
    def wall(self) -> float:
        """Seconds since the record was opened (spectop: since the run started)."""
        return time.monotonic() - self._start

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, fields: Dict[str, Any]) -> None:
        line = encode(fields) + "\n"
        with self._lock:
            if self._closed:
                raise ProbeError("the record %r is already closed" % self.path)
            self._file.write(line)
            self._file.flush()

    # ------------------------------------------------------------ line kinds

    def header(self, tool: str, models: List[Dict[str, Any]], data: Dict[str, Any],
               extra: Optional[Dict[str, Any]] = None) -> None:
        fields: Dict[str, Any] = {"type": "run", "version": 1, "tool": tool}
        fields.update(extra or {})
        fields["data"] = data
        fields["models"] = models
        fields["started"] = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self.write(fields)

    def step(self, model: str, step: int, loss, chi_loss, chi_net, chi_pos, grad_sq,
             estimate: bool, stderr: Optional[float]) -> None:
        fields: Dict[str, Any] = {
            "type": "step", "model": model, "step": int(step),
            "loss": _number(loss), "chi_loss": _number(chi_loss), "chi_net": _number(chi_net),
            "chi_pos": _number(chi_pos), "grad_sq": _number(grad_sq), "wall": self.wall,
        }
        if estimate:
            fields["chi_net_estimate"] = True
            fields["chi_net_stderr"] = _number(stderr)
        self.write(fields)

    def spectrum(self, model: str, step: int, eigenvalues, weights, chi_pos_exact, lambda_eff, r_eff,
                 effective_rank) -> None:
        self.write({
            "type": "spectrum", "model": model, "step": int(step),
            "eigenvalues": [_integral(v) for v in eigenvalues],
            "weights": [_integral(v) for v in weights],
            "chi_pos_exact": _number(chi_pos_exact), "lambda_eff": _number(lambda_eff),
            "r_eff": _number(r_eff), "effective_rank": _number(effective_rank),
        })

    def event(self, event: str, model: Optional[str] = None, step: Optional[int] = None,
              detail: Optional[str] = None) -> None:
        fields: Dict[str, Any] = {"type": "event", "event": event}
        if model is not None:
            fields["model"] = model
        if step is not None:
            fields["step"] = int(step)
        fields["wall"] = self.wall
        if detail is not None:
            fields["detail"] = detail
        self.write(fields)

    def close(self, reason: str = "closed") -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._file.write(encode({"type": "end", "reason": reason, "wall": self.wall}) + "\n")
                self._file.flush()
            finally:
                self._closed = True
                self._file.close()
                atexit.unregister(self._exit_hook)


def _close_at_exit(reference) -> None:
    writer = reference()
    if writer is not None and not writer.closed:
        try:
            writer.close(reason="exit")
        except OSError:
            pass  # the disk went away: nothing useful can be said at exit


def merge_records(paths: List[str], out: str, overwrite: bool = False) -> None:
    """Combines records of one model each (what the example writes, one per
    model) into a single record, so that ``spectop claims`` (which reads one
    file) compares the models. The first header is kept, with every file's
    ``models`` entries; step, spectrum and event lines are copied in order;
    one ``end`` line closes it (the first file's reason)."""
    headers, body, ends = [], [], []
    for path in paths:
        with open(path, encoding="utf-8") as source:
            lines = [line for line in source.read().split("\n") if line.strip()]
        if not lines:
            raise ProbeError("%s: empty file, not a spectop record" % path)
        header = json.loads(lines[0])
        if header.get("type") != "run":
            raise ProbeError("%s: the first line is not a spectop run line" % path)
        headers.append(header)
        for line in lines[1:]:
            try:
                fields = json.loads(line)
            except ValueError:
                continue  # a cut-off last line of a killed run, as spectop's reader does
            (ends if fields.get("type") == "end" else body).append(fields)
    merged = dict(headers[0])
    merged["models"] = [model for header in headers for model in header.get("models", [])]
    ids = [model["id"] for model in merged["models"]]
    if len(set(ids)) != len(ids):
        raise ProbeError("the records name the same model twice: %s" % ", ".join(sorted(set(i for i in ids if ids.count(i) > 1))))
    mode = "w" if overwrite else "x"
    try:
        with open(out, mode, encoding="utf-8") as target:
            target.write(encode(merged) + "\n")
            for fields in body:
                target.write(encode(fields) + "\n")
            target.write(encode(ends[0] if ends else {"type": "end", "reason": "closed", "wall": 0}) + "\n")
    except FileExistsError:
        raise ProbeError("%r already exists: pass overwrite=True to replace it" % out) from None
