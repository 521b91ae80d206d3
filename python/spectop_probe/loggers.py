"""``log_to=``: the probe's numbers sent to the user's own logger too.

A destination is any of

- a Lightning logger, or anything with ``log_metrics(metrics, step)``
  (``TensorBoardLogger``, ``CSVLogger``, ``WandbLogger``, ...);
- a TensorBoard ``SummaryWriter`` (``torch.utils.tensorboard`` or
  tensorboardX), or anything with ``add_scalar(tag, value, global_step)``;
- a W&B run (``wandb.init()``'s result, or the ``wandb`` module), or
  anything with ``log(metrics, step=step)``;
- any callable taking ``(metrics, step)``;

or a list or tuple of them. The kind is told by duck typing, in that order,
so this module imports none of those packages: a package is imported only by
the user who made the object.

The names (``names="spectop"``, the default, with ``prefix="spectop/"``)::

    spectop/loss  spectop/chi_loss  spectop/chi_net  spectop/chi_pos  spectop/grad_sq
    spectop/chi_net_stderr                      (a Hutchinson χ_net)
    spectop/lambda_eff  spectop/r_eff  spectop/effective_rank  spectop/chi_pos_exact
                                                (steps with a spectrum)
    spectop/r_eff_uncertainty                   (a matrix-free spectrum, method
                                                "lanczos": its r_eff and
                                                effective_rank are estimates)

are the record's own numbers, unchanged (docs/RECORD.md). ``names="perspic"``
(prefix ``""``) gives the keys of the paper authors' tool (zincware/perspic,
``perspic/analyzer.py``), so dashboards made for it work unchanged:
``loss``, ``chi_loss``, ``chi_net``, ``chi_coup`` (χ_pos), ``grad_norm_squared``
(‖∇L‖²), ``batch_size`` and ``analysis_step``, with perspic's batch-size
normalisation (docs/METHOD.md): ``chi_loss = n·χ_loss`` and
``chi_net = χ_net/n`` for the probe's ``n`` rows, so their product and
``chi_coup`` are the record's. A measurement that carries a cross batch
(``Measurement.cross``) adds ``cross_*`` in both schemes.

An undefined value (χ_pos when g = 0) is left out; a non-finite one (a
diverged model) is sent as it is, NaN or ±inf, which the loggers show.

A destination that raises never stops training: the first error of each is
said once (:class:`~spectop_probe.errors.ProbeWarning`), :attr:`Loggers.error`
keeps it, and the destination is tried again at the next measurement.
"""

from __future__ import annotations

import logging
import math
import numbers
import types
import warnings
from typing import Any, Callable, Dict, List, Optional

from .errors import ProbeError, ProbeWarning

NAMES = ("spectop", "perspic")
DEFAULT_PREFIX = {"spectop": "spectop/", "perspic": ""}

# Spectop's names: the record's fields, in the order they are sent.
SPECTOP_STEP = ("loss", "chi_loss", "chi_net", "chi_pos", "grad_sq", "chi_net_stderr")
SPECTOP_SPECTRUM = ("lambda_eff", "r_eff", "r_eff_uncertainty", "effective_rank", "chi_pos_exact")
CROSS = ("loss", "chi_loss", "chi_net", "chi_pos", "grad_sq")


def _value(x) -> Optional[float]:
    if x is None or isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def spectop_values(measurement) -> Dict[str, float]:
    """The record's numbers of one measurement, under spectop's names (no prefix)."""
    values: Dict[str, Optional[float]] = {}
    for key in SPECTOP_STEP:
        if key == "chi_net_stderr" and not getattr(measurement, "chi_net_estimate", False):
            continue
        values[key] = _value(getattr(measurement, key, None))
    spectrum = getattr(measurement, "spectrum", None)
    if spectrum is not None and getattr(measurement, "diverged", None) is None:
        for key in SPECTOP_SPECTRUM:
            values[key] = _value(getattr(spectrum, key, None))
    cross = getattr(measurement, "cross", None)
    if cross is not None:
        for key in CROSS:
            values["cross_" + key] = _value(getattr(cross, key, None))
    return {key: value for key, value in values.items() if value is not None}


def perspic_values(measurement, rows: int) -> Dict[str, float]:
    """The same measurement under perspic's names and normalisation
    (``perspic/analyzer.py`` ``_log_analysis_results``): ``chi_coup`` is
    χ_pos, ``grad_norm_squared`` ‖∇L‖², and χ_loss and χ_net are scaled by
    the rows ``n`` as perspic scales them (``n·χ_loss``, ``χ_net/n``)."""
    n = float(rows) if rows else float("nan")
    values: Dict[str, Optional[float]] = {}

    def one(prefix: str, source, rows_here: float, dot_name: str) -> None:
        chi_loss, chi_net = _value(getattr(source, "chi_loss", None)), _value(getattr(source, "chi_net", None))
        values[prefix + "chi_net"] = None if chi_net is None else chi_net / rows_here
        values[prefix + "chi_loss"] = None if chi_loss is None else chi_loss * rows_here
        values[prefix + "chi_coup"] = _value(getattr(source, "chi_pos", None))
        values[prefix + "batch_size"] = rows_here
        if prefix == "":
            values["analysis_step"] = _value(getattr(source, "step", None))
        values[prefix + "loss"] = _value(getattr(source, "loss", None))
        values[prefix + dot_name] = _value(getattr(source, "grad_sq", None))

    one("", measurement, n, "grad_norm_squared")
    cross = getattr(measurement, "cross", None)
    if cross is not None:
        # perspic's cross normalisation uses sqrt(|A||B|) (docs/METHOD.md, cross-batch form).
        cross_rows = _value(getattr(cross, "rows", None)) or n
        one("cross_", cross, math.sqrt(n * cross_rows), "grad_dot_product")
        values["cross_batch_size"] = cross_rows
    return {key: value for key, value in values.items() if value is not None}


