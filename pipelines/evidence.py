"""What proves a change, read once for `backlinks show` and the HTML report alike: what the check
the event happened on and the last check before it that saw the link showed of the link and the
page, the word diff of the link's surroundings, and the page's snapshot if one was kept.

Everything here was crawled: whoever shows it makes it safe (crawler/reports/evidence.py for
lines, the report's ``text`` filter and autoescaping for HTML).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from crawler.core.worddiff import Op, diff_words
from pipelines.models import Check
from pipelines.queries import link_context
from pipelines.snapshots import SnapshotInfo


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Sighting(_Model):
    """What one check showed: the page's HTTP facts and the link's first occurrence (None: no link)."""

    check_id: int
    http_status: int | None
    content_hash: str | None
    context: str | None
    snippet: str | None


class Evidence(_Model):
    before: Sighting | None  # the last check before the event that saw the link; None: none did
    after: Sighting  # the check the event happened on
    diff: list[tuple[Op, str]] | None  # the context's word diff, when both checks saw the link
    snapshot: SnapshotInfo | None  # of the page ``after`` judged


def evidence_of(before: Check | None, after: Check, snapshot: SnapshotInfo | None = None) -> Evidence:
    was, now = (_sighting(before) if before is not None else None), _sighting(after)
    diff = None
    if was is not None and was.context is not None and now.context is not None:
        diff = diff_words(was.context, now.context)
    return Evidence(before=was, after=now, diff=diff, snapshot=snapshot)


def _sighting(check: Check) -> Sighting:
    details: dict[str, Any] = check.details or {}
    link = (details.get("links") or [None])[0]
    return Sighting(
        check_id=check.id,
        http_status=check.http_status,
        content_hash=(details.get("page") or {}).get("content_hash"),
        context=link_context(link) if link else None,
        snippet=(link.get("snippet") or None) if link else None,
    )
