"""The probe's settings, grouped, and the one check of all of them.

``Probe`` takes its common arguments flat (``loss``, ``every``, ``out``,
``trace=``, ``spectrum_every=``, ...), as every example does; the rest are
grouped in small frozen dataclasses, one per concern, as Lightning's
``Trainer`` and Hugging Face's ``TrainingArguments`` group theirs:

- :class:`MeasurementSettings`: how each measurement is taken (precision,
  trace route, Hutchinson vectors, memory, seed, BatchNorm, output, readout);
- :class:`SpectrumSettings`: the eNTK spectrum (on/off, spacing, method,
  sizes, top-k, share of the training time);
- :class:`RecordSettings`: the record file and its header;
- :class:`LoggingSettings`: the user's own loggers;
- :class:`CrossBatchSettings`: the batch B of the cross-batch quantities.

Every flat keyword is a shorthand for one group field, through the one
table :data:`SHORTHANDS`; each default lives once, in its dataclass field.
Each group checks its own fields when made (``SpectrumSettings(top_k=0)``
raises), and :func:`check_probe` checks everything else ``Probe`` can check
without running the model, collecting every problem into one
:class:`ProbeError` before any work is done (as Opacus' ``ModuleValidator``
lists every unsupported layer at once).
"""

from __future__ import annotations

import difflib
import math
import operator
import os
import stat
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from .cross import SOURCES
from .errors import ProbeError
from .measure import _is_plain_linear, default_output

#: ``Probe.history`` keeps this many latest measurements unless told otherwise.
DEFAULT_HISTORY = 1000


def settings_error(problems: List[str]) -> ProbeError:
    """One ProbeError listing every problem, one a line; ``.problems`` holds them."""
    count = len(problems)
    error = ProbeError("%d problem%s with the probe's settings:\n%s"
                       % (count, "" if count == 1 else "s", "\n".join("  - " + p for p in problems)))
    error.problems = list(problems)
    return error


def _whole(value, label: str, problems: List[str], minimum: Optional[int] = None,
           allow_none: bool = False, why: str = "") -> bool:
    """Appends a problem unless ``value`` is a whole number (an int, not a
    bool, a float or a string: those are mistakes, never rounded) of at
    least ``minimum`` (or None where ``allow_none``); ``why`` follows the
    minimum in the message. True when it is fine."""
    if value is None and allow_none:
        return True
    if isinstance(value, bool):
        problems.append("%s must be a whole number (an int), not a bool (%r)" % (label, value))
        return False
    try:
        number = operator.index(value)
    except TypeError:
        problems.append("%s must be a whole number (an int)%s, not %s (%r)"
                        % (label, " or None" if allow_none else "", type(value).__name__, value))
        return False
    if minimum is not None and number < minimum:
        problems.append("%s must be at least %d%s, not %d" % (label, minimum, " " + why if why else "", number))
        return False
    return True


def _flag(value, label: str, problems: List[str]) -> None:
    if not isinstance(value, bool):
        problems.append("%s must be True or False, not %r" % (label, value))


class _Group:
    """What the groups share: their own check at construction."""

    def __post_init__(self):
        problems = self.problems()
        if problems:
            raise settings_error(problems)

    def problems(self) -> List[str]:  # pragma: no cover - every group overrides it
        raise NotImplementedError