# ---------------------------------------------------------------- destinations


class _Destination:
    """One logger and how to send to it."""

    def __init__(self, target: Any, kind: str, label: str, send: Callable[[Dict[str, float], int], None]):
        self.target, self.kind, self.label, self._send = target, kind, label, send
        self.error: Optional[str] = None

    def send(self, values: Dict[str, float], step: int) -> None:
        self._send(values, step)


def _label(target) -> str:
    if isinstance(target, types.ModuleType):  # the wandb module itself
        return "module %s" % target.__name__
    if isinstance(target, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return "function %s" % getattr(target, "__qualname__", repr(target))
    kind = type(target)
    return "%s.%s" % (kind.__module__, kind.__qualname__)


def destination(target) -> _Destination:
    """The destination for one ``log_to`` entry, told by duck typing; a
    :class:`ProbeError` for anything that is no logger."""
    if isinstance(target, (str, bytes, numbers.Number)) or target is None:
        raise ProbeError("log_to=%r is not a logger: pass a Lightning logger, a torch.utils.tensorboard "
                         "SummaryWriter, a wandb run, or a callable taking (metrics, step)" % (target,))
    if isinstance(target, (logging.Logger, logging.LoggerAdapter)):
        raise ProbeError("log_to got a logging.Logger, which logs text, not metrics: pass a callable such as "
                         "lambda metrics, step: logger.info('%s %s', step, metrics)")
    label = _label(target)
    if callable(getattr(target, "log_metrics", None)):
        return _Destination(target, "lightning", label, lambda values, step: target.log_metrics(dict(values), step=step))
    if callable(getattr(target, "add_scalar", None)):
        def add_scalars(values, step):
            for tag, value in values.items():
                target.add_scalar(tag, value, global_step=step)
        return _Destination(target, "tensorboard", label, add_scalars)
    if callable(getattr(target, "log", None)):
        return _Destination(target, "wandb", label, lambda values, step: target.log(dict(values), step=step))
    if callable(target):
        return _Destination(target, "callable", label, lambda values, step: target(dict(values), step))
    raise ProbeError("log_to holds %s, which is not a logger: pass a Lightning logger (log_metrics), a "
                     "SummaryWriter (add_scalar), a wandb run (log), or a callable taking (metrics, step)" % label)


class Loggers:
    """The probe's ``log_to`` destinations, with the naming scheme."""

    def __init__(self, log_to=None, names: str = "spectop", prefix: Optional[str] = None):
        if names not in NAMES:
            raise ProbeError("log_names=%r: use \"spectop\" (spectop/chi_net, ...) or \"perspic\" (the names of the "
                             "paper authors' tool: chi_net, chi_coup, grad_norm_squared, ...)" % (names,))
        if prefix is not None and not isinstance(prefix, str):
            raise ProbeError("log_prefix must be a string (e.g. \"spectop/w256/\"), not %s" % type(prefix).__name__)
        self.names = names
        self.prefix = DEFAULT_PREFIX[names] if prefix is None else prefix
        if log_to is None:
            targets: List[Any] = []
        elif isinstance(log_to, (list, tuple)):
            targets = list(log_to)
        else:
            targets = [log_to]
        self.destinations = [destination(t) for t in targets]
        self._last_step: Optional[int] = None

    def __bool__(self) -> bool:
        return bool(self.destinations)

    def add(self, target) -> None:
        self.destinations.append(destination(target))

    @property
    def error(self) -> Optional[str]:
        """The first failure of a destination (None while all is well)."""
        return next((d.error for d in self.destinations if d.error is not None), None)

    def values(self, measurement, rows: int) -> Dict[str, float]:
        raw = perspic_values(measurement, rows) if self.names == "perspic" else spectop_values(measurement)
        return {self.prefix + key: value for key, value in raw.items()}

    def measurement(self, measurement, rows: int, step: Optional[int] = None) -> None:
        """Sends one measurement at ``step`` (default: its own). Steps must
        increase, as loggers need (W&B drops an earlier one): a repeated or
        earlier step is not sent. Never raises."""
        if not self.destinations:
            return
        step = measurement.step if step is None else int(step)
        if self._last_step is not None and step <= self._last_step:
            return
        self._last_step = step
        try:
            values = self.values(measurement, rows)
        except Exception as error:  # a measurement the names cannot be made from: say it, go on
            self._fail(self.destinations[0], error)
            return
        self.send(values, step)

    def send(self, values: Dict[str, float], step: int) -> None:
        for d in self.destinations:
            try:
                d.send(values, step)
            except Exception as error:  # the user's logger must never stop training
                self._fail(d, error)

    @staticmethod
    def _fail(d: _Destination, error: Exception) -> None:
        if d.error is None:
            d.error = "log_to %s (%s) failed: %s: %s" % (d.label, d.kind, type(error).__name__, error)
            warnings.warn("spectop-probe: %s; training goes on, the record is unaffected, and this logger is tried "
                          "again at the next measurement (said once)" % d.error, ProbeWarning, stacklevel=4)
