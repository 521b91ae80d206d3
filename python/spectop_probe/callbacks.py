"""Callbacks for training frameworks, shaped like the frameworks' own (Lightning's
``LearningRateMonitor``): importable classes with ``state_dict`` /
``load_state_dict``, acting once per optimizer step, sending the probe's
numbers to the framework's own loggers.

    from spectop_probe.callbacks import LightningProbeCallback, HuggingFaceProbeCallback
    trainer = lightning.Trainer(..., callbacks=[LightningProbeCallback(probe)])
    trainer = transformers.Trainer(...); HuggingFaceProbeCallback(probe).attach(trainer)

Importing this module imports no framework: each class is made, on the
framework's own base class, when it is first named (``from ... import
LightningProbeCallback`` imports ``lightning``, or ``pytorch_lightning``;
``HuggingFaceProbeCallback`` imports ``transformers``). The older factories
``lightning_callback(probe)`` and ``huggingface_callback(probe)`` return
instances of these classes.

Both call ``probe.step(global_step)`` at the start of training and once after
every optimizer step (the measurement at step t is of the parameters after t
updates), also under gradient accumulation, where the per-batch hook fires
once per micro-batch, and close the probe when training ends.

Where the numbers go besides the record (``log_to``):

- ``"trainer"`` (the default): the framework's own loggers. Lightning: every
  logger in ``trainer.loggers`` (``log_metrics(metrics, step=global_step)``,
  as ``LearningRateMonitor`` does). Hugging Face: ``trainer.log(metrics)``,
  so every ``report_to`` integration (TensorBoard, W&B, MLflow, ...) and
  ``trainer.state.log_history`` get them; a ``TrainerCallback`` is not
  handed the trainer, so this needs ``callback.attach(trainer)`` (which also
  adds the callback); a callback passed in ``callbacks=[...]`` and not
  attached writes the record only. When the probe has a ``log_to`` of its
  own, the callback sends nothing more (no number twice).
- ``None``: the record only.
- any ``log_to`` the probe takes (a logger, a writer, a run, a callable, a
  list): those, at ``global_step``.

The names are the probe's (``log_names``, ``log_prefix``).
"""

from .errors import ProbeError
from .loggers import Loggers

__all__ = ["LightningProbeCallback", "HuggingFaceProbeCallback", "lightning_callback", "huggingface_callback"]


def _lightning_base():
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError as error:
            raise ProbeError("LightningProbeCallback needs the lightning package (pip install lightning)") from error
    return Callback


def _huggingface_base():
    try:
        from transformers import TrainerCallback
    except ImportError as error:
        raise ProbeError("HuggingFaceProbeCallback needs the transformers package (pip install transformers)") from error
    return TrainerCallback


class _ProbeDriver:
    """What both callbacks share: once per optimizer step, and the loggers."""

    def __init__(self, probe, log_to="trainer"):
        super().__init__()
        from .probe import Probe
        if not isinstance(probe, Probe):
            raise ProbeError("%s needs a spectop_probe.Probe, not %s" % (type(self).__name__, type(probe).__name__))
        self.probe = probe
        self.log_to = log_to
        # An explicit destination is checked now, before training starts.
        self._loggers = (None if log_to is None or (isinstance(log_to, str) and log_to == "trainer")
                         else Loggers(log_to, probe.loggers.names, probe.loggers.prefix))
        self.last_global_step = None

    def _drive(self, step, force=False):
        """probe.step(step) once per step; the measurement, if one was made."""
        if not force and step == self.last_global_step:
            return None
        self.last_global_step = step
        return self.probe.step(step)

    def _send(self, result, step, loggers):
        if result is not None and loggers and self.probe.rank == 0:
            loggers.measurement(result, self.probe.rows, step=step)  # never raises

    def _framework_loggers(self):
        """The framework's loggers, as a Loggers, or None (subclasses)."""
        return None

    def _destinations(self):
        if self._loggers is not None:
            return self._loggers
        if self.log_to is None or self.probe.loggers:
            return None  # off, or the probe sends to its own log_to already
        return self._framework_loggers()

    # Saved with the framework's checkpoints (Lightning) or by the user.
    def state_dict(self):
        return {"last_global_step": self.last_global_step}

    def load_state_dict(self, state_dict):
        step = state_dict.get("last_global_step")
        self.last_global_step = None if step is None else int(step)