@dataclass(frozen=True)
class MeasurementSettings(_Group):
    """How each measurement is taken (docs/METHOD.md).

    - ``dtype``: the measurement precision, ``torch.float32`` or ``torch.float64``;
    - ``trace``: χ_net's route: ``"auto"`` (under a budget: exact while
      m = n·C is at most ``exact_max_outputs`` and it fits the budget; with
      ``budget=None``: exact at any m), ``"exact"`` or ``"hutchinson"``;
    - ``hutchinson_vectors``: a fixed vector count; None: the budget chooses
      within ``[min_vectors, max_vectors]`` (without a budget: ``min_vectors``);
    - ``chunk_bytes``: what the vectors, rows or products in flight at once
      may hold, their backwards' working set included (measured on the
      model at construction);
    - ``seed``: the Hutchinson vectors' generator (each rank adds its rank);
    - ``batchnorm``: ``"batch"`` (BatchNorm on the probe batch's own
      statistics, as training differentiates them; running statistics
      untouched) or ``"eval"`` (their running statistics);
    - ``output_fn``: maps the model's return value to the logits tensor;
    - ``readout``: ``"auto"``, the name of an ``nn.Linear`` submodule, or
      None (no closed-form readout share).
    """
    dtype: torch.dtype = torch.float32
    trace: str = "auto"
    hutchinson_vectors: Optional[int] = None
    min_vectors: int = 4
    max_vectors: int = 256
    exact_max_outputs: int = 4096
    chunk_bytes: int = 1 << 28
    seed: int = 0x5EC7
    batchnorm: str = "batch"
    output_fn: Callable = default_output
    readout: Optional[str] = "auto"

    def problems(self) -> List[str]:
        problems: List[str] = []
        if self.dtype not in (torch.float32, torch.float64):
            problems.append("dtype must be torch.float32 or torch.float64 (the measurement precision), not %s"
                            % (self.dtype,))
        if self.trace not in ("auto", "exact", "hutchinson"):
            problems.append("trace=%r: use \"auto\", \"exact\" or \"hutchinson\"" % (self.trace,))
        two = "(a standard error needs two vectors)"
        _whole(self.hutchinson_vectors, "hutchinson_vectors", problems, 2, allow_none=True, why=two)
        low = _whole(self.min_vectors, "min_vectors", problems, 2, why=two)
        high = _whole(self.max_vectors, "max_vectors", problems, 2, why=two)
        if low and high and self.max_vectors < self.min_vectors:
            problems.append("max_vectors (%d) must not be below min_vectors (%d): raise max_vectors or lower "
                            "min_vectors" % (self.max_vectors, self.min_vectors))
        _whole(self.exact_max_outputs, "exact_max_outputs", problems, 1)
        _whole(self.chunk_bytes, "chunk_bytes", problems, 1)
        _whole(self.seed, "seed", problems, 0)
        if self.batchnorm not in ("batch", "eval"):
            problems.append("batchnorm=%r: use \"batch\" (BatchNorm layers normalise with the probe batch's own "
                            "statistics, as in training; running statistics untouched) or \"eval\" (with their "
                            "running statistics, as at inference)" % (self.batchnorm,))
        if not callable(self.output_fn):
            problems.append("output_fn must be a function from the model's return value to its logits tensor, not "
                            "%s" % type(self.output_fn).__name__)
        if self.readout is not None and not isinstance(self.readout, str):
            problems.append("readout must be \"auto\", the name of an nn.Linear submodule, or None, not %s"
                            % type(self.readout).__name__)
        return problems


@dataclass(frozen=True)
class SpectrumSettings(_Group):
    """The eNTK spectrum (docs/METHOD.md, "Past the exact limit").

    - ``enabled``: take spectra at all;
    - ``every``: one spectrum every this many measurements;
    - ``method``: ``"auto"``: exactly (the per-sample Jacobian, ``eigh``)
      while that is the cheaper route (m at most 2,048 and 2·m²·P at most
      2e10 flops, the crossover bench/probe_cost.py measured) and the
      Jacobian fits ``max_bytes``, and matrix-free above or beside a
      Hutchinson χ_net (the top ``top_k`` eigenpairs by ARPACK, the rest as
      an estimated histogram by block Lanczos quadrature, as spectop's
      engine does); with ``budget=None`` exactly wherever the Jacobian fits
      ``max_bytes``; ``"exact"`` or ``"lanczos"`` force one. The record says
      which and why (``method_reason``);
    - ``max_outputs``: no spectrum above this m (None: no limit);
    - ``max_bytes``: the Jacobian (exact) or the Lanczos vectors fit in this;
    - ``exact_limit``: "auto" goes exact up to this m (replaces both limits
      of the measured crossover; None: the crossover);
    - ``top_k``: the eigenpairs a matrix-free spectrum computes;
    - ``share``: without a budget, matrix-free spectra take at most this
      share of the training wall time (the first is always taken; None: no
      spacing). Under a budget the budget spaces them.
    """
    enabled: bool = True
    every: int = 1
    method: str = "auto"
    max_outputs: Optional[int] = None
    max_bytes: int = 1 << 30
    exact_limit: Optional[int] = None
    top_k: int = 32
    share: Optional[float] = 0.25

    def problems(self) -> List[str]:
        problems: List[str] = []
        _flag(self.enabled, _label(self, "enabled"), problems)
        _whole(self.every, _label(self, "every"), problems, 1)
        if self.method not in ("auto", "exact", "lanczos"):
            problems.append("%s=%r: use \"auto\", \"exact\" or \"lanczos\"" % (_label(self, "method"), self.method))
        _whole(self.max_outputs, _label(self, "max_outputs"), problems, 1, allow_none=True)
        _whole(self.max_bytes, _label(self, "max_bytes"), problems, 1)
        _whole(self.exact_limit, _label(self, "exact_limit"), problems, 0, allow_none=True)
        _whole(self.top_k, _label(self, "top_k"), problems, 1)
        if self.share is not None and (isinstance(self.share, bool) or not isinstance(self.share, (int, float))
                                       or not 0 <= self.share < math.inf):
            problems.append("%s must be a number of 0 or more (a share of the training time) or None (no spacing), "
                            "not %r" % (_label(self, "share"), self.share))
        return problems


