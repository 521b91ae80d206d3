"""``Probe``: measures a training job every N steps and writes a spectop record."""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
import operator
import os
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Union

import torch
from torch import nn

from . import __version__
from .cross import Cross, check_tensors, normalized, split_like, unpack_pair
from .errors import ProbeError, ProbeWarning
from .budget import CALIBRATION_REPEATS, DEFAULT_BUDGET, REHEARSALS, Budget, Layout, _seconds, next_gap
from .labels import RowTargets, looks_unshifted, row_targets
from .loggers import Loggers
from .measure import (ModelFunction, RawMeasurement, Reducer, Settings, Spectrum, batch_items, count_activations,
                      measure, resolve_loss, time_product)
from .record import RecordWriter
from .history import History
from .settings import (DEFAULT_HISTORY, CrossBatchSettings, LoggingSettings, MeasurementSettings, ProbeSettings,
                       RecordSettings, SpectrumSettings, check_history_size, check_probe_batch, check_readout,
                       check_record_path, record_path_problems, resolve, settings_error)
from .spectrum import MatrixFreeSettings
from .schedule import EverySchedule, LogSchedule, resolve_schedule


@dataclass
class Measurement:
    """One measurement, with what the run so far adds to it (docs/METHOD.md)."""
    step: int
    loss: float
    chi_loss: float
    chi_net: float
    grad_sq: float
    chi_pos: Optional[float]
    chi_net_estimate: bool
    chi_net_stderr: Optional[float]
    readout_chi_net: float
    hutchinson_vectors: int
    lambda_eff: Optional[float]           # χ_pos·χ_net = ĝᵀΘĝ
    amplification: Optional[float]        # χ_net / χ_net(first finite measurement)
    reach: Optional[float]                # the smallest χ_pos so far
    max_r_eff: Optional[float]            # the largest r_eff so far (spectrum steps)
    spectrum: Optional[Spectrum]
    seconds: float                        # wall time this measurement took
    diverged: Optional[str] = None        # what stopped being finite
    rows: int = 0                         # n, the rows the probe loss averages over
    chi_loss_normalized: Optional[float] = None   # n·χ_loss (METHOD.md, "Normalised factors")
    chi_net_normalized: Optional[float] = None    # χ_net/n
    window: Optional[int] = None          # the log schedule's window (its centre step) this step belongs to
    cross: Optional[Cross] = None         # cross-batch quantities against batch B, when measured


def _fsdp2_class():
    try:
        from torch.distributed.fsdp import FSDPModule  # FSDP2 (torch >= 2.6)
        return FSDPModule
    except ImportError:
        return None


def _describe_device(device: torch.device) -> str:
    """The record header's ``device``: ``cpu``, or ``cuda:0 NVIDIA H100 80GB HBM3``."""
    if device.type == "cuda":
        try:
            index = device.index if device.index is not None else torch.cuda.current_device()
            return "cuda:%d %s" % (index, torch.cuda.get_device_name(index))
        except Exception:  # noqa: BLE001 - a name for the header is never worth an error
            return str(device)
    return str(device)


def _unwrap(model: nn.Module) -> nn.Module:
    """The module to call functionally. DDP and DataParallel are unwrapped
    (their forward would all-reduce or scatter). FSDP2 is measured on
    gathered parameters with its hooks set aside (``fsdp_hooks_off``); FSDP1
    and tensor parallelism (DTensor parameters on a mesh of more than one
    dimension, or outside FSDP2) are refused."""
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except ImportError:
        FullyShardedDataParallel = None
    if FullyShardedDataParallel is not None and isinstance(model, FullyShardedDataParallel):
        raise ProbeError("FSDP1 (FullyShardedDataParallel) is not supported: its flat parameters cannot be called "
                         "functionally. Use FSDP2 (fully_shard) or DDP")
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    fsdp2 = _fsdp2_class()
    sharded = fsdp2 is not None and any(isinstance(m, fsdp2) for m in model.modules())
    for name, p in model.named_parameters():
        if type(p).__name__ == "DTensor":
            if not sharded:
                raise ProbeError("parameter %s is a DTensor outside FSDP2 (tensor parallelism?): not supported" % name)
            if p.device_mesh.ndim != 1:
                raise ProbeError("parameter %s is sharded on a %d-D mesh (FSDP with tensor parallelism): not "
                                 "supported; only FSDP2 on a 1-D mesh is" % (name, p.device_mesh.ndim))
    return model


class fsdp_hooks_off:
    """Sets aside the forward hooks FSDP2 registered on its modules (they
    would gather and reshard parameters around our functional call and
    swap our tensors for theirs); hooks registered later, the probe's own,
    are untouched. Restored on exit."""

    KINDS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
             "_forward_hooks_with_kwargs", "_forward_hooks_always_called")

    def __init__(self, module: nn.Module):
        fsdp2 = _fsdp2_class()
        self.modules = [m for m in module.modules() if fsdp2 is not None and isinstance(m, fsdp2)]

    def __enter__(self):
        self.saved = []
        for m in self.modules:
            for kind in self.KINDS:
                table = getattr(m, kind, None)
                if table:
                    self.saved.append((table, dict(table)))
                    table.clear()
        return self

    def __exit__(self, *exc):
        for table, entries in self.saved:
            table.update(entries)
        return False


def _split(probe_inputs):
    if isinstance(probe_inputs, torch.Tensor):
        return (probe_inputs,), {}
    if isinstance(probe_inputs, dict):
        return (), dict(probe_inputs)
    if isinstance(probe_inputs, (tuple, list)):
        return tuple(probe_inputs), {}
    raise ProbeError("probe_inputs must be a tensor, a tuple of tensors (positional) or a dict (keyword arguments)")


def _step_number(value) -> int:
    """A step number: a whole number >= 0, as a record's steps are (docs/RECORD.md)."""
    step = _whole_number(value, "the step")
    if step < 0:
        raise ProbeError("the step must be 0 or more (the number of optimizer steps taken), not %d" % step)
    return step


def _whole_number(value, what: str) -> int:
    """``value`` as an int; a float, a string or a bool is refused rather
    than rounded or parsed (``every="10"``, ``step(1.5)`` are mistakes)."""
    if isinstance(value, bool):
        raise ProbeError("%s must be a whole number (an int), not a bool (%r)" % (what, value))
    try:
        return operator.index(value)
    except TypeError:
        raise ProbeError("%s must be a whole number (an int), not %s (%r)" % (what, type(value).__name__, value)) from None


def trainable_names(module: nn.Module, trainable) -> List[str]:
    """The names of the parameters θ is made of: ``None`` (those with
    ``requires_grad``), ``"readout"`` (the last module owning parameters),
    or parameter names or tensors; a ProbeError names what is not one."""
    named = list(module.named_parameters())
    if trainable == "readout":
        # spectop's frozen model without touching requires_grad: the last
        # module that owns parameters is θ, everything else is constant.
        owners = [m for m in module.modules() if any(True for _ in m.parameters(recurse=False))]
        last = {id(p) for p in owners[-1].parameters(recurse=False)} if owners else set()
        names = [n for n, p in named if id(p) in last]
    elif trainable is None:
        names = [n for n, p in named if p.requires_grad]
    else:
        if isinstance(trainable, (str, torch.Tensor)):
            trainable = [trainable]
        try:
            wanted = list(trainable)
        except TypeError:
            raise ProbeError("trainable must be None, \"readout\", or parameter names or parameters, not %s"
                             % type(trainable).__name__) from None
        by_id = {id(p): n for n, p in named}
        names_set = {n for n, _ in named}
        names = []
        for item in wanted:
            if isinstance(item, str):
                if item not in names_set:
                    close = difflib.get_close_matches(item, sorted(names_set), n=1)
                    raise ProbeError("trainable names %r, which is not a parameter of the model%s" % (
                        item, " (did you mean %r?)" % close[0] if close else ""))
                names.append(item)
            elif isinstance(item, torch.Tensor):
                if id(item) not in by_id:
                    raise ProbeError("trainable holds a tensor that is not a parameter of the model")
                names.append(by_id[id(item)])
            else:
                raise ProbeError("trainable must hold parameter names or parameters")
        order = {n: k for k, (n, _) in enumerate(named)}
        names = sorted(set(names), key=order.get)
    if not names or sum(p.numel() for n, p in named if n in set(names)) == 0:
        raise ProbeError("the model has no trainable parameters (every requires_grad is False): nothing to measure")
    return names


