"""Which output rows a classification loss counts, as Hugging Face and torch
count them.

A label of ``IGNORE_INDEX`` (−100, the default ``ignore_index`` of
``torch.nn.functional.cross_entropy`` and what Hugging Face collators put on
padding and prompt tokens) takes its row out of the loss, so it is taken out
of the measurement too: ``n`` counts the valid rows, ``g``, ``Θ`` and
``Tr Θ`` are over their outputs only (m = n_valid·C). The loss
``"causal_lm"`` is Hugging Face's causal-LM loss: the logits at position t
predict the label at t + 1 (``labels`` may equal ``input_ids``), the last
position of each sequence predicts nothing, and the mean runs over the
valid shifted labels, so the probe's loss equals ``model(**batch,
labels=labels).loss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from .errors import ProbeError

IGNORE_INDEX = -100
CLASSIFICATION = ("cross_entropy", "causal_lm")


@dataclass
class RowTargets:
    """The targets of the valid rows, and which rows of the flattened
    outputs ``[rows, C]`` they are (``rows`` None: all of them)."""
    values: torch.Tensor
    rows: Optional[torch.Tensor]
    total: int                     # the model's output rows before selection

    @property
    def count(self) -> int:
        return int(self.values.shape[0])


def shifted(labels: torch.Tensor) -> torch.Tensor:
    """Hugging Face's shift: position t is scored against label t + 1, the
    last position of each sequence against nothing (−100)."""
    if labels.dim() < 2:
        raise ProbeError("loss=\"causal_lm\" needs labels shaped [batch, sequence] (like input_ids), not %s"
                         % list(labels.shape))
    pad = torch.full(labels.shape[:-1] + (1,), IGNORE_INDEX, dtype=labels.dtype, device=labels.device)
    return torch.cat([labels[..., 1:], pad], dim=-1)


def row_targets(loss_name: str, targets: torch.Tensor, what: str = "probe_targets"):
    """``targets`` as the loss sees them: for the classification losses a
    :class:`RowTargets` without the ignored rows; the tensor itself for any
    other loss (−100 is a number like another to an MSE or a custom loss)."""
    if loss_name not in CLASSIFICATION:
        return targets
    labels = targets
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ProbeError("%s: %s must be integer class labels, not %s" % (loss_name, what, labels.dtype))
    if loss_name == "causal_lm":
        labels = shifted(labels)
    labels = labels.reshape(-1)
    valid = labels != IGNORE_INDEX
    if labels.numel() and not bool(valid.any()):
        raise ProbeError("%s: every label of %s is %d (ignored): there is no row to measure%s"
                         % (loss_name, what, IGNORE_INDEX,
                            " (causal_lm scores position t against label t+1: a sequence needs two tokens)"
                            if loss_name == "causal_lm" else ""))
    if bool(valid.all()):
        return RowTargets(labels, None, labels.numel())
    rows = torch.nonzero(valid).reshape(-1)
    return RowTargets(labels.index_select(0, rows), rows, labels.numel())


def looks_unshifted(model, inputs, targets: torch.Tensor) -> bool:
    """True when a causal language model (a Hugging Face ``...ForCausalLM``
    or ``...LMHeadModel``, or a config saying ``is_decoder``) gets labels
    equal to its ``input_ids`` (wherever they are not −100) under an
    unshifted loss: the logits at t would be scored against the token they
    read, not the next one."""
    args, kwargs = inputs
    ids = kwargs.get("input_ids", args[0] if args else None)
    if not isinstance(ids, torch.Tensor) or ids.shape != targets.shape or ids.dtype.is_floating_point:
        return False
    counted = targets != IGNORE_INDEX
    if not bool(counted.any()) or not torch.equal(ids[counted], targets[counted]):
        return False
    name = type(model).__name__
    config = getattr(model, "config", None)
    architectures = getattr(config, "architectures", None) or []
    return (name.endswith(("ForCausalLM", "LMHeadModel")) or bool(getattr(config, "is_decoder", False))
            or any(str(a).endswith(("ForCausalLM", "LMHeadModel")) for a in architectures))
