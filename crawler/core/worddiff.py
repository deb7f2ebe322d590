"""A word diff of two texts (a link's surroundings before and after a change). Pure."""

from __future__ import annotations

from difflib import SequenceMatcher
from enum import Enum


class Op(str, Enum):
    SAME = "same"
    REMOVED = "removed"
    ADDED = "added"


def diff_words(before: str, after: str) -> list[tuple[Op, str]]:
    """``before`` turned into ``after`` as runs of words kept, removed and added, in reading order
    (a replacement: its removed words, then its added ones)."""
    old, new = before.split(), after.split()
    parts: list[tuple[Op, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append((Op.SAME, " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            parts.append((Op.REMOVED, " ".join(old[i1:i2])))
        if j2 > j1:
            parts.append((Op.ADDED, " ".join(new[j1:j2])))
    return parts