@dataclass(frozen=True)
class RecordSettings(_Group):
    """The record file ``out`` and its header (docs/RECORD.md).

    - ``overwrite``: replace an existing ``out`` (a regular file no other
      probe or spectop run is writing);
    - ``resume``: append to the existing record ``out`` of the same run
      after a restart (refused for another model or probe batch);
    - ``mode``: ``"active"`` or ``"frozen"`` (None: frozen when only the readout trains);
    - ``width``, ``depth``, ``data_name``: header fields;
    - ``batch``: samples (or tokens) per training step, the compare view's compute axis.
    """
    overwrite: bool = False
    resume: bool = False
    mode: Optional[str] = None
    width: int = 0
    depth: int = 0
    data_name: str = "probe"
    batch: Optional[int] = None

    def problems(self) -> List[str]:
        problems: List[str] = []
        _flag(self.overwrite, "overwrite", problems)
        _flag(self.resume, "resume", problems)
        if self.resume is True and self.overwrite is True:
            problems.append("resume=True appends to an existing record and overwrite=True replaces it: pass one")
        if self.mode not in (None, "active", "frozen"):
            problems.append("mode must be \"active\" or \"frozen\" (or None: frozen when only the readout trains), "
                            "not %r" % (self.mode,))
        _whole(self.width, "width", problems, 0)
        _whole(self.depth, "depth", problems, 0)
        if not isinstance(self.data_name, str) or not self.data_name:
            problems.append("data_name must be a non-empty string (the header's data.name), not %r" % (self.data_name,))
        _whole(self.batch, "batch", problems, 1, allow_none=True, why="(the samples, or tokens, one training step takes)")
        return problems


@dataclass(frozen=True)
class LoggingSettings(_Group):
    """The user's own loggers, which get each measurement too (loggers.py).

    - ``loggers``: a Lightning logger, a ``SummaryWriter``, a wandb run, a
      callable taking ``(metrics, step)``, or a list of them;
    - ``names``: ``"spectop"`` (``spectop/chi_net``, ...) or ``"perspic"``
      (the paper authors' tool's keys);
    - ``prefix``: put before every key (None: the scheme's own).
    """
    loggers: Any = None
    names: str = "spectop"
    prefix: Optional[str] = None

    def problems(self) -> List[str]:
        from .loggers import NAMES, destination
        problems: List[str] = []
        if self.names not in NAMES:
            problems.append("log_names=%r: use \"spectop\" (spectop/chi_net, ...) or \"perspic\" (the names of the "
                            "paper authors' tool: chi_net, chi_coup, grad_norm_squared, ...)" % (self.names,))
        if self.prefix is not None and not isinstance(self.prefix, str):
            problems.append("log_prefix must be a string (e.g. \"spectop/w256/\"), not %s" % type(self.prefix).__name__)
        targets = [] if self.loggers is None else (
            list(self.loggers) if isinstance(self.loggers, (list, tuple)) else [self.loggers])
        for target in targets:
            try:
                destination(target)   # looks at its methods; never calls it
            except ProbeError as error:
                problems.append(str(error))
        return problems


@dataclass(frozen=True, eq=False)
class CrossBatchSettings(_Group):
    """The batch B of the cross-batch quantities (docs/METHOD.md, "Cross-batch
    spectral position"): a held-out batch (``inputs``, ``targets``, copied
    once; ``source`` "heldout" is implied), or ``source="train"`` and a batch
    passed to each measured step, ``probe.step(step, cross_batch=(x, y))``.
    Not compared by value (it holds tensors)."""
    source: Optional[str] = None
    inputs: Any = None
    targets: Any = None

    def problems(self) -> List[str]:
        problems: List[str] = []
        if (self.inputs is None) != (self.targets is None):
            problems.append("cross_inputs and cross_targets go together (the held-out batch B and its targets): "
                            "pass both or neither")
        if self.source is not None and self.source not in SOURCES:
            problems.append("cross=%r: use \"heldout\" (with cross_inputs and cross_targets) or \"train\" (a batch "
                            "passed to each measured step, probe.step(step, cross_batch=(x, y)))" % (self.source,))
        elif self.source == "heldout" and self.inputs is None and self.targets is None:
            problems.append("cross=\"heldout\" needs the held-out batch: pass cross_inputs and cross_targets")
        elif self.source == "train" and (self.inputs is not None or self.targets is not None):
            problems.append("cross=\"train\" takes its batch B from probe.step(step, cross_batch=(x, y)), so "
                            "cross_inputs and cross_targets must not be given too")
        return problems

    @property
    def kind(self) -> Optional[str]:
        """"heldout", "train" or None (no cross-batch quantities)."""
        if self.source is None and self.inputs is not None:
            return "heldout"
        return self.source


