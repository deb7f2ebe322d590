"""The evidence of a change (pipelines/evidence.py) as `backlinks show` prints it: the link's
surroundings before and after as a word diff, its HTML, both checks' HTTP facts and content hash,
and where the page's snapshot is.

Everything here was crawled: it goes through :func:`~crawler.reports.tables.safe` (no terminal
control, bounded) before it is shown.
"""

from __future__ import annotations

from crawler.core.snapshots import kib
from crawler.core.worddiff import Op, diff_words
from crawler.reports.tables import safe
from pipelines.evidence import Evidence, Sighting
from pipelines.snapshots import SnapshotInfo

SHOWN = 300
_MARKS = {Op.SAME: "{}", Op.REMOVED: "[-{}-]", Op.ADDED: "{{+{}+}}"}


def evidence_lines(evidence: Evidence) -> list[str]:
    """Lines of evidence for an event."""
    was, now = evidence.before, evidence.after
    lines = []
    if evidence.diff is not None:
        lines.append(f"context: {_diff_text(evidence.diff)}")
    elif was is not None and was.context is not None:
        lines.append(f"last seen (check {was.check_id}): {safe(was.context, SHOWN)}")
    for label, seen in (("html before", was), ("html after", now)):
        if seen is not None and seen.snippet:
            lines.append(f"{label}: {safe(seen.snippet, SHOWN)}")
    lines.append(f"page: {facts(was)} -> {facts(now)}" if was is not None else f"page: {facts(now)}")
    if evidence.snapshot is not None:
        lines.append(f"snapshot: {snapshot_summary(evidence.snapshot)} — {snapshot_command(evidence.snapshot)}")
    return lines


def word_diff(before: str, after: str) -> str:
    """``before`` turned into ``after``, word by word: ``[-removed-]`` and ``{+added+}``."""
    return _diff_text(diff_words(before, after))


def _diff_text(parts: list[tuple[Op, str]]) -> str:
    return safe(" ".join(_MARKS[op].format(words) for op, words in parts), SHOWN * 2)


def facts(seen: Sighting | None) -> str:
    """``check 42, HTTP 200, content 78f7d4a8ceb8``."""
    if seen is None:
        return "-"
    parts = [f"check {seen.check_id}", f"HTTP {seen.http_status}" if seen.http_status is not None else "no response"]
    if seen.content_hash:
        parts.append(f"content {safe(seen.content_hash[:12])}")
    return ", ".join(parts)


def snapshot_summary(info: SnapshotInfo) -> str:
    """``check 42, 18.2 KiB (gzip 4.1 KiB)``; a cut page says how much of it was kept."""
    kept = kib(info.size) if info.truncated_at is None else f"first {kib(info.truncated_at)} of {kib(info.size)} (truncated)"
    return f"check {info.check_id}, {kept} ({info.encoding} {kib(info.compressed_size)})"


def snapshot_command(info: SnapshotInfo) -> str:
    return f"backlinks snapshot {info.check_id} > page.html"
