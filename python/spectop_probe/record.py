"""The spectop JSON Lines record, writer side.

The format is spectop's own, specified in docs/RECORD.md (the reader is
Sources/SpecTopRecord/Record/RunRecord.swift): one JSON object per line,
``type`` first, non-finite numbers as ``null``. Every line is written to the
file descriptor as soon as it is made: a probe writes a few lines per
measurement, so this costs nothing and is stronger than spectop's "at least
once a second" (a killed job loses no complete line).

The file is held as spectop holds its ``--out``: created exclusively or, with
``overwrite``, truncated only once its exclusive ``flock`` is held, so a
second writer (a probe or a spectop run) is refused instead of interleaving
with the first. Anything but a regular file is refused before it is opened.
A write that fails (disk full, file too large) stops the recording, never
the training: the file is cut back to its last complete line and the probe
warns once.
"""

from __future__ import annotations

import atexit
import datetime
import errno
import json
import math
import os
import stat
import threading
import time
import warnings
import weakref
from typing import Any, Dict, List, Optional

try:
    import fcntl
except ImportError:  # Windows: no flock; the record is written unlocked
    fcntl = None

from .errors import ProbeError, ProbeWarning


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


def _finite(value: float) -> float:
    """A density array element: always a finite number (a null would be
    dropped by readers and break the arrays' fit, docs/RECORD.md)."""
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _density(density) -> Dict[str, Any]:
    fields: Dict[str, Any] = {
        "log10_edges": [_finite(v) for v in density.log10_edges],
        "counts": [int(c) for c in density.counts],
        "counts_uncertainty": [_integral(_finite(v)) for v in density.counts_uncertainty],
        "residual_weights": [_integral(_finite(v)) for v in density.residual_weights],
        "near_zero_count": int(density.near_zero_count),
        "near_zero_weight": _integral(_finite(density.near_zero_weight)),
    }
    if density.marker_bin is not None:
        fields["marker_bin"] = int(density.marker_bin)
    return fields


def encode(fields: Dict[str, Any]) -> str:
    """One record line. Key order is kept (``type`` first) so lines stay
    readable with ``tail -f``; ``allow_nan=False`` guards the null rule."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_record(path: str, overwrite: bool, label: str, resume: bool = False) -> int:
    """A file descriptor for writing the record at ``path``: a new file
    (created exclusively) or, with ``overwrite``, an existing regular file,
    locked with ``flock(LOCK_EX | LOCK_NB)`` (the lock spectop takes for
    ``--out``) and only then emptied. ``label`` names the file in messages
    (``out='run.jsonl'``). ``resume``: an existing file is opened for
    reading and writing and kept as it is (the caller appends to it)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise ProbeError("cannot write %s: %s" % (label, error.strerror or error)) from None
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            # Never opened: opening a FIFO for writing waits for a reader, forever.
            raise ProbeError("cannot write %s: it is %s, not a regular file" % (label, _kind(info.st_mode)))
        if not overwrite and not resume:
            raise ProbeError("%s already exists: spectop-probe does not overwrite a record; choose another path, "
                             "pass overwrite=True, or resume=True to append to it (the same run, restarted)" % label)
    # No O_TRUNC: an existing file is emptied only once this process holds its lock.
    flags = (os.O_RDWR if resume else os.O_WRONLY) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    if info is None:
        flags |= os.O_CREAT | os.O_EXCL
    try:
        descriptor = os.open(path, flags, 0o644)
    except FileExistsError:
        raise ProbeError("%s was created by another process meanwhile; choose another path" % label) from None
    except OSError as error:
        raise ProbeError("cannot write %s: %s" % (label, error.strerror or error)) from None
    try:
        # The path may have become a FIFO or a device since the stat above;
        # O_NONBLOCK kept the open from waiting on it, and it is refused here.
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise ProbeError("cannot write %s: it is %s, not a regular file" % (label, _kind(mode)))
        os.set_blocking(descriptor, True)
        if fcntl is not None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ProbeError("%s is being written by another process (a probe or a spectop run holds its lock); "
                                 "choose another path" % label) from None
            except OSError as error:
                raise ProbeError("cannot lock %s: %s" % (label, error.strerror or error)) from None
        if info is not None and not resume:
            try:
                os.ftruncate(descriptor, 0)
            except OSError as error:
                raise ProbeError("cannot overwrite %s: %s" % (label, error.strerror or error)) from None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


