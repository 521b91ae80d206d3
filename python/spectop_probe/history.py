"""``Probe.history``: the latest measurements, bounded.

A long job measured every few steps would otherwise hold every
measurement (and every spectrum's eigenvalues) in memory for its whole
life; the record on disk keeps them all, so memory keeps only the latest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Iterator, Optional


class History(Sequence):
    """The latest ``size`` measurements, oldest first (None: all of them).

    A read-only sequence: ``history[-1]``, slices (as a list), ``len``,
    iteration, and ``==`` against a list or tuple of the same items all
    work as on the list it replaces. When full, each new measurement pushes
    out the oldest; :attr:`dropped` counts those pushed out.
    """

    def __init__(self, size: Optional[int]):
        self._items: deque = deque(maxlen=size)
        self.dropped = 0

    @property
    def size(self) -> Optional[int]:
        """How many measurements are kept (None: all)."""
        return self._items.maxlen

    def append(self, item: Any) -> None:
        if self._items.maxlen is not None and len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self._items)[index]
        return self._items[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __eq__(self, other) -> bool:
        if isinstance(other, (History, list, tuple)):
            return list(self._items) == list(other)
        return NotImplemented

    __hash__ = None  # mutable, like the list it replaces

    def __repr__(self) -> str:
        return "History(size=%r, %r)" % (self.size, list(self._items))
