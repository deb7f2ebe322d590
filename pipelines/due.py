"""Which backlinks a run checks, read from the database one chunk of referring pages at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.expect import PAID_TAG
from crawler.core.items import DueBacklink, DuePage, MatchMode
from pipelines.models import Backlink, State, Tag


class DueFilter(BaseModel):
    """What a run checks. ``cutoff``: backlinks last checked before it (or never) are due."""

    model_config = ConfigDict(frozen=True)

    cutoff: datetime
    tag: str | None = None
    only: tuple[str, ...] = ()  # statuses (current or verdict); "unchecked" = never checked
    # Only these referring registrable domains: the ones a process of a shared run has claimed.
    domains: tuple[str, ...] = ()
    # The tags each due backlink says whether it has (those with brand terms of their own).
    with_tags: tuple[str, ...] = ()


def due_backlinks(stmt: Select, due: DueFilter) -> Select:
    """``stmt`` (over ``backlinks``) narrowed to the due backlinks."""
    stmt = stmt.outerjoin(State, State.backlink_id == Backlink.id).where(
        or_(State.last_checked.is_(None), State.last_checked < due.cutoff), Backlink.archived_at.is_(None)
    )
    if due.domains:
        stmt = stmt.where(Backlink.domain.in_(due.domains))
    if due.tag:
        stmt = stmt.where(Backlink.id.in_(select(Tag.backlink_id).where(Tag.tag == due.tag)))
    if due.only:
        statuses = [s for s in due.only if s != "unchecked"]
        conditions = [State.status.in_(statuses), State.verdict.in_(statuses)]
        if "unchecked" in due.only:
            conditions.append(State.backlink_id.is_(None))
        stmt = stmt.where(or_(*conditions))
    return stmt


def due_chunk(session: Session, due: DueFilter, after: str, size: int) -> list[DuePage]:
    """The next ``size`` due referring pages whose key sorts after ``after``, complete.

    Keyset pagination on the page key keeps each query cheap and the memory of a run flat, and
    rows checked meanwhile simply stop being due: nothing is skipped or repeated.
    """
    keys = session.scalars(
        due_backlinks(select(Backlink.referring_key), due)
        .where(Backlink.referring_key > after)
        .group_by(Backlink.referring_key)
        .order_by(Backlink.referring_key)
        .limit(size)
    ).all()
    if not keys:
        return []
    columns = (
        Backlink.referring_key,
        Backlink.referring_url,
        Backlink.domain,
        Backlink.id,
        Backlink.target_url,
        Backlink.match,
        Backlink.expected_anchor,
        Backlink.expected_rel,
        Backlink.expected_target,
        # A paid link: tagged so, or with a price (its rel should say sponsored).
        or_(Backlink.cost.is_not(None), exists().where(Tag.backlink_id == Backlink.id, Tag.tag == PAID_TAG)).label("paid"),
    )
    rows = session.execute(
        due_backlinks(select(*columns), due)
        .where(Backlink.referring_key.in_(keys))
        .order_by(Backlink.referring_key, Backlink.id)
    )
    pages: dict[str, list] = {}
    for row in rows:
        pages.setdefault(row.referring_key, []).append(row)
    tags: dict[int, list[str]] = {}
    if due.with_tags:
        ids = [r.id for group in pages.values() for r in group]
        for backlink_id, tag in session.execute(
            select(Tag.backlink_id, Tag.tag).where(Tag.backlink_id.in_(ids), Tag.tag.in_(due.with_tags)).order_by(Tag.tag)
        ):
            tags.setdefault(backlink_id, []).append(tag)
    return [
        DuePage(
            key=key,
            url=group[0].referring_url,
            domain=group[0].domain,
            backlinks=tuple(
                DueBacklink(
                    id=r.id,
                    target_url=r.target_url,
                    match=MatchMode(r.match),
                    expected_anchor=r.expected_anchor,
                    expected_rel=r.expected_rel,
                    expected_target=r.expected_target,
                    paid=bool(r.paid),
                    tags=tuple(tags.get(r.id, ())),
                )
                for r in group
            ),
        )
        for key, group in pages.items()
    ]


def iter_due_pages(
    sessions: sessionmaker, due: DueFilter, chunk_size: int
) -> Iterator[list[DuePage]]:
    """Chunks of due pages, each read in its own short session."""
    after = ""
    while True:
        with sessions() as session:
            chunk = due_chunk(session, due, after, chunk_size)
        if not chunk:
            return
        yield chunk
        after = chunk[-1].key
