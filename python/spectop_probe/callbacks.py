"""Thin callbacks for training frameworks; each imports its framework only
when called, so the package works with torch alone.

    from spectop_probe.callbacks import huggingface_callback, lightning_callback
    trainer = transformers.Trainer(..., callbacks=[huggingface_callback(probe)])
    trainer = lightning.Trainer(..., callbacks=[lightning_callback(probe)])

Both call ``probe.step(global_step)`` once after every optimizer step (the
measurement at step t is of the parameters after t updates), also under
gradient accumulation, and close the probe when training ends.
"""

from .errors import ProbeError


def huggingface_callback(probe):
    """A ``transformers.TrainerCallback`` driving ``probe``."""
    try:
        from transformers import TrainerCallback
    except ImportError as error:
        raise ProbeError("huggingface_callback needs the transformers package (pip install transformers)") from error

    class SpectopProbeCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            probe.step(state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            probe.step(state.global_step)

        def on_train_end(self, args, state, control, **kwargs):
            probe.close()

    return SpectopProbeCallback()


def lightning_callback(probe):
    """A Lightning ``Callback`` driving ``probe`` (``lightning`` or ``pytorch_lightning``)."""
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError as error:
            raise ProbeError("lightning_callback needs the lightning package (pip install lightning)") from error

    class SpectopProbeCallback(Callback):
        def __init__(self):
            super().__init__()
            self.last_global_step = None

        def _optimizer_step(self, trainer):
            # on_train_batch_end fires once per micro-batch; with gradient
            # accumulation global_step moves once per optimizer step, which is
            # what a step is. (probe.step ignores a repeated step anyway.)
            if trainer.global_step != self.last_global_step:
                self.last_global_step = trainer.global_step
                probe.step(trainer.global_step)

        def on_train_start(self, trainer, pl_module):
            self._optimizer_step(trainer)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self._optimizer_step(trainer)

        def on_train_end(self, trainer, pl_module):
            probe.close()

    return SpectopProbeCallback()