def _device_of(module: nn.Module) -> torch.device:
    devices = {p.device for p in module.parameters()}
    if len(devices) != 1:
        if not devices:
            raise ProbeError("the model has no parameters: nothing to measure")
        raise ProbeError("the model's parameters are on several devices (%s): model parallelism is not supported"
                         % ", ".join(sorted(str(d) for d in devices)))
    return devices.pop()


def check_probe(model, probe_inputs, probe_targets, loss, every, out, trainable, budget, history_size,
                process_group, groups: Dict[str, Any], shorthands: Dict[str, Any]) -> ProbeSettings:
    """Every check of Probe's arguments that needs no forward pass: the
    settings (each group's fields, unknown or doubled keywords), the
    schedule, the loss, the budget, ``out`` (type, folder, an existing
    record), the model (a module, supported parallelism, one device, the
    trainable names, a named readout) and the probe and held-out batches
    (tensors, on the model's device, shaped alike). Raises one ProbeError
    listing every problem found; returns the resolved settings. Creates,
    opens, runs and calls nothing."""
    # Probe's own keywords (read from its signature) join the table's for "did you mean".
    own = [name for name in inspect.signature(Probe.__init__).parameters if name not in ("self", "shorthands")]
    made, problems = resolve(groups, shorthands, other_keywords=own)

    def attempt(check):
        try:
            return check()
        except ProbeError as error:
            problems.extend(getattr(error, "problems", [str(error)]))
            return None

    attempt(lambda: resolve_schedule(every))
    attempt(lambda: resolve_loss(loss))
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                               or not (0 < budget < math.inf)):
        problems.append("budget must be a share of the training wall time above 0 (0.05 is 5%%) or None (no budget: "
                        "every scheduled step measured, whatever it costs), not %r" % (budget,))
    check_history_size(history_size, problems)
    out_problems = check_record_path(out)
    problems.extend(out_problems)
    reducer = Reducer(process_group)   # the world's size and our rank: no collective
    rank = reducer.dist.get_rank(process_group) if reducer.world > 1 else 0
    if "record" in made and out is not None and not out_problems and rank == 0:
        # Only rank 0 opens the record (another rank would find rank 0's file).
        problems.extend(record_path_problems(out, made["record"].overwrite, made["record"].resume))

    module = device = None
    if not isinstance(model, nn.Module):
        problems.append("model must be a torch.nn.Module, not %s" % type(model).__name__)
    else:
        module = attempt(lambda: _unwrap(model))
        if module is not None:
            device = attempt(lambda: _device_of(module))
            attempt(lambda: trainable_names(module, trainable))
    inputs = attempt(lambda: _split(probe_inputs))
    if inputs is not None:
        check_probe_batch(module, inputs, probe_targets, device, problems)
    how = made.get("measurement")
    if module is not None and how is not None:
        check_readout(module, how.readout, problems)
        if (how.batchnorm == "batch" and reducer.world > 1
                and any(isinstance(m, nn.SyncBatchNorm) for m in module.modules())):
            # Its forward would all-reduce the statistics: a collective inside
            # every probe forward, which the ranks do not all run.
            problems.append("batchnorm=\"batch\" with SyncBatchNorm under several processes is not supported: "
                            "pass batchnorm=\"eval\"")
    crossing = made.get("cross")
    if crossing is not None and crossing.inputs is not None and inputs is not None and device is not None:
        def held_out():
            args, kwargs = split_like(crossing.inputs, inputs, "cross_inputs")
            check_tensors(args, kwargs, crossing.targets, device, "the held-out batch (cross_inputs, cross_targets)")
        attempt(held_out)
    if reducer.world > 1:
        # Ranks that disagree (a setting, a path or a batch wrong on some
        # ranks only) would leave the others waiting in the construction's
        # first collective: every rank learns how many problems each found,
        # and all stop together.
        backend = reducer.dist.get_backend(process_group)
        where = (torch.device("cuda", torch.cuda.current_device()) if "nccl" in str(backend)
                 else device or torch.device("cpu"))
        counts = reducer.gather_all(len(problems), where)
        others = ["rank %d (%d)" % (r, c) for r, c in enumerate(counts) if c and r != rank]
        if others and not problems:
            problems.append("other ranks found problems with their settings: %s; each rank's ProbeError lists its "
                            "own. Every rank stops, so that none waits for the others" % ", ".join(others))
    if problems:
        raise settings_error(problems)
    return ProbeSettings(**made)


