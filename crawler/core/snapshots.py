"""Page snapshots: a compressed copy of the HTML a page was judged on, kept for checks that changed
something (``BACKLINKS_SNAPSHOTS``). Pure.

The spider keeps the fetched body, cut to the bound, beside the page's observations
(:func:`keep_body`); only the storage of a batch knows which checks produced an event, so only it
compresses (:func:`compress`), and only those. With snapshots off nothing is kept or compressed.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime, timedelta

ENCODING = "gzip"  # what `gzip -d` and every browser read
# zlib's default level: level 9 costs about twice the CPU for a few per cent on HTML.
_LEVEL = 6
MEDIA_TYPE_CHARS = 255  # snapshots.media_type is VARCHAR(255); the header comes from the server


@dataclass(frozen=True, slots=True)
class PageBody:
    """The body of a fetched page as a snapshot would keep it: a plain value, never validated,
    shared by every observation of the page."""

    url: str  # the final URL: what the body is the page of
    media_type: str | None  # the Content-Type header as served (its charset decodes ``data``)
    size: int  # bytes of the whole body
    data: bytes  # its first ``max_bytes`` bytes

    @property
    def truncated(self) -> bool:
        return len(self.data) < self.size


def keep_body(body: bytes, url: str, content_type: str | None, max_bytes: int) -> PageBody:
    """``body`` cut to ``max_bytes`` (a slice of a body within the bound is the body itself: no copy)."""
    media_type = content_type[:MEDIA_TYPE_CHARS] if content_type else None
    return PageBody(url=url, media_type=media_type, size=len(body), data=body[:max_bytes])


def compress(data: bytes) -> bytes:
    # mtime=0: the same page compresses to the same bytes (the header holds no clock).
    return gzip.compress(data, compresslevel=_LEVEL, mtime=0)


def decompress(data: bytes) -> bytes:
    return gzip.decompress(data)


def expired_before(now: datetime, days: int) -> datetime:
    """Snapshots taken before this are past their retention of ``days`` days."""
    return now - timedelta(days=days)


def kib(size: int) -> str:
    """``18.2 KiB``: a size as `backlinks show` and the report say it."""
    return f"{size / 1024:.1f} KiB"
