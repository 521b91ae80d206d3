"""When the probe measures: every N steps, or on log-spaced windows.

A log schedule (``every="log"``, or ``every=LogSchedule(...)``) follows the
measurement plan of the paper's authors (zincware/perspic,
``logarithmic_windows``): window *centres* evenly spaced in log(step),
``points_per_decade`` of them per factor of 10, each followed by a *window*
of consecutive steps whose mean and spread stand for the centre. Most of the
change in χ_net and χ_pos happens in the first tens of steps, which this
measures densely; late in training it measures a few windows per decade.

The centres are ``0`` and ``c_k = floor(10^(k/p) + 1e-9)`` for ``k = 0, 1,
2, …`` (``p = points_per_decade``; the ``1e-9`` keeps ``10^(k/p)`` that is an
integer in exact arithmetic from rounding down to the one below), without
repeats. The window of centre ``c`` is the steps ``c, c+1, …, c+window-1``,
and the schedule is the union of the windows. A step in several windows
belongs to the one with the largest centre (as in perspic, later windows
win); that centre is what the record's ``window`` field holds. Unlike
perspic's, the centres do not depend on the run's length (the probe does not
know it), so the steps up to T are the same whatever T is; spectop's engine
uses the same definition, cut at its step budget (docs/METHOD.md,
"Log-spaced measurements").
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Iterator, List, Optional

from .errors import ProbeError

# floor(10^(k/p) + GUARD): centres of the form 10^j stay 10^j whatever the libm's pow rounds to.
GUARD = 1e-9


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool):
        raise ProbeError("%s must be a whole number (an int), not a bool (%r)" % (what, value))
    try:
        number = operator.index(value)
    except TypeError:
        raise ProbeError("%s must be a whole number (an int), not %s (%r)" % (what, type(value).__name__, value)) from None
    if number < 1:
        raise ProbeError("%s must be at least 1, not %d" % (what, number))
    return number


@dataclass(frozen=True)
class LogSchedule:
    """Log-spaced measurement windows, dense early and sparse late.

    ``points_per_decade`` window centres per factor of 10 in the step (10),
    each followed by ``window`` consecutive measured steps, the centre
    included (5). ``LogSchedule()`` is what ``every="log"`` means."""

    points_per_decade: int = 10
    window: int = 5

    def __post_init__(self):
        object.__setattr__(self, "points_per_decade", _positive_int(self.points_per_decade, "points_per_decade"))
        object.__setattr__(self, "window", _positive_int(self.window, "window"))

    # -- the centres

    def _centre(self, k: int) -> int:
        return int(math.floor(10.0 ** (k / self.points_per_decade) + GUARD))

    def centres(self) -> Iterator[int]:
        """0, then the distinct c_k in increasing order (an endless iterator)."""
        yield 0
        last, k = 0, 0
        while True:
            c = self._centre(k)
            if c > last:
                yield c
                last = c
            k += 1

    def centres_upto(self, last_step: int) -> List[int]:
        """The centres <= last_step."""
        out = []
        for c in self.centres():
            if c > last_step:
                return out
            out.append(c)

    # -- steps

    def window_of(self, step: int) -> Optional[int]:
        """The centre of the window ``step`` belongs to (the largest centre c
        <= step with step < c + window), or None when it is not measured."""
        if step < 0:
            return None
        found = None
        for c in self.centres():
            if c > step:
                break
            if step < c + self.window:
                found = c
        return found

    def due(self, step: int) -> bool:
        return self.window_of(step) is not None

    def steps(self, last_step: int) -> List[int]:
        """Every measured step <= last_step, increasing."""
        measured = set()
        for c in self.centres_upto(last_step):
            measured.update(range(c, min(c + self.window, last_step + 1)))
        return sorted(measured)

    def gap(self, step: int) -> int:
        """Steps since the previous measured step (1 inside a window; the
        step itself, at least 1, for the first one): the training the
        measurement at ``step`` follows, which the budget is a share of."""
        if step < 1:
            return 1
        previous = max(min(c + self.window - 1, step - 1) for c in self.centres_upto(step - 1))
        return step - previous

    def describe(self) -> dict:
        """The record's ``schedule`` object (docs/RECORD.md)."""
        return {"kind": "log", "points_per_decade": self.points_per_decade, "window": self.window}


@dataclass(frozen=True)
class EverySchedule:
    """Every ``every``-th step (step 0 included)."""

    every: int

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def window_of(self, step: int) -> Optional[int]:
        return None

    def gap(self, step: int) -> int:
        return self.every

    def steps(self, last_step: int) -> List[int]:
        return list(range(0, last_step + 1, self.every))

    def describe(self) -> dict:
        return {"kind": "every", "every": self.every}


def resolve_schedule(every):
    """``every`` as a schedule: an int >= 1, ``"log"`` or a LogSchedule."""
    if isinstance(every, LogSchedule):
        return every
    if isinstance(every, str):
        if every == "log":
            return LogSchedule()
        raise ProbeError("every must be a whole number of steps (every=100), \"log\" (log-spaced windows, dense "
                         "early) or a LogSchedule(points_per_decade=…, window=…), not the string %r" % (every,))
    if isinstance(every, bool):
        raise ProbeError("every must be a whole number (an int), not a bool (%r)" % (every,))
    try:
        number = operator.index(every)
    except TypeError:
        raise ProbeError("every must be a whole number (an int), \"log\" or a LogSchedule, not %s (%r)"
                         % (type(every).__name__, every)) from None
    if number < 1:
        raise ProbeError("every must be at least 1, not %r" % (number,))
    return EverySchedule(number)