#: Seconds between usage lines (spectop's engine writes one every 5 s).
USAGE_INTERVAL = 5.0


class RecordWriter:
    """Writes one record file; thread-safe; ends it with an ``end`` line on
    :meth:`close` (reason ``closed``) or at interpreter exit (reason ``exit``).

    An existing file is never replaced unless ``overwrite=True``: a record is
    the result of a training job, and losing one to a re-run with the same
    ``out`` is the mistake this guards against. The file stays locked until
    :meth:`close`.

    A failed write (``ENOSPC``, ``EFBIG``, an I/O error) raises nothing: the
    file is truncated back to its last complete line, :attr:`error` says what
    happened, one :class:`ProbeWarning` is given, and nothing more is written.
    """

    def __init__(self, path, overwrite: bool = False, resume=None):
        """``resume``: None, or a callable given the existing record's lines
        (parsed, the run line first) that raises ProbeError when they are not
        this run's; the file is then kept and appended to (its ``end`` line
        and a cut-off last line taken away once the check passed), and
        :attr:`existing` holds those lines. A missing or empty file is
        created as without it."""
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        label = "the record out=%r" % (self.path,)
        # Whether this writer creates the file (open_record creates only
        # exclusively, so a file absent now is ours once opened): a file we
        # created whose first line cannot be written is removed again.
        self._created = not os.path.lexists(self.path)
        self._descriptor = open_record(self.path, overwrite, label, resume=resume is not None)
        self._complete_bytes = 0   # the file's size up to its last complete line
        self._cpu_mark = (self._start, time.process_time())  # usage lines: CPU since the previous one
        self.existing: List[Dict[str, Any]] = []
        if resume is not None:
            try:
                self._take_over(resume, label)
            except BaseException:
                os.close(self._descriptor)
                raise
        self._closed = False
        self.error: Optional[str] = None
        # A weak reference, so that registering for exit does not keep an
        # abandoned probe (and its model) alive until the interpreter ends.
        reference = weakref.ref(self)
        self._exit_hook = lambda: _close_at_exit(reference)
        atexit.register(self._exit_hook)

    def _take_over(self, check, label: str) -> None:
        """Reads the existing record, has ``check`` judge it, and only then
        cuts it back to its last complete line before any ``end`` line, so
        the lines appended continue it. Nothing is changed if the check
        fails. The wall clock continues from the record's last ``wall``."""
        chunks = []
        while True:
            chunk = os.read(self._descriptor, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        keep = data.rfind(b"\n") + 1   # a cut-off last line (a killed job) is dropped
        lines: List[Dict[str, Any]] = []
        offsets: List[int] = []
        position = 0
        for raw in data[:keep].split(b"\n")[:-1]:
            offsets.append(position)
            position += len(raw) + 1
            try:
                fields = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise ProbeError("cannot resume %s: line %d is not JSON, so it is not a spectop record"
                                 % (label, len(offsets))) from None
            if not isinstance(fields, dict):
                raise ProbeError("cannot resume %s: line %d is not a JSON object" % (label, len(offsets)))
            lines.append(fields)
        if not lines:
            return   # empty: a new record
        if lines[0].get("type") != "run":
            raise ProbeError("cannot resume %s: its first line is not a spectop run line" % label)
        check(lines)
        if lines[-1].get("type") == "end":
            keep = offsets[-1]
            lines.pop()
        os.ftruncate(self._descriptor, keep)
        os.lseek(self._descriptor, keep, os.SEEK_SET)
        self._complete_bytes = keep
        self.existing = lines
        walls = [line["wall"] for line in lines if isinstance(line.get("wall"), (int, float))]
        if walls:
            self._start -= max(walls)

    @property
    def wall(self) -> float:
        """Seconds since the record was opened (spectop: since the run started)."""
        return time.monotonic() - self._start

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, fields: Dict[str, Any]) -> None:
        data = (encode(fields) + "\n").encode("utf-8")
        with self._lock:
            if self._closed:
                raise ProbeError("the record %r is already closed" % self.path)
            self._append(data)

    def _append(self, data: bytes) -> None:
        """Writes one whole line, or nothing: a failure stops the recording."""
        if self.error is not None:
            return
        try:
            remaining = memoryview(data)
            while remaining:
                # A short write (the size limit reached mid-line) is followed
                # by another try, which then fails with the reason.
                written = os.write(self._descriptor, remaining)
                if written == 0:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                remaining = remaining[written:]
        except OSError as error:
            self._stop(error)
            return
        self._complete_bytes += len(data)

    def _stop(self, error: OSError) -> None:
        try:
            os.ftruncate(self._descriptor, self._complete_bytes)  # no cut-off line left behind
        except OSError:
            pass  # the partial line stays; spectop's reader skips a cut-off last line
        self.error = "cannot write the record %r: %s" % (self.path, error.strerror or error)
        if self._created and self._complete_bytes == 0:
            # Not even the run line fitted: a file this writer created is
            # removed, so that a record file exists only with a line in it.
            try:
                os.unlink(self.path)
                self.error += " (no record file was left)"
            except OSError:
                pass
        warnings.warn("spectop-probe: %s; recording stopped, training goes on (the record keeps every complete line "
                      "written before)" % self.error, ProbeWarning, stacklevel=2)

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
             estimate: bool, stderr: Optional[float], extra: Optional[Dict[str, Any]] = None,
             vectors: Optional[int] = None) -> None:
        """``vectors``: the Hutchinson vectors an estimated χ_net used
        (``chi_net_vectors``). ``extra``: further step-line fields
        (docs/RECORD.md), in order: integers, booleans and strings as they
        are, other numbers (and the elements of lists) through the null
        rule."""
        fields: Dict[str, Any] = {
            "type": "step", "model": model, "step": int(step),
            "loss": _number(loss), "chi_loss": _number(chi_loss), "chi_net": _number(chi_net),
            "chi_pos": _number(chi_pos), "grad_sq": _number(grad_sq), "wall": self.wall,
        }
        if estimate:
            fields["chi_net_estimate"] = True
            fields["chi_net_stderr"] = _number(stderr)
            if vectors is not None:
                fields["chi_net_vectors"] = int(vectors)
        for key, value in (extra or {}).items():
            if isinstance(value, (list, tuple)):
                fields[key] = [_number(v) for v in value]
            else:
                fields[key] = value if isinstance(value, (bool, int, str)) else _number(value)
        self.write(fields)

    def spectrum(self, model: str, step: int, eigenvalues, weights, chi_pos_exact, lambda_eff, r_eff,
                 effective_rank, method: str = "exact", method_reason: Optional[str] = None,
                 mode_count: Optional[int] = None, r_eff_uncertainty=None, rest_weight=None, density=None) -> None:
        """A spectrum line. ``method`` "lanczos" adds what a reader needs for
        a spectrum of the top k only (docs/RECORD.md): ``mode_count``,
        ``r_eff_uncertainty``, ``rest_weight`` and the ``density`` histogram
        (a spectrum.Density), in the engine's key order."""
        fields: Dict[str, Any] = {
            "type": "spectrum", "model": model, "step": int(step),
            "eigenvalues": [_integral(v) for v in eigenvalues],
            "weights": [_integral(v) for v in weights],
            "chi_pos_exact": _number(chi_pos_exact), "lambda_eff": _number(lambda_eff),
            "r_eff": _number(r_eff), "effective_rank": _number(effective_rank),
            "method": method,
        }
        if method == "lanczos":
            fields["mode_count"] = int(mode_count)
            fields["r_eff_uncertainty"] = _number(r_eff_uncertainty)
            fields["rest_weight"] = _number(rest_weight)
            fields["density"] = _density(density)
        if method_reason is not None:
            fields["method_reason"] = method_reason
        self.write(fields)

    def scalars(self, model: str, step: int, values: Dict[str, Optional[float]]) -> None:
        """The user's own scalars at ``step`` (``probe.log``): a line of their
        own, independent of the step lines (docs/RECORD.md, ``scalars``)."""
        self.write({"type": "scalars", "model": model, "step": int(step), "wall": self.wall,
                    "values": {str(name): _number(value) for name, value in values.items()}})

    def usage(self, step_seconds: Optional[float] = None, device=None) -> None:
        """A ``usage`` line (docs/RECORD.md): what this process costs the
        machine now, for ``spectop watch``'s process line. Every figure is
        optional and one that cannot be read is left out, never an error:
        resident memory (``/proc/self/statm``), CPU since the previous usage
        line, the training step time the probe measured, and on a CUDA
        ``device`` the memory PyTorch's allocator holds and the GPU's
        utilisation (through NVML, when ``pynvml`` is installed)."""
        if self._cpu_mark[0] > self._start and time.monotonic() - self._cpu_mark[0] < USAGE_INTERVAL:
            return  # the first, then one every USAGE_INTERVAL seconds: a watcher needs no more
        fields: Dict[str, Any] = {"type": "usage", "wall": self.wall}
        figures = process_usage(self._cpu_mark, device)
        self._cpu_mark = (time.monotonic(), time.process_time())
        if step_seconds is not None and math.isfinite(step_seconds) and step_seconds >= 0:
            figures["step_seconds"] = float(step_seconds)
        # The specification's order, whatever order they were read in.
        for key in ("rss_bytes", "cpu_percent", "step_seconds", "gpu_memory_bytes", "gpu_utilization"):
            if key in figures:
                fields[key] = figures[key]
        self.write(fields)

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
                self._append((encode({"type": "end", "reason": reason, "wall": self.wall}) + "\n").encode("utf-8"))
            finally:
                self._closed = True
                os.close(self._descriptor)  # releases the lock
                atexit.unregister(self._exit_hook)