#: Probe's keyword for each group, and its class.
GROUPS: Dict[str, type] = {
    "measurement": MeasurementSettings,
    "spectrum": SpectrumSettings,
    "record": RecordSettings,
    "logging": LoggingSettings,
    "cross": CrossBatchSettings,
}

#: Each flat keyword of ``Probe`` and the group field it sets: the one table.
#: ``spectrum=`` and ``cross=`` are both a group keyword (given a
#: SpectrumSettings / CrossBatchSettings) and a shorthand (a bool / a string).
SHORTHANDS: Dict[str, Tuple[str, str]] = {
    "dtype": ("measurement", "dtype"),
    "trace": ("measurement", "trace"),
    "hutchinson_vectors": ("measurement", "hutchinson_vectors"),
    "min_vectors": ("measurement", "min_vectors"),
    "max_vectors": ("measurement", "max_vectors"),
    "exact_max_outputs": ("measurement", "exact_max_outputs"),
    "chunk_bytes": ("measurement", "chunk_bytes"),
    "seed": ("measurement", "seed"),
    "batchnorm": ("measurement", "batchnorm"),
    "output_fn": ("measurement", "output_fn"),
    "readout": ("measurement", "readout"),
    "spectrum": ("spectrum", "enabled"),
    "spectrum_every": ("spectrum", "every"),
    "spectrum_method": ("spectrum", "method"),
    "spectrum_max_outputs": ("spectrum", "max_outputs"),
    "spectrum_bytes": ("spectrum", "max_bytes"),
    "exact_limit": ("spectrum", "exact_limit"),
    "top_k": ("spectrum", "top_k"),
    "spectrum_share": ("spectrum", "share"),
    "overwrite": ("record", "overwrite"),
    "resume": ("record", "resume"),
    "mode": ("record", "mode"),
    "width": ("record", "width"),
    "depth": ("record", "depth"),
    "data_name": ("record", "data_name"),
    "batch": ("record", "batch"),
    "log_to": ("logging", "loggers"),
    "log_names": ("logging", "names"),
    "log_prefix": ("logging", "prefix"),
    "cross": ("cross", "source"),
    "cross_inputs": ("cross", "inputs"),
    "cross_targets": ("cross", "targets"),
}

_SHORTHAND_OF = {(GROUPS[group].__name__, field): flat for flat, (group, field) in SHORTHANDS.items()}


def _label(group, field: str) -> str:
    """A field as a message names it: the flat keyword, and the group field where they differ."""
    cls = type(group).__name__
    flat = _SHORTHAND_OF.get((cls, field), field)
    return flat if flat == field else "%s (%s.%s)" % (flat, cls, field)


@dataclass(frozen=True)
class ProbeSettings:
    """Every group, resolved from Probe's keywords."""
    measurement: MeasurementSettings
    spectrum: SpectrumSettings
    record: RecordSettings
    logging: LoggingSettings
    cross: CrossBatchSettings


def _describe(value) -> str:
    text = repr(value) if not isinstance(value, torch.Tensor) else "a tensor"
    return text if len(text) <= 40 else text[:37] + "..."


def resolve(groups: Dict[str, Any], shorthands: Dict[str, Any], other_keywords=()) -> Tuple[Dict[str, Any],
                                                                                       List[str]]:
    """The groups from Probe's group keywords (``groups``: name -> a group,
    or None) and flat keywords (``shorthands``), with every problem: an
    unknown keyword (with the nearest known one), a shorthand given beside
    the group that holds it, a group keyword given something else, and each
    group's own checks. Returns the groups that could be made (by keyword;
    the further checks use them even when another group failed) and the
    problems. ``other_keywords``: Probe's keywords outside the table, for
    the suggestions."""
    problems: List[str] = []
    known = sorted(set(SHORTHANDS) | set(GROUPS) | set(other_keywords))
    given: Dict[str, Dict[str, Any]] = {name: {} for name in GROUPS}
    explicit: Dict[str, Any] = {}
    for name, value in groups.items():
        if value is None:
            continue
        if isinstance(value, GROUPS[name]):
            explicit[name] = value
        elif name in SHORTHANDS:          # spectrum=False, cross="train"
            given[name][SHORTHANDS[name][1]] = value
        else:
            problems.append("%s= takes a %s, not %s" % (name, GROUPS[name].__name__, type(value).__name__))
    for key, value in shorthands.items():
        if key not in SHORTHANDS:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            problems.append("Probe got an unknown keyword %s=: %s" % (
                key, "did you mean %s=?" % close[0] if close else "see help(Probe) for the keywords it takes"))
            continue
        group, field = SHORTHANDS[key]
        if group in explicit:
            problems.append("%s=%s and %s=%s(...) both set %s: pass it once, inside %s(%s=...)"
                            % (key, _describe(value), group, GROUPS[group].__name__, field, GROUPS[group].__name__,
                               field))
            continue
        given[group][field] = value
    resolved: Dict[str, Any] = {}
    for name, cls in GROUPS.items():
        if name in explicit:
            resolved[name] = explicit[name]
            continue
        try:
            resolved[name] = cls(**given[name])
        except ProbeError as error:
            problems.extend(getattr(error, "problems", [str(error)]))
    return resolved, problems