class _LightningProbe(_ProbeDriver):
    """Lightning: like ``LearningRateMonitor``, logs to ``trainer.loggers``."""

    def __init__(self, probe, log_to="trainer"):
        super().__init__(probe, log_to)
        self._trainer_loggers = None

    @property
    def state_key(self):
        # One entry per probe in a checkpoint, even with several of these callbacks.
        generate = getattr(self, "_generate_state_key", None)
        return generate(name=self.probe.name) if generate else "%s[%s]" % (type(self).__qualname__, self.probe.name)

    def _framework_loggers(self):
        return self._trainer_loggers

    def _step(self, trainer, force=False):
        step = trainer.global_step
        self._send(self._drive(step, force), step, self._destinations())

    def on_train_start(self, trainer, pl_module):
        loggers = list(getattr(trainer, "loggers", None) or [])
        self._trainer_loggers = Loggers(loggers, self.probe.loggers.names, self.probe.loggers.prefix) if loggers else None
        # The probe ignores a step it has seen, so a resumed run measures its first step once.
        self._step(trainer, force=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # Once per micro-batch; global_step moves once per optimizer step.
        self._step(trainer)

    def on_train_end(self, trainer, pl_module):
        self.probe.close()


class _HuggingFaceProbe(_ProbeDriver):
    """Hugging Face ``TrainerCallback``: logs through ``trainer.log``."""

    def __init__(self, probe, log_to="trainer"):
        super().__init__(probe, log_to)
        self.trainer = None
        self._control = None
        self._trainer_loggers = None

    def attach(self, trainer):
        """Adds this callback to ``trainer`` and sends the numbers through
        ``trainer.log`` (every ``report_to`` integration, ``log_history``)."""
        if not callable(getattr(trainer, "log", None)) or not callable(getattr(trainer, "add_callback", None)):
            raise ProbeError("attach() needs a transformers.Trainer, not %s" % type(trainer).__name__)
        self.trainer = trainer
        trainer.add_callback(self)
        return self

    def _framework_loggers(self):
        if self.trainer is None:
            return None
        if self._trainer_loggers is None:
            self._trainer_loggers = Loggers(self._trainer_log, self.probe.loggers.names, self.probe.loggers.prefix)
        return self._trainer_loggers

    def _trainer_log(self, values, step):
        # trainer.log calls every callback's on_log, which clears
        # control.should_log: keep the Trainer's own decision for this step.
        control = self._control
        keep = getattr(control, "should_log", None)
        try:
            self.trainer.log(dict(values))
        finally:
            if keep is not None:
                control.should_log = keep

    def _step(self, state, control, force=False):
        self._control = control
        step = state.global_step
        self._send(self._drive(step, force), step, self._destinations())

    def on_train_begin(self, args, state, control, **kwargs):
        self._step(state, control, force=True)

    def on_step_end(self, args, state, control, **kwargs):
        self._step(state, control)

    def on_train_end(self, args, state, control, **kwargs):
        self.probe.close()


_BASES = {"LightningProbeCallback": (_LightningProbe, _lightning_base),
          "HuggingFaceProbeCallback": (_HuggingFaceProbe, _huggingface_base)}
_MADE = {}


def _make(name):
    driver, base = _BASES[name]
    framework = base()
    key = (name, framework)
    if key not in _MADE:
        _MADE[key] = type(name, (driver, framework), {"__module__": __name__, "__qualname__": name,
                                                      "__doc__": driver.__doc__})
    return _MADE[key]


def __getattr__(name):
    """``LightningProbeCallback`` and ``HuggingFaceProbeCallback``, made on
    first use on the framework's base class (PEP 562)."""
    if name in _BASES:
        return _make(name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def huggingface_callback(probe, log_to="trainer"):
    """A ``HuggingFaceProbeCallback`` (a ``transformers.TrainerCallback``) driving ``probe``."""
    return _make("HuggingFaceProbeCallback")(probe, log_to)


def lightning_callback(probe, log_to="trainer"):
    """A ``LightningProbeCallback`` (a Lightning ``Callback``) driving ``probe``."""
    return _make("LightningProbeCallback")(probe, log_to)