def process_usage(since, device=None) -> Dict[str, Any]:
    """This process's figures for a usage line; ``since`` is the
    (monotonic, process_time) pair CPU use is measured from. Figures that
    cannot be read on this machine are absent."""
    figures: Dict[str, Any] = {}
    try:
        with open("/proc/self/statm") as statm:
            figures["rss_bytes"] = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass  # not Linux: no resident size
    wall = time.monotonic() - since[0]
    if wall > 0:
        figures["cpu_percent"] = max(0.0, (time.process_time() - since[1]) / wall * 100)
    if device is not None and getattr(device, "type", None) == "cuda":
        try:
            import torch
            figures["gpu_memory_bytes"] = int(torch.cuda.memory_reserved(device))
        except Exception:  # noqa: BLE001 - a figure for a watcher is never worth an error in training
            pass
        try:
            import torch
            figures["gpu_utilization"] = float(torch.cuda.utilization(device))
        except Exception:  # noqa: BLE001 - no pynvml, or NVML not usable here
            pass
    return figures


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
    ``models`` entries; step, spectrum, event and scalars lines are copied in order;
    one ``end`` line closes it (the first file's reason). ``out`` is written
    as the probe writes ``out`` (never overwritten unless ``overwrite``,
    locked, a regular file only)."""
    if isinstance(paths, (str, bytes, os.PathLike)) or not hasattr(paths, "__iter__"):
        raise ProbeError("merge_records needs a list of record files, not %s" % type(paths).__name__)
    paths = list(paths)
    if not paths:
        raise ProbeError("merge_records needs at least one record file")
    headers, body, ends = [], [], []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as source:
                text = source.read()
        except (OSError, UnicodeDecodeError) as error:
            raise ProbeError("cannot read the record %r: %s" % (path, getattr(error, "strerror", None) or error)) from None
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            raise ProbeError("%s: empty file, not a spectop record" % path)
        try:
            header = json.loads(lines[0])
        except ValueError:
            raise ProbeError("%s: the first line is not JSON, not a spectop record" % path) from None
        if not isinstance(header, dict) or header.get("type") != "run":
            raise ProbeError("%s: the first line is not a spectop run line" % path)
        models = header.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in models):
            raise ProbeError("%s: the run line's models are not a list of models with an id" % path)
        headers.append(header)
        for line in lines[1:]:
            try:
                fields = json.loads(line)
            except ValueError:
                continue  # a cut-off last line of a killed run, as spectop's reader does
            if isinstance(fields, dict):
                (ends if fields.get("type") == "end" else body).append(fields)
    merged = dict(headers[0])
    merged["models"] = [model for header in headers for model in header.get("models", [])]
    ids = [model["id"] for model in merged["models"]]
    if len(set(ids)) != len(ids):
        raise ProbeError("the records name the same model twice: %s" % ", ".join(sorted(set(i for i in ids if ids.count(i) > 1))))
    lines = [merged] + body + [ends[0] if ends else {"type": "end", "reason": "closed", "wall": 0}]
    if not isinstance(out, (str, os.PathLike)):
        raise ProbeError("merge_records: out must be a file path (str or os.PathLike), not %s" % type(out).__name__)
    label = "out=%r" % os.fspath(out)
    descriptor = open_record(os.fspath(out), overwrite, label)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as target:
            target.write("".join(encode(fields) + "\n" for fields in lines))
    except OSError as error:
        raise ProbeError("cannot write %s: %s" % (label, error.strerror or error)) from None