class Probe:
    """Measures χ_loss, χ_net, χ_pos (and the eNTK spectrum) of ``model`` on
    a fixed probe batch every ``every`` steps, and writes them to ``out`` as
    a spectop record.

    Call :meth:`step` once per training step (after ``optimizer.step()``; the
    measurement at step t is of the parameters after t updates, as in
    spectop); it does nothing between measurements. It never changes the
    model's parameters, their ``.grad``, the optimizer, the RNG streams or the
    train/eval mode, and under DDP it triggers no gradient all-reduce of the
    training step. Use as a context manager, or call :meth:`close`; a record
    left open is ended with reason ``exit`` when the interpreter exits.

    The arguments:

    - ``probe_inputs``: a tensor, a tuple, or a dict of keyword inputs
      (values that are not tensors, ``use_cache=False``, reach the model
      unchanged); ``probe_targets``: a tensor;
    - ``loss``: ``"mse"``, ``"cross_entropy"`` (rows labelled −100 leave
      ``n``), ``"causal_lm"`` (Hugging Face's shifted next-token loss) or a
      callable ``loss(outputs[n, C], targets)``;
    - ``every``: a whole number of steps, ``"log"`` (log-spaced windows,
      dense early) or a :class:`LogSchedule`;
    - ``out``: the record's path (None: no record; under DDP rank 0 writes);
      ``name``: the model's id in the record;
    - ``trainable``: None (the parameters with ``requires_grad``),
      ``"readout"`` (the last module owning parameters), or parameter
      names or tensors;
    - ``budget``: the share of the training wall time all probe work may
      take (0.05, the first measurement included; docs/METHOD.md "The
      probe's budget"): it chooses the trace route, the vector count,
      whether a spectrum fits now, and whether to measure at all (a
      ``budget`` event says why not). None: "exact, whatever it costs":
      every scheduled step measured, ``trace="auto"`` exact at any m
      (chunked by ``chunk_bytes``, so the memory stays capped; one warning
      at construction gives m and the predicted seconds per measurement
      where m is above ``exact_max_outputs``), the spectrum exact wherever
      its Jacobian fits the spectrum's ``max_bytes``;
    - the groups (spectop_probe/settings.py, each with its fields'
      documentation and defaults): ``measurement=``
      :class:`MeasurementSettings` (precision, trace route, Hutchinson
      vectors, memory, seed, BatchNorm, output, readout), ``spectrum=``
      :class:`SpectrumSettings` (or a bool: on/off), ``record=``
      :class:`RecordSettings` (overwrite, resume, the header's fields),
      ``logging=`` :class:`LoggingSettings` (the user's loggers),
      ``cross=`` :class:`CrossBatchSettings` (or ``"train"``: the batch B
      of the cross-batch quantities);
    - every group field also has a flat shorthand (``trace="hutchinson"``,
      ``spectrum_every=5``, ``overwrite=True``, ``log_to=writer``,
      ``cross_inputs=x``; the table is ``settings.SHORTHANDS`` and
      python/README.md), which may not be given beside its own group;
    - ``process_group``: the group to reduce over (default: the world);
    - ``history_size``: how many of the latest measurements :attr:`history`
      keeps (1,000; None: all). The record keeps every one.

    Every argument is checked before any work (no forward, no file, no
    logger call), and every problem found is listed in one
    :class:`ProbeError` (its ``problems`` attribute holds them). The checks
    that need the model to run (its outputs, the held-out batch's forward)
    follow, still before the record file is created; the file is created
    with its first line.

    :meth:`log` writes the user's own scalars (validation loss, accuracy,
    learning rate) into the record. A record write that fails (disk full,
    file too large) never stops training: the probe warns once
    (:class:`ProbeWarning`), stops recording, keeps measuring, and
    :attr:`record_error` says what happened. Calls are serialised by a
    lock, so :meth:`step` may be called from several threads.
    """

    def __init__(self, model: nn.Module, probe_inputs, probe_targets, loss: Union[str, Callable] = "mse",
                 every: Union[int, str, LogSchedule] = 100, out: Optional[str] = "run.jsonl", name: str = "model",
                 trainable: Optional[Iterable] = None, *, budget: Optional[float] = DEFAULT_BUDGET,
                 measurement: Optional[MeasurementSettings] = None,
                 spectrum: Union[None, bool, SpectrumSettings] = None,
                 record: Optional[RecordSettings] = None, logging: Optional[LoggingSettings] = None,
                 cross: Union[None, str, CrossBatchSettings] = None, process_group=None,
                 history_size: Optional[int] = DEFAULT_HISTORY, **shorthands):
        # Everything that can be checked without running the model is checked
        # first, all of it, and reported at once: nothing below runs (no
        # forward, no file, no logger) until it passes.
        settings = check_probe(model, probe_inputs, probe_targets, loss, every, out, trainable, budget,
                               history_size, process_group,
                               dict(measurement=measurement, spectrum=spectrum, record=record, logging=logging,
                                    cross=cross), shorthands)
        self.options = settings   # every group as resolved (settings.ProbeSettings): probe.options.spectrum.top_k
        how, spectra, header, crossing = settings.measurement, settings.spectrum, settings.record, settings.cross
        dtype, trace, hutchinson_vectors = how.dtype, how.trace, how.hutchinson_vectors
        min_vectors, max_vectors, exact_max_outputs = how.min_vectors, how.max_vectors, how.exact_max_outputs
        batchnorm, seed = how.batchnorm, how.seed
        mode, width, depth, data_name = header.mode, header.width, header.depth, header.data_name
        overwrite, resume, batch = header.overwrite, header.resume, header.batch
        cross, cross_inputs, cross_targets = crossing.kind, crossing.inputs, crossing.targets

        self.schedule = resolve_schedule(every)
        every = self.schedule.every if isinstance(self.schedule, EverySchedule) else self.schedule
        self.loggers = Loggers(settings.logging.loggers, settings.logging.names, settings.logging.prefix)
        self.model = model
        self.module = _unwrap(model)
        self.loss_name, self.loss_fn = resolve_loss(loss)
        self.every = every   # an int, or the LogSchedule
        self.cross_source: Optional[str] = cross
        self.name = str(name)
        self.budget = None if budget is None else float(budget)
        self.min_vectors, self.max_vectors = int(min_vectors), int(max_vectors)
        # The probe's clock: the budget's training and probe times (tests put a fake clock here).
        self._clock: Callable[[], float] = time.perf_counter
        self.fixed_vectors = hutchinson_vectors
        self.spectrum_every = int(spectra.every)
        self.spectrum_share = None if spectra.share is None else float(spectra.share)
        self._training_seconds = 0.0   # all training wall time between step() calls
        self._step_seconds: Deque[float] = deque(maxlen=64)   # the latest intervals, for the usage line
        self._lanczos_seconds = 0.0    # the matrix-free spectra's own time
        self._lanczos_taken = 0
        self.reducer = Reducer(process_group)
        self.rank = self.reducer.dist.get_rank(process_group) if self.reducer.world > 1 else 0

        self.trainable = self._trainable_names(trainable)
        device = self._device()
        self.inputs = _split(probe_inputs)
        # The probe batch is the probe's own copy: fixed even if the user later
        # changes those tensors, and never written by the probe's forwards.
        # Other values (use_cache=False, a string) go to the model as given.
        self.inputs = (tuple(_own(a) for a in self.inputs[0]), {k: _own(v) for k, v in self.inputs[1].items()})
        self.targets_given = probe_targets.detach().clone()
        # The rows the loss counts (labels.py): -100 labels and the causal
        # shift's last positions leave n.
        self.targets = row_targets(self.loss_name, self.targets_given)
        if self.loss_name == "cross_entropy" and looks_unshifted(self.module, self.inputs, self.targets_given):
            warnings.warn("spectop-probe: probe_targets equal the input_ids of a causal language model (%s) and "
                          "loss=\"cross_entropy\" scores the logits at each position against the token they read; "
                          "pass loss=\"causal_lm\" for the next-token loss the model trains on (model(**batch, "
                          "labels=...).loss shifts them), or shift the labels yourself"
                          % type(self.module).__name__, ProbeWarning, stacklevel=2)
        self.device = device
        self.function = ModelFunction(self.module, self.trainable, dtype, how.output_fn, how.readout, device)
        self.batchnorm = batchnorm
        # On the batch's statistics the items of the probe batch interact:
        # the exact routes then take whole-batch products, not per-sample ones.
        self.function.items_interact = batchnorm == "batch" and bool(_batch_norms(self.module))
        self.settings = Settings(trace=trace, exact_max_outputs=exact_max_outputs, spectrum=spectra.enabled,
                                 spectrum_max_outputs=spectra.max_outputs, spectrum_bytes=spectra.max_bytes,
                                 chunk_bytes=how.chunk_bytes, seed=seed, spectrum_method=spectra.method,
                                 exact_limit=spectra.exact_limit, matrix_free=MatrixFreeSettings(top_k=spectra.top_k),
                                 exact_any_m=budget is None)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(int(seed) + self.rank)  # ranks draw different vectors

        # The layers of the per-layer split (layer_chi_net, layer_grad_sq): the
        # modules that own parameters, in the model's order (a tied
        # parameter belongs to its first owner), frozen ones included (0).
        self.layers: List[str] = []
        self._layer_of: Dict[str, int] = {}
        for pname, _ in self.module.named_parameters():
            owner = pname.rsplit(".", 1)[0] if "." in pname else ""
            if not self.layers or self.layers[-1] != owner:
                if owner not in self.layers:
                    self.layers.append(owner)
            self._layer_of[pname] = self.layers.index(owner)
        params_all = {id(p): p for p in self.module.parameters()}
        self.parameter_count = sum(p.numel() for p in params_all.values())
        self.trainable_count = sum(p.numel() for n, p in self.module.named_parameters() if n in set(self.trainable))
        # The latest measurements (the record keeps every one).
        self.history: History = History(history_size)
        self.diverged: Optional[str] = None
        self._first_chi_net: Optional[float] = None
        self._reach: Optional[float] = None
        self._max_r_eff: Optional[float] = None
        self._no_spectrum_said = False
        self._spectrum_errors = 0
        self._measurements = 0
        self._last_step_time: Optional[float] = None
        self._closed = False
        self._budget_skips = 0   # scheduled measurements the budget left out
        self._spectrum_possible = True   # until a measurement says no spectrum can be taken at all
        self._last_step: Optional[int] = None
        self._backwards_said = False
        self._last_recorded: Optional[int] = None   # the last step written to the record
        self._unrecorded_said = False
        self._last_scalars_step: Optional[int] = None  # the last step probe.log wrote
        self._scalars_said = False
        self._cross_said: set = set()   # cross-batch problems already warned about (once each)
        # One measurement at a time: the functional call swaps tensors into
        # the shared module, and the readout capture is shared state.
        self._lock = threading.Lock()

        # Every rank takes part in the header's collective (the row count); rank 0 writes.
        frozen = self._readout_only()
        self.mode = mode or ("frozen" if frozen else "active")
        C, n = self._output_shape(dtype)
        self.rows = n  # the probe's rows over all ranks (data.probe)
        self.outputs = C
        self._budget: Optional[Budget] = None
        with _Quiet(self.module, self.batchnorm):   # what the chunked routes' backwards hold (measure.py)
            count_activations(self.function, self.inputs, self.targets)
        if self.budget is None:
            self._warn_exact_cost(n * C)
        if self.budget is not None:
            items = max(1, batch_items(*self.inputs))
            per_item = max(1, int(math.ceil(n / max(1, self.reducer.world) / items)) * C)
            self._layout = Layout(m=n * C, per_item=per_item, parameters=self.trainable_count,
                                  sides=2 if cross is not None else 1, items=items)
            self._budget = Budget(self.budget, self.min_vectors, self.max_vectors, hutchinson_vectors, trace,
                                  exact_max_outputs, self._reduce_max)
            self._calibrate()
            self._rehearse()
        # The held-out batch B: the probe's own copy, checked now with one forward and the loss.
        self.cross_inputs = None
        self.cross_targets: Optional[torch.Tensor] = None
        if cross_inputs is not None:
            args, kwargs = split_like(cross_inputs, self.inputs, "cross_inputs")
            check_tensors(args, kwargs, cross_targets, device, "the held-out batch (cross_inputs, cross_targets)")
            self.cross_inputs = (tuple(_own(a) for a in args), {k: _own(v) for k, v in kwargs.items()})
            self.cross_targets = cross_targets.detach().clone()
            self._check_cross_batch(self.cross_inputs, self.cross_targets, dtype)
        entry = {"id": self.name, "width": int(width), "depth": int(depth),
                 "params": self.parameter_count, "trainable_params": self.trainable_count,
                 "trainable": "readout" if frozen else "all", "mode": self.mode,
                 "schedule": self.schedule.describe(), "layers": [name or "(root)" for name in self.layers]}
        if self.cross_source is not None:
            entry["cross"] = self.cross_source
        if batch is not None:
            entry["batch"] = batch
        entry["param_signature"] = self._signature()
        data = {"name": data_name, "probe": n, "outputs": C, "loss": self.loss_name}
        self.writer: Optional[RecordWriter] = None
        self._resume_after: Optional[int] = None   # resume: the record's last step of this model
        if out is not None and self.rank == 0:
            check = (lambda lines: self._check_resumable(lines, entry, data, out)) if resume else None
            self.writer = RecordWriter(out, overwrite=overwrite, resume=check)
            if self.writer.existing:
                self._continue(self.writer.existing, out)
            else:
                self.writer.header(tool="spectop-probe %s" % __version__, models=[entry], data=data,
                                   extra={"torch": torch.__version__, "device": _describe_device(self._device())})
        if resume and self.reducer.world > 1:
            # Every rank skips the steps already recorded (rank 0 read them), or they would disagree on measuring.
            last = self.reducer.gather_all(-1 if self._resume_after is None else self._resume_after, self.device)
            self._resume_after = None if max(last) < 0 else max(last)

    # ------------------------------------------------------------ setup

    def _signature(self) -> str:
        """A fingerprint of the model's parameter names and shapes (the
        header's ``param_signature``): resume=True refuses a record of
        another model."""
        import hashlib
        text = ";".join("%s:%s" % (name, "x".join(str(d) for d in p.shape))
                        for name, p in self.module.named_parameters())
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _check_resumable(self, lines, entry, data, out) -> None:
        """resume=True: the existing record must be this run's: a model with
        this name, the same parameters (count, trainable count, names and
        shapes) and the same probe batch shape and loss. Raises ProbeError
        saying what differs (nothing in the file is changed then)."""
        header = lines[0]
        label = "resume=True: out=%r" % (os.fspath(out),)
        models = header.get("models") if isinstance(header.get("models"), list) else []
        found = [m for m in models if isinstance(m, dict) and m.get("id") == entry["id"]]
        if not found:
            names = ", ".join(repr(m.get("id")) for m in models if isinstance(m, dict)) or "none"
            raise ProbeError("%s has no model named %r (its models: %s): pass the name it was recorded under, or "
                             "another out" % (label, entry["id"], names))
        recorded = found[0]
        differences = []
        for key in ("params", "trainable_params", "param_signature", "trainable"):
            if key in recorded and recorded[key] != entry[key]:
                differences.append("%s %r there, %r here" % (key, recorded[key], entry[key]))
        recorded_data = header.get("data") if isinstance(header.get("data"), dict) else {}
        for key in ("probe", "outputs", "loss"):
            if key in recorded_data and recorded_data[key] != data[key]:
                differences.append("data.%s %r there, %r here" % (key, recorded_data[key], data[key]))
        if differences:
            raise ProbeError("%s holds a record of a different model or probe batch (%s): resume a record only "
                             "with the run that wrote it; pass another out, or overwrite=True"
                             % (label, "; ".join(differences)))

    def _continue(self, lines, out) -> None:
        """resume=True on an existing record: what the run so far adds
        (the last step, χ_net's first value, the reach) comes from it, and a
        ``resume`` event marks where the restarted job takes over."""
        steps = [line for line in lines if line.get("type") == "step" and line.get("model") == self.name
                 and isinstance(line.get("step"), int)]
        if steps:
            self._resume_after = max(line["step"] for line in steps)
            self._last_recorded = self._resume_after
            for line in steps:
                chi_net, chi_pos = line.get("chi_net"), line.get("chi_pos")
                if self._first_chi_net is None and isinstance(chi_net, (int, float)) and chi_net > 0:
                    self._first_chi_net = float(chi_net)
                if isinstance(chi_pos, (int, float)):
                    self._reach = chi_pos if self._reach is None else min(self._reach, chi_pos)
        for line in lines:
            if line.get("type") == "spectrum" and line.get("model") == self.name and isinstance(line.get("r_eff"),
                                                                                             (int, float)):
                self._max_r_eff = line["r_eff"] if self._max_r_eff is None else max(self._max_r_eff, line["r_eff"])
        scalars = [line["step"] for line in lines if line.get("type") == "scalars" and line.get("model") == self.name
                   and isinstance(line.get("step"), int)]
        if scalars:
            self._last_scalars_step = max(scalars)
        self.writer.event("resume", model=self.name, step=self._resume_after,
                          detail="the probe resumed this record after a restart%s" % (
                              "; steps up to %d were recorded before" % self._resume_after
                              if self._resume_after is not None else ""))

    def _trainable_names(self, trainable) -> List[str]:
        names = trainable_names(self.module, trainable)
        if trainable == "readout":
            owners = [m for m in self.module.modules() if any(True for _ in m.parameters(recurse=False))]
            if owners:
                self._warn_tied_readout(owners[-1], {id(p) for p in owners[-1].parameters(recurse=False)})
        return names

    def _warn_tied_readout(self, readout: Optional[nn.Module], chosen: set) -> None:
        """trainable="readout" on a model whose last layer shares its weight
        with another module (GPT-2's lm_head and its token embedding): θ is
        then that shared matrix in both roles, not a readout layer alone, and
        the closed-form readout share does not apply. Said, naming both."""
        if readout is None:
            return
        holders: Dict[int, List[str]] = {}
        for name, p in self.module.named_parameters(remove_duplicate=False):
            if id(p) in chosen:
                holders.setdefault(id(p), []).append(name)
        tied = [names for names in holders.values() if len(names) > 1]
        if tied:
            warnings.warn("spectop-probe: trainable=\"readout\" takes the last layer's parameters, but %s: θ is that "
                          "one matrix in every role (the input embedding's too), not a readout layer alone, and its "
                          "share of χ_net is not closed-form; name the parameters to measure with trainable=[...], "
                          "or untie them (tie_word_embeddings=False) to measure a readout alone"
                          % "; ".join(" is tied to ".join(names) for names in tied), ProbeWarning, stacklevel=4)

    def _device(self) -> torch.device:
        return _device_of(self.module)

    def _readout_only(self) -> bool:
        """True when some parameters are frozen and the trainable ones are
        exactly those of the last module that owns parameters (the readout):
        spectop's frozen model (trainable = "readout")."""
        owners = [m for m in self.module.modules() if any(True for _ in m.parameters(recurse=False))]
        if not owners:
            return False
        last = {id(p) for p in owners[-1].parameters(recurse=False)}
        trainable = {id(p) for n, p in self.module.named_parameters() if n in set(self.trainable)}
        return trainable == last and len(trainable) < sum(1 for _ in self.module.parameters())

    def _output_shape(self, dtype):
        """(C, n) for the header, from one forward pass (eval mode, no grad),
        which is also the check that the model runs as the probe runs it."""
        with _Quiet(self.module, self.batchnorm):
            theta, constants = self.function.parameters()
            args, kwargs = self.function.cast_inputs(self.inputs)
            try:
                with torch.no_grad():
                    F = self.function(theta, constants, args, kwargs)
            except ProbeError:
                raise
            except Exception as error:
                text = str(error).strip().split("\n")[0]
                hint = ""
                if self.batchnorm == "batch" and "more than 1 value per channel" in text:
                    hint = ("; with batchnorm=\"batch\" a BatchNorm layer normalises with the probe batch's own "
                            "statistics, which one value per channel does not have: give the probe batch more "
                            "items, or pass batchnorm=\"eval\"")
                elif any(word in text for word in ("dtype", "scalar type", "BFloat16", "Half")):
                    hint = ("; a forward that casts its activations (.to(torch.bfloat16), .half(), autocast) cannot "
                            "be measured in one precision: remove the cast while probing")
                raise ProbeError("the model's forward fails on the probe batch with its parameters and floating "
                                 "inputs in %s (the measurement precision): %s: %s%s"
                                 % (str(dtype).replace("torch.", ""), type(error).__name__, text, hint)) from error
        local_rows = F.shape[0]
        if isinstance(self.targets, RowTargets):
            if self.targets.total != F.shape[0]:
                raise ProbeError("%s: probe_targets hold %d labels for %d output rows of the model"
                                 % (self.loss_name, self.targets.total, F.shape[0]))
            local_rows = self.targets.count   # the rows the loss counts
        counts = self.reducer.sum(torch.tensor([float(local_rows)], dtype=torch.float64, device=F.device))
        return int(F.shape[1]), int(round(float(counts[0])))

    def _check_cross_batch(self, inputs, targets, dtype) -> None:
        """The held-out batch runs through the model and the loss as the probe
        batch does, with as many outputs per row: checked once, before any
        training step, so a mistake in it is a ProbeError here and not a
        silent gap in the record."""
        with _Quiet(self.module, self.batchnorm):
            theta, constants = self.function.parameters()
            args, kwargs = self.function.cast_inputs(inputs)
            try:
                prepared = row_targets(self.loss_name, targets, "cross_targets")
                rows, values = (prepared.rows, prepared.values) if isinstance(prepared, RowTargets) else (None, targets)
                with torch.no_grad():
                    F = self.function(theta, constants, args, kwargs)
                if isinstance(prepared, RowTargets) and prepared.total != F.shape[0]:
                    raise ProbeError("%d labels for %d output rows" % (prepared.total, F.shape[0]))
                if rows is not None:
                    F = F.index_select(0, rows)
                with torch.enable_grad():
                    value = self.loss_fn(F.detach().requires_grad_(True), values)
            except ProbeError as error:
                raise ProbeError("the held-out batch (cross_inputs, cross_targets): %s" % error) from error
            except Exception as error:
                text = str(error).strip().split("\n")[0]
                raise ProbeError("the model or the loss fails on the held-out batch (cross_inputs, cross_targets): "
                                 "%s: %s" % (type(error).__name__, text)) from error
        if F.shape[1] != self.outputs:
            raise ProbeError("the held-out batch gives %d outputs per row, the probe batch %d: cross_inputs must be "
                             "inputs of the same model" % (F.shape[1], self.outputs))
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise ProbeError("the loss must return one number (a tensor with one element)")

    def _cross_batch(self, cross_batch):
        """(inputs as (args, kwargs), targets) of a batch passed to step(), checked."""
        if self.cross_source != "train":
            raise ProbeError("probe.step(..., cross_batch=...) needs Probe(..., cross=\"train\")%s"
                             % (" (this probe's batch B is its held-out batch, cross_inputs)"
                                if self.cross_source == "heldout" else ""))
        inputs, targets = unpack_pair(cross_batch, "cross_batch")
        args, kwargs = split_like(inputs, self.inputs, "cross_batch's inputs")
        check_tensors(args, kwargs, targets, self.device, "cross_batch")
        return (args, kwargs), targets

    def _warn_cross_once(self, key: str, message: str) -> None:
        if key not in self._cross_said:
            self._cross_said.add(key)
            warnings.warn("spectop-probe: " + message, ProbeWarning, stacklevel=4)

    # ------------------------------------------------------------ the loop

    def due(self, step: int) -> bool:
        return self.schedule.due(_step_number(step))

    def step(self, step: int, cross_batch=None) -> Optional[Measurement]:
        """Measures at the steps ``every`` names (every N-th, or the log
        schedule's) and returns the measurement; otherwise only notes the
        time, for the Hutchinson budget.

        Step numbers must increase: a step already seen (a framework calling
        once per micro-batch) is ignored, so a step is measured at most once;
        an earlier one is ignored with one :class:`ProbeWarning`, and a step
        that is not an int, or is negative, is a :class:`ProbeError`. Under
        DDP every rank must pass the same step (checked with one small
        all-gather per call). Thread-safe.

        ``cross_batch=(inputs, targets)`` (with ``Probe(..., cross="train")``):
        the batch B of the cross-batch quantities at this step, e.g. the next
        training batch; used only when the step is measured, never kept. It
        must be shaped like the probe batch (checked on every call); a
        failure while measuring on it is one :class:`ProbeWarning` and a step
        line without the cross fields."""
        step = _step_number(step)
        cross = self._cross_batch(cross_batch) if cross_batch is not None else None
        with self._lock:
            if self._closed or self.diverged is not None:
                return None
            self._check_ranks_agree(step, cross is not None)
            if self._last_step is not None and step <= self._last_step:
                if step < self._last_step and not self._backwards_said:
                    self._backwards_said = True
                    warnings.warn("spectop-probe: probe.step(%d) after probe.step(%d): step numbers must increase; "
                                  "calls with an earlier step are ignored" % (step, self._last_step), ProbeWarning,
                                  stacklevel=2)
                return None
            self._last_step = step
            due = self.schedule.due(step)
            if due and self._budget is not None and self.device.type == "cuda":
                # CUDA runs the training asynchronously: wait for it before a
                # measurement, so that its time counts as training, not probe.
                torch.cuda.synchronize(self.device)
            now = self._clock()
            if self._last_step_time is not None:
                self._training_seconds += now - self._last_step_time
                self._step_seconds.append(now - self._last_step_time)
                if self._budget is not None:
                    self._budget.costs.training_step(now - self._last_step_time)
            self._last_step_time = now
            if not due:
                return None
            if self._resume_after is not None and step <= self._resume_after:
                return None   # resume=True: this step is in the record already
            plan = self._plan(step)
            if plan is not None and not plan.measure:
                self._skipped(step, plan.reason)
                result = None
            else:
                result = self._measure(step, cross, plan)
            self._last_step_time = self._clock()  # the probe's own time is not training time
            return result

    # ------------------------------------------------------------ the budget

    def _reduce_max(self, tensor: torch.Tensor) -> torch.Tensor:
        """Elementwise maximum over the ranks (budget.py plans from it, so
        that every rank takes the same route and vector count)."""
        if self.reducer.world == 1:
            return tensor
        tensor = tensor.to(self.device).clone()
        self.reducer.dist.all_reduce(tensor, op=self.reducer.dist.ReduceOp.MAX, group=self.reducer.group)
        return tensor.cpu()

    def _warn_exact_cost(self, m: int) -> None:
        """``budget=None`` takes the exact trace at any m: where m is above
        ``exact_max_outputs`` (where a budget would consider Hutchinson),
        one warning says what a measurement will cost, predicted from one
        forward and VJP of the probe batch timed now (after an untimed one:
        torch.func's one-off set-up). The exact trace takes one backward per
        output of an item (per sample) or per output (whole-batch routes)."""
        if self.settings.trace != "auto" or m <= self.settings.exact_max_outputs:
            return
        self._calibration_pass()
        forward, backward = self._calibration_pass()
        items = max(1, batch_items(*self.inputs))
        whole = self._whole_batch_route()
        backwards = m if whole else int(math.ceil(m / items))
        warnings.warn("spectop-probe: budget=None takes the exact trace at m = %d outputs: about %d backward passes "
                      "of the probe batch (%s) per measurement, ~%s each (forward %s, VJP %s, timed now), so ~%s per "
                      "measurement; pass a budget (budget=0.05) or trace=\"hutchinson\" to estimate χ_net instead"
                      % (m, backwards, "one per output: the whole-batch route" if whole else "one per output of an item",
                         _seconds(forward + backward), _seconds(forward), _seconds(backward),
                         _seconds(backwards * (forward + backward))), ProbeWarning, stacklevel=3)

    def _calibration_pass(self):
        """(forward seconds, VJP seconds) of one forward and one
        vector-Jacobian product of the probe batch (vmapped over one vector,
        as the Hutchinson route runs them); zeros if it failed (the
        measurement will say why)."""
        try:
            with _Quiet(self.module):
                theta, constants = self.function.parameters()
                args, kwargs = self.function.cast_inputs(self.inputs)
                with torch.enable_grad():
                    started = self._clock()
                    F, pullback = torch.func.vjp(lambda p: self.function(p, constants, args, kwargs), theta)
                    forward_done = self._clock()
                    torch.func.vmap(pullback)(torch.ones((1,) + tuple(F.shape), dtype=F.dtype, device=F.device))
                    return forward_done - started, self._clock() - forward_done
        except Exception:
            return 0.0, 0.0

    def _calibrate(self) -> None:
        """At construction no cost is known yet: time the calibration pass
        (one forward and one VJP of the probe batch), from which the
        training step is estimated until one is seen. It is set-up, like the
        header's forward, before the training the budget is a share of.
        One untimed pass first (the first use of torch.func's transforms in
        a process costs a second or two of one-off set-up), then the fastest
        of ``CALIBRATION_REPEATS`` timed ones: the warm-up and a loaded
        machine's stalls only ever add time, and the estimate must not be
        larger than what a training step really costs (over-estimating the
        training time would let the first measurement spend more than its
        share). Forward and VJP are each their own minimum."""
        self._calibration_pass()
        passes = [self._calibration_pass() for _ in range(CALIBRATION_REPEATS)]
        costs = self._budget.costs
        costs.calibration_forward = max(0.0, min(forward for forward, _ in passes))
        costs.calibration_backward = max(0.0, min(backward for _, backward in passes))
        costs.calibration = costs.calibration_forward + costs.calibration_backward

    def _rehearse(self) -> None:
        """The first measurement's one-off set-up, paid at construction and
        its costs measured: the route the first measurement's plan takes
        (its trace route and vector count; the spectrum's machinery only
        imported) runs once untimed, then ``REHEARSALS`` times timed, and
        each stage's fastest time becomes the cost model's. The first use of
        a route pays one-off costs no steady measurement does (the readout
        search, the first vmap over a chunk of vectors, allocator growth:
        0.1 to 4 s against a steady 50 to 250 ms on the char-GPT example),
        which the plan cannot predict and which would spend the first
        interval's share many times over. Nothing is recorded and nothing is counted as probe time (it
        is set-up, as the calibration); the probe's generator is restored,
        so the measurements draw the vectors they would have drawn; the
        model is untouched (_Quiet). A failure is ignored: the first real
        measurement says what is wrong."""
        plan = self._plan(0)   # a plan that leaves it out still names the cheapest route: rehearsed too
        if plan is None:
            return
        state = self.generator.get_state()
        try:
            if plan.spectrum and self.settings.spectrum:
                import scipy.sparse.linalg  # noqa: F401  (ARPACK: its import is a one-off too)
            settings = replace(self.settings, trace=plan.trace)
            stages: Dict[str, float] = {}
            for run in range(1 + REHEARSALS):   # the untimed set-up, then the timed runs
                with _Quiet(self.module, self.batchnorm):
                    raw, _ = measure(self.function, self.loss_fn, self.inputs, self.targets, settings, plan.vectors,
                                     self.generator, self.reducer, False, clock=self._clock)
                if run:   # each part's fastest: a loaded machine's stalls only ever add time
                    stages = {name: min(seconds, stages.get(name, seconds))
                              for name, seconds in raw.stage_seconds.items()}
            self._budget.costs.observe(stages, raw.vectors, exact=not raw.estimate and raw.vectors == 0,
                                       sides=self._layout.sides, spectrum_method=None, spectrum_seconds=None,
                                       products=None)
            if self._spectra_may_go_matrix_free():
                # A product's time from one timed Θv: without it the first
                # spectrum is planned at three Hutchinson vectors a product,
                # about three times its real cost, and comes many intervals late.
                with _Quiet(self.module, self.batchnorm):
                    product = time_product(self.function, self.inputs, self.targets, self.settings.chunk_bytes,
                                           self._clock)
                if product is not None:
                    self._budget.costs.product = product
        except Exception:
            pass
        finally:
            self.generator.set_state(state)

    def _spectra_may_go_matrix_free(self) -> bool:
        """Whether a spectrum of this probe may be matrix-free (spectra on,
        and the route for an exact or an estimated trace is "lanczos")."""
        from .matrix_free import choose_method
        settings = self.settings
        if not settings.spectrum:
            return False
        itemsize = torch.finfo(self.function.dtype).bits // 8
        return any(choose_method(self._layout.m, self._layout.parameters, itemsize, estimate, settings.spectrum_method,
                                 settings.exact_limit, settings.spectrum_bytes, settings.spectrum_max_outputs,
                                 settings.matrix_free).method == "lanczos" for estimate in (False, True))

    def _plan(self, step: int):
        """The budget's plan for a scheduled measurement at ``step`` (None
        without a budget)."""
        if self._budget is None:
            return None
        from .matrix_free import choose_method
        settings = self.settings
        wants = settings.spectrum and self._measurements % self.spectrum_every == 0 and self.diverged is None
        itemsize = torch.finfo(self.function.dtype).bits // 8
        m = self._layout.m

        def route(estimate: bool) -> Optional[str]:
            return choose_method(m, self._layout.parameters, itemsize, estimate, settings.spectrum_method,
                                 settings.exact_limit, settings.spectrum_bytes, settings.spectrum_max_outputs,
                                 settings.matrix_free).method

        layout = replace(self._layout, whole_batch=self._whole_batch_route())
        return self._budget.plan(next_gap(self.schedule, step), layout, wants, route, settings.matrix_free,
                                 spectra_on=settings.spectrum and self._spectrum_possible)

    def _whole_batch_route(self) -> bool:
        """Whether the exact routes go whole-batch (measure._whole_batch_only:
        counted rows, items that interact, a per-sample failure), agreed by
        every rank as the measurement agrees it, so the ranks plan alike."""
        local = (getattr(self.targets, "rows", None) is not None or self.function.items_interact
                 or self.function.per_sample_failure is not None)
        if self.reducer.world == 1:
            return local
        flag = torch.tensor([1.0 if local else 0.0], dtype=torch.float64, device=self.device)
        return float(self._reduce_max(flag)[0]) > 0

    def _skipped(self, step: int, why: str) -> None:
        """A scheduled measurement the budget leaves out: a ``budget`` event
        says why (docs/RECORD.md), the step gets no line."""
        self._budget_skips += 1
        if self.writer is not None:
            self.writer.event("budget", model=self.name, step=step, detail=why)

    def _check_ranks_agree(self, step: int, has_cross: bool = False) -> None:
        """Ranks that disagree on the step would disagree on whether to
        measure, and one would wait forever in a collective the other never
        enters (or the backend aborts both): say so instead. The same for a
        cross batch passed on some ranks only."""
        if self.reducer.world == 1:
            return
        steps = self.reducer.gather_all(step, self.device)
        if len(set(steps)) > 1:
            raise ProbeError("probe.step was called with different steps on the ranks (%s): every rank must call "
                             "probe.step with the same step" % ", ".join("rank %d: %d" % (rank, value)
                                                                         for rank, value in enumerate(steps)))
        if self.cross_source == "train":
            given = self.reducer.gather_all(int(has_cross), self.device)
            if len(set(given)) > 1:
                raise ProbeError("probe.step(%d) got a cross_batch on ranks %s but not on ranks %s: pass one on "
                                 "every rank or on none" % (step, [r for r, v in enumerate(given) if v],
                                                             [r for r, v in enumerate(given) if not v]))

    @property
    def record_error(self) -> Optional[str]:
        """Why the record stopped being written (a failed write), or None."""
        return self.writer.error if self.writer is not None else None

    def _vectors(self, step: int) -> int:
        """The vector count of a measurement the budget does not plan (no
        budget, or an explicit ``measure``): the fixed count, else min_vectors."""
        if self.fixed_vectors is not None:
            return max(2, int(self.fixed_vectors))
        return max(2, self.min_vectors)

    def _lanczos_allowed(self) -> bool:
        """A matrix-free spectrum costs seconds (thousands of products at large
        m), so, as the engine spaces its spectra, one is taken only while the
        matrix-free spectra so far stay within ``spectrum_share`` of the
        training time; the first always. (Exact spectra keep spectrum_every.)
        The share is of wall time, not of steps, so it spaces them the same
        under ``every=N`` and a log schedule (whose early windows measure
        every step). Ranks decide together: a spectrum is collective."""
        allowed = (self.spectrum_share is None or self._lanczos_taken == 0
                   or self._lanczos_seconds <= self.spectrum_share * self._training_seconds)
        if self.reducer.world > 1:
            votes = self.reducer.sum(torch.tensor([1.0 if allowed else 0.0], dtype=torch.float64,
                                                  device=self.device))
            allowed = float(votes[0]) == self.reducer.world
        return allowed

    def measure(self, step: int, cross_batch=None) -> Measurement:
        """Measures now, whatever the step, and returns the result. The lines
        are written unless the record already has this step or a later one:
        a record's steps increase (docs/RECORD.md), so such a measurement is
        returned but not recorded, with one :class:`ProbeWarning`.
        ``cross_batch`` as for :meth:`step`."""
        step = _step_number(step)
        cross = self._cross_batch(cross_batch) if cross_batch is not None else None
        with self._lock:
            return self._measure(step, cross)

    def _measure(self, step: int, cross=None, plan=None) -> Measurement:
        """One measurement; ``plan`` (budget.Plan) sets its trace route,
        vector count and whether the spectrum is taken now; None: the
        settings alone (no budget, or an explicit ``measure``)."""
        if self._closed:
            raise ProbeError("the probe is closed")
        self._last_step = step if self._last_step is None else max(self._last_step, step)
        started = self._clock()
        settings = self.settings
        want_spectrum = self.settings.spectrum and self._measurements % self.spectrum_every == 0
        if plan is not None:
            vectors = plan.vectors
            settings = replace(settings, trace=plan.trace)
            if plan.matrix_free is not None:   # a smaller matrix-free spectrum, to fit the budget
                settings = replace(settings, matrix_free=plan.matrix_free)
            want_spectrum = want_spectrum and plan.spectrum
            lanczos_allowed = True    # the budget spaced it
        else:
            vectors = self._vectors(step)
            lanczos_allowed = self._lanczos_allowed() if want_spectrum and self._budget is None else True
        batch_b = None
        if self.cross_source == "heldout":
            batch_b = (self.cross_inputs, row_targets(self.loss_name, self.cross_targets, "cross_targets"), "heldout")
        elif cross is not None:
            batch_b = (cross[0], row_targets(self.loss_name, cross[1], "cross_batch's targets"), "train")
        elif self.cross_source == "train":
            self._warn_cross_once("missing", "Probe(cross=\"train\") but probe.step(%d) got no cross_batch: the "
                                  "cross-batch quantities are left out of the steps measured without one" % step)
        with _Quiet(self.module, self.batchnorm):
            raw, _ = measure(self.function, self.loss_fn, self.inputs, self.targets, settings, vectors,
                             self.generator, self.reducer, want_spectrum, cross=batch_b,
                             lanczos_allowed=lanczos_allowed, clock=self._clock)
        seconds = self._clock() - started
        if raw.spectrum is not None and raw.spectrum.method == "lanczos":
            self._lanczos_taken += 1
            self._lanczos_seconds += raw.spectrum.seconds or 0.0
        if raw.cross_error is not None:
            self._warn_cross_once("failed", "the cross-batch quantities could not be measured at step %d (%s); the "
                                  "step is recorded without them, training goes on" % (step, raw.cross_error))
        self._measurements += 1
        if self._budget is not None:
            self._budget.measured += 1
        result = self._record(step, raw, seconds, plan.reason if plan is not None else None)
        if self._budget is not None:
            costs = self._budget.costs
            s = raw.spectrum
            costs.observe(raw.stage_seconds, raw.vectors, exact=not raw.estimate and raw.vectors == 0,
                          sides=self._layout.sides, spectrum_method=s.method if s is not None else None,
                          spectrum_seconds=raw.stage_seconds.get("spectrum"),
                          products=s.products if s is not None else None,
                          arpack_products=s.arpack_products if s is not None else None,
                          arpack_seconds=s.arpack_seconds if s is not None else None,
                          top_k=len(s.eigenvalues) if s is not None else None)
            costs.probe_seconds += self._clock() - started   # the recording and the loggers too
            costs.spectrum_seconds += raw.stage_seconds.get("spectrum", 0.0)
            if raw.no_spectrum is not None and not raw.estimate:
                # No route at all, even with an exact χ_net (the sizes): no saving for spectra.
                self._spectrum_possible = False
        return result

    def _record(self, step: int, raw: RawMeasurement, seconds: float,
                budget_reason: Optional[str] = None) -> Measurement:
        chi_pos = raw.chi_pos
        bad = raw.non_finite()
        if bad is None:
            if self._first_chi_net is None and math.isfinite(raw.chi_net) and raw.chi_net > 0:
                self._first_chi_net = raw.chi_net
            if chi_pos is not None:
                self._reach = chi_pos if self._reach is None else min(self._reach, chi_pos)
            if raw.spectrum is not None and raw.spectrum.r_eff is not None:
                r = raw.spectrum.r_eff
                self._max_r_eff = r if self._max_r_eff is None else max(self._max_r_eff, r)
        result = Measurement(
            step=int(step), loss=raw.loss, chi_loss=raw.chi_loss, chi_net=raw.chi_net, grad_sq=raw.grad_sq,
            chi_pos=chi_pos, chi_net_estimate=raw.estimate, chi_net_stderr=raw.chi_net_stderr,
            readout_chi_net=raw.readout_chi_net, hutchinson_vectors=raw.vectors,
            lambda_eff=chi_pos * raw.chi_net if chi_pos is not None else None,
            amplification=(raw.chi_net / self._first_chi_net if self._first_chi_net and bad is None else None),
            reach=self._reach, max_r_eff=self._max_r_eff, spectrum=raw.spectrum, seconds=seconds, diverged=bad,
            rows=raw.rows, window=self.schedule.window_of(step), cross=raw.cross)
        result.chi_loss_normalized, result.chi_net_normalized = normalized(raw.chi_loss, raw.chi_net, raw.rows,
                                                                           raw.rows)
        self.history.append(result)
        if self.writer is not None and self._last_recorded is not None and step <= self._last_recorded:
            if not self._unrecorded_said:
                self._unrecorded_said = True
                warnings.warn("spectop-probe: a measurement at step %d after one at step %d is not recorded: a "
                              "record's steps must increase (it is returned and kept in probe.history)"
                              % (step, self._last_recorded), ProbeWarning, stacklevel=4)
        elif self.writer is not None:
            self._last_recorded = step
            extra = {}
            if raw.name_chi_net and raw.name_grad_sq:
                extra["layer_chi_net"], extra["layer_grad_sq"] = self._layer_split(raw)
            extra.update({"rows": raw.rows, "chi_loss_normalized": result.chi_loss_normalized,
                          "chi_net_normalized": result.chi_net_normalized})
            if result.window is not None:
                extra["window"] = result.window
            if budget_reason is not None:
                extra["budget_reason"] = budget_reason
            if raw.cross is not None:
                extra.update(raw.cross.fields())
            self.writer.step(self.name, step, raw.loss, raw.chi_loss, raw.chi_net, chi_pos, raw.grad_sq,
                             raw.estimate, raw.chi_net_stderr, extra=extra,
                             vectors=raw.vectors if raw.estimate else None)
            if raw.spectrum is not None and bad is None:
                s = raw.spectrum
                self.writer.spectrum(self.name, step, s.eigenvalues, s.weights, s.chi_pos_exact, s.lambda_eff,
                                     s.r_eff, s.effective_rank, method=s.method, method_reason=s.method_reason,
                                     mode_count=s.mode_count, r_eff_uncertainty=s.r_eff_uncertainty,
                                     rest_weight=s.rest_weight, density=s.density)
            # The process line spectop watch shows: the mean of the latest training-step intervals.
            recent = self._step_seconds
            self.writer.usage(step_seconds=sum(recent) / len(recent) if recent else None, device=self._device())
            if raw.cross_error is not None and "failed-event" not in self._cross_said:
                # Once, as the engine's "error" event: a measurement failed, training goes on.
                self._cross_said.add("failed-event")
                self.writer.event("error", model=self.name, step=step,
                                  detail="the cross-batch quantities could not be measured: %s" % raw.cross_error)
            if raw.no_spectrum is not None and not self._no_spectrum_said:
                # Event kind "spectrum", as spectop's engine writes it (docs/RECORD.md, "Event kinds").
                self.writer.event("spectrum", model=self.name, step=step, detail=raw.no_spectrum)
                self._no_spectrum_said = True
            if bad is not None:
                self.writer.event("diverged", model=self.name, step=step,
                                  detail="loss is not finite" if bad == "the loss" else "%s is not finite" % bad)
        if raw.spectrum_error is not None and bad is None:
            self._spectrum_failed(step, raw.spectrum_error)
        if self.loggers and self.rank == 0:
            self.loggers.measurement(result, self.rows)  # never raises
        if bad is not None:
            # spectop stops a diverged model; the probe stops measuring, training goes on.
            self.diverged = bad
        return result

    def _layer_split(self, raw: RawMeasurement):
        """(layer_chi_net, layer_grad_sq): the per-parameter parts summed per
        layer (docs/RECORD.md); frozen layers 0. Each sums to chi_net and
        grad_sq (a Hutchinson χ_net's split is of the same vectors)."""
        chi_net = [0.0] * len(self.layers)
        grad_sq = [0.0] * len(self.layers)
        for name, value in raw.name_chi_net.items():
            chi_net[self._layer_of[name]] += value
        for name, value in raw.name_grad_sq.items():
            grad_sq[self._layer_of[name]] += value
        return chi_net, grad_sq

    def _spectrum_failed(self, step: int, why: str) -> None:
        """A spectrum that failed (ARPACK did not converge, a product the
        model cannot take) costs that spectrum only: one ProbeWarning, and an
        ``error`` event per failure up to five (then one saying so), as the
        engine records a failed measurement."""
        self._spectrum_errors += 1
        if self._spectrum_errors == 1:
            warnings.warn("spectop-probe: no spectrum at step %d: %s; training and the other measurements go on"
                          % (step, why), ProbeWarning, stacklevel=4)
        if self.writer is None or self._spectrum_errors > 6:
            return
        if self._spectrum_errors <= 5:
            self.writer.event("error", model=self.name, step=step, detail="no spectrum: %s" % why)
        else:
            self.writer.event("error", model=self.name, step=step,
                              detail="further spectrum failures of this model are not recorded")
    # ------------------------------------------------------------ the user's scalars

    def log(self, step: int, values: Optional[Dict[str, Any]] = None, /, **scalars) -> None:
        """Writes the user's own scalars at ``step`` into the record, one
        ``scalars`` line (docs/RECORD.md): ``probe.log(step, val_loss=0.41,
        accuracy=0.87)``, or a dict for names that are no Python identifiers,
        ``probe.log(step, {"val/loss": 0.41})``. Any step (a measured one or
        not); steps must not go back (several calls at one step are fine; a
        call at an earlier step than the last is not recorded, with one
        :class:`ProbeWarning`). Values are numbers (int, float, NumPy scalars,
        one-element tensors); non-finite ones are recorded as null. Only rank
        0 writes (log the reduced value there); other ranks and a probe with
        ``out=None`` record nothing. The scalars are not sent to ``log_to``:
        they came from the user's loop, which has them already."""
        step = _step_number(step)
        if values is not None and not isinstance(values, dict):
            raise ProbeError("probe.log(step, values): values must be a dict of names to numbers, not %s"
                             % type(values).__name__)
        merged = dict(values or {})
        merged.update(scalars)
        if not merged:
            raise ProbeError("probe.log(%d) has no scalars: pass them as keywords, probe.log(step, val_loss=0.4)" % step)
        clean: Dict[str, float] = {}
        for name, value in merged.items():
            if not isinstance(name, str) or not name:
                raise ProbeError("probe.log: scalar names must be non-empty strings, not %r" % (name,))
            clean[name] = _scalar(name, value)
        with self._lock:
            if self.writer is None:
                return
            if self._closed:
                if not self._scalars_said:
                    self._scalars_said = True
                    warnings.warn("spectop-probe: probe.log(%d) after close() is not recorded" % step, ProbeWarning,
                                  stacklevel=2)
                return
            if self._last_scalars_step is not None and step < self._last_scalars_step:
                if not self._scalars_said:
                    self._scalars_said = True
                    warnings.warn("spectop-probe: probe.log(%d) after probe.log(%d) is not recorded: the steps of a "
                                  "record's scalars lines must not go back" % (step, self._last_scalars_step),
                                  ProbeWarning, stacklevel=2)
                return
            self._last_scalars_step = step
            self.writer.scalars(self.name, step, clean)

    @property
    def logger_error(self) -> Optional[str]:
        """The first failure of a ``log_to`` logger (training went on), or None."""
        return self.loggers.error

    # ------------------------------------------------------------ closing

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.writer is not None:
                self.writer.close("closed")

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def latest(self) -> Optional[Measurement]:
        return self.history[-1] if self.history else None


