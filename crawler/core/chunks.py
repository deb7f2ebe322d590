"""Slices of a sequence, for statements with a bound parameter per value (SQLite takes at most
32,766) and for requests of a bounded size. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of ``size`` (the last may be shorter); itertools.batched
    is Python 3.12+."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
