"""What proves a change, as `backlinks show` prints it: the link's surroundings before and after,
as a word diff, its HTML, and the page's HTTP facts and content hash on both checks.

Everything here was crawled: it goes through :func:`~crawler.reports.tables.safe` (no terminal
control, bounded) before it is shown.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from crawler.reports.tables import safe
from pipelines.models import Check
from pipelines.queries import link_context

SHOWN = 300


def evidence(before: Check | None, after: Check) -> list[str]:
    """Lines of evidence for an event on ``after``, whose link was last seen on ``before``."""
    was, now = _link(before), _link(after)
    lines = []
    if was is not None and now is not None:
        lines.append(f"context: {word_diff(link_context(was), link_context(now))}")
    elif was is not None:
        lines.append(f"last seen (check {before.id if before else '-'}): {safe(link_context(was), SHOWN)}")
    for label, link in (("html before", was), ("html after", now)):
        if link is not None and link.get("snippet"):
            lines.append(f"{label}: {safe(link['snippet'], SHOWN)}")
    lines.append(f"page: {_facts(before)} -> {_facts(after)}" if before is not None else f"page: {_facts(after)}")
    return lines


def word_diff(before: str, after: str) -> str:
    """``before`` turned into ``after``, word by word: ``[-removed-]`` and ``{+added+}``."""
    old, new = before.split(), after.split()
    parts: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.extend(old[i1:i2])
            continue
        if i2 > i1:
            parts.append(f"[-{' '.join(old[i1:i2])}-]")
        if j2 > j1:
            parts.append(f"{{+{' '.join(new[j1:j2])}+}}")
    return safe(" ".join(parts), SHOWN * 2)


def _link(check: Check | None) -> dict[str, Any] | None:
    return ((check.details or {}).get("links") or [None])[0] if check is not None else None


def _facts(check: Check | None) -> str:
    if check is None:
        return "-"
    page = (check.details or {}).get("page") or {}
    digest = page.get("content_hash")
    parts = [f"check {check.id}", f"HTTP {check.http_status}" if check.http_status is not None else "no response"]
    if digest:
        parts.append(f"content {digest[:12]}")
    return ", ".join(parts)