def check_record_path(out) -> List[str]:
    """Problems with ``out`` that need no file opened: its type. (Where it
    leads is checked by :func:`record_path_problems` once the settings are known.)"""
    if out is not None and not isinstance(out, (str, os.PathLike)):
        return ["out must be a file path (str or os.PathLike) or None, not %s" % type(out).__name__]
    return []


def record_path_problems(out, overwrite: bool, resume: bool) -> List[str]:
    """What would stop the record from being opened at ``out``, found
    without creating or opening anything: a missing or read-only folder, a
    path that is not a regular file (a FIFO is never opened: opening one
    for writing waits for a reader), an existing record without
    ``overwrite``/``resume``. record.open_record checks again when it
    opens the file (things may change meanwhile)."""
    from .record import _kind
    path = os.fspath(out)
    label = "the record out=%r" % (path,)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        return ["cannot write %s: %s" % (label, error.strerror or error)]
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            return ["cannot write %s: it is %s, not a regular file" % (label, _kind(info.st_mode))]
        if not overwrite and not resume:
            return ["%s already exists: spectop-probe does not overwrite a record; choose another path, pass "
                    "overwrite=True, or resume=True to append to it (the same run, restarted)" % label]
        if not os.access(path, os.W_OK):
            return ["cannot write %s: Permission denied" % label]
        return []
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return ["cannot write %s: No such file or directory (its folder %s does not exist)" % (label, folder)]
    if not os.access(folder, os.W_OK | os.X_OK):
        return ["cannot write %s: Permission denied (its folder %s is not writable)" % (label, folder)]
    return []


def check_probe_batch(module: nn.Module, inputs: Tuple[tuple, dict], targets, device: Optional[torch.device],
                      problems: List[str]) -> None:
    """The probe batch: tensors, on the model's device (no forward)."""
    if not isinstance(targets, torch.Tensor):
        problems.append("probe_targets must be a tensor, not %s" % type(targets).__name__)
    tensors = [t for t in list(inputs[0]) + list(inputs[1].values()) if isinstance(t, torch.Tensor)]
    if not tensors:
        problems.append("probe_inputs holds no tensor: the probe batch must be tensors (other values, such as "
                        "use_cache=False, are passed to the model unchanged)")
    if device is None:
        return
    for tensor in tensors + ([targets] if isinstance(targets, torch.Tensor) else []):
        if tensor.device != device:
            problems.append("the probe batch is on %s but the model's parameters are on %s: move probe_inputs and "
                            "probe_targets to %s" % (tensor.device, device, device))
            break


def check_readout(module: nn.Module, readout, problems: List[str]) -> None:
    """A named readout must be a plain nn.Linear submodule (whether it
    produces the outputs is seen at the first measurement)."""
    if not isinstance(readout, str) or readout == "auto":
        return
    named = dict(module.named_modules())
    if readout not in named:
        close = difflib.get_close_matches(readout, [n for n in named if n], n=1)
        problems.append("readout=%r is not a submodule of the model%s" % (
            readout, ": did you mean %r?" % close[0] if close else " (pass \"auto\", a module name, or None)"))
    elif not _is_plain_linear(named[readout]):
        problems.append("readout=%r is not an nn.Linear submodule of the model (it is a %s): pass \"auto\", the "
                        "name of the nn.Linear that gives the outputs, or None" % (readout, type(named[readout]).__name__))


def check_history_size(size, problems: List[str]) -> None:
    _whole(size, "history_size", problems, 1, allow_none=True)


def field_names(cls) -> List[str]:
    return [f.name for f in fields(cls)]