def _scalar(name: str, value) -> float:
    """A user scalar as a float: an int, a float, a NumPy scalar or a
    one-element tensor (``.item()``); a bool, a string or anything else is a
    :class:`ProbeError` (a mistake at the call, not a number to guess)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ProbeError("probe.log: %s is a tensor of %d elements, not one number" % (name, value.numel()))
        value = value.detach().item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "size", 1) == 1:
            value = value.item()  # a NumPy scalar or 0-d array
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ProbeError("probe.log: %s must be a number, not %s (%r)" % (name, type(value).__name__, value))
    return float(value)


def _batch_norms(module: nn.Module) -> List[nn.Module]:
    """The BatchNorm layers (1d, 2d, 3d, SyncBatchNorm, lazy) of a module."""
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _own(value):
    """The probe's own copy of a probe input: tensors cloned, anything else
    (use_cache=False, a string, None) as given."""
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


class _Quiet:
    """Eval mode (BatchNorm layers on the batch's statistics with
    ``batchnorm="batch"``) and untouched RNG streams for the duration of a
    measurement.

    Every module's own ``training`` flag is restored (not ``model.train()``,
    which would flip submodules the user had put in eval mode). The CPU and
    CUDA generators are saved and restored so that nothing the model does in
    eval mode (an op that draws even there) shifts the training's random
    stream; the Hutchinson vectors come from the probe's own generator.
    """

    def __init__(self, module: nn.Module, batchnorm: str = "eval"):
        self.module = module
        self.batchnorm = batchnorm
        self.hooks = fsdp_hooks_off(module)

    def __enter__(self):
        self.hooks.__enter__()
        self.modes = [(m, m.training) for m in self.module.modules()]
        self.module.eval()
        if self.batchnorm == "batch":
            # BatchNorm on the batch's own statistics, as in training; its
            # running statistics are updated only on the private buffer
            # copies every forward gets (ModelFunction), never the model's.
            for norm in _batch_norms(self.module):
                norm.training = True
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        return self

    def __exit__(self, *exc):
        for module, training in self.modes:
            module.training = training
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        self.hooks.__exit__(*exc)
        return False
