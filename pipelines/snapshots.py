"""The ``snapshots`` table: written with a batch's checks, read by `backlinks show`, `backlinks
snapshot` and the report, pruned at the end of each run (crawler/core/snapshots.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.chunks import batched
from crawler.core.items import Observation
from crawler.core.snapshots import ENCODING, PageBody, compress, decompress
from pipelines.db import writing
from pipelines.models import PageSnapshot


class SnapshotInfo(BaseModel):
    """A snapshot without its bytes: what `show` and the report say of it."""

    model_config = ConfigDict(frozen=True)

    check_id: int
    taken_at: datetime
    url: str
    size: int
    truncated_at: int | None
    encoding: str
    compressed_size: int


_INFO = [getattr(PageSnapshot, name) for name in SnapshotInfo.model_fields]
_CHUNK = 500  # check ids per query: a bound parameter list stays small on every backend


def snapshot_rows(changed: Iterable[tuple[int, Observation]]) -> list[dict[str, Any]]:
    """The rows of the checks ``changed`` (check id, its observation) whose observation carries
    the page's body; a page whose several backlinks changed is compressed once."""
    compressed: dict[int, bytes] = {}  # by id(): the observations of a page share one PageBody
    rows = []
    for check_id, obs in changed:
        body = obs.page_body
        if body is None:
            continue
        data = compressed.get(id(body))
        if data is None:
            data = compressed[id(body)] = compress(body.data)
        rows.append(_row(check_id, obs.checked_at, body, data))
    return rows


def _row(check_id: int, at: datetime, body: PageBody, data: bytes) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "taken_at": at,
        "url": body.url,
        "media_type": body.media_type,
        "size": body.size,
        "truncated_at": len(body.data) if body.truncated else None,
        "encoding": ENCODING,
        "compressed_size": len(data),
        "data": data,
    }


def infos(session: Session, check_ids: Iterable[int]) -> dict[int, SnapshotInfo]:
    """The snapshots of ``check_ids`` that have one, by check id (their bytes are not read)."""
    found = {}
    for chunk in batched(sorted(set(check_ids)), _CHUNK):
        rows = session.execute(select(*_INFO).where(PageSnapshot.check_id.in_(chunk))).mappings()
        found.update({row["check_id"]: SnapshotInfo.model_validate(row) for row in rows})
    return found


def page(session: Session, check_id: int) -> tuple[SnapshotInfo, bytes] | None:
    """Check ``check_id``'s snapshot and the page's bytes as fetched (decompressed); None: it has none."""
    found = session.get(PageSnapshot, check_id)
    if found is None:
        return None
    info = SnapshotInfo.model_validate({name: getattr(found, name) for name in SnapshotInfo.model_fields})
    return info, decompress(found.data)


def prune_snapshots(sessions: sessionmaker, before: datetime) -> int:
    """Delete the snapshots taken before ``before``, in one transaction; how many."""
    with writing(sessions) as session:
        return session.execute(delete(PageSnapshot).where(PageSnapshot.taken_at < before)).rowcount or 0
