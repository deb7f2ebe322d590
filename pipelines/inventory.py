"""The inventory of known backlinks: listing them, one backlink's whole history, tagging and removing.

Every function takes a :class:`~crawler.core.selection.Selection`; the ones that change rows work on
the ids :func:`selected_ids` gives, in chunks (a bound parameter list stays small on every backend).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from crawler.core.chunks import batched
from crawler.core.scope import Scope
from crawler.core.selection import UNCHECKED, Selection
from pipelines import snapshots
from pipelines.evidence import Evidence, evidence_of
from pipelines.models import Backlink, Check, Delivery, Event, State, Tag
from pipelines.queries import events_query, scoped

LIST_FIELDS = (
    "id", "referring_url", "target_url", "match", "status", "reason", "verdict", "tags", "first_seen",
    "last_seen", "last_checked", "expected_anchor", "expected_rel", "expected_target", "notes", "source",
    "cost", "currency", "placed_on", "expires_on", "archived_at",
)
_CHUNK = 500
_YIELD = 1000


def _status() -> ColumnElement[str]:
    return func.coalesce(State.status, UNCHECKED)


def _selected(session: Session, selection: Selection, *columns: Any) -> Select:
    stmt = scoped(
        session, select(*columns).select_from(Backlink).outerjoin(State, State.backlink_id == Backlink.id), selection.scope
    )
    if selection.urls:
        stmt = stmt.where(or_(Backlink.referring_key.in_(selection.urls), Backlink.target_key.in_(selection.urls)))
    if selection.statuses:
        stmt = stmt.where(_status().in_(selection.statuses))
    return stmt


def selected_ids(session: Session, selection: Selection) -> list[int]:
    """The ids of the selected backlinks, in id order."""
    if selection.pairs is None:
        return list(session.scalars(_selected(session, selection, Backlink.id).order_by(Backlink.id)))
    # A file's rows: looked up by the indexed referring key, each (referring, target) pair checked
    # here (a composite IN is not indexed on every backend).
    ids: list[int] = []
    for chunk in batched(sorted({referring for referring, _ in selection.pairs}), _CHUNK):
        stmt = _selected(session, selection, Backlink.id, Backlink.referring_key, Backlink.target_key)
        rows = session.execute(stmt.where(Backlink.referring_key.in_(chunk)))
        ids.extend(id_ for id_, referring, target in rows if (referring, target) in selection.pairs)
    return sorted(ids)


def iter_backlinks(session: Session, selection: Selection) -> Iterator[dict[str, Any]]:
    """One row of :data:`LIST_FIELDS` per selected backlink, in id order."""
    if selection.pairs is None:
        yield from _rows(session, _selected(session, selection, Backlink, State).order_by(Backlink.id))
        return
    for chunk in batched(selected_ids(session, selection), _CHUNK):
        stmt = select(Backlink, State).outerjoin(State, State.backlink_id == Backlink.id)
        yield from _rows(session, stmt.where(Backlink.id.in_(chunk)).order_by(Backlink.id))


def _rows(session: Session, stmt: Select) -> Iterator[dict[str, Any]]:
    for backlink, state in session.execute(stmt).yield_per(_YIELD):
        row: dict[str, Any] = {name: getattr(backlink, name) for name in _BACKLINK_FIELDS}
        row["tags"] = sorted(tag.tag for tag in backlink.tags)
        row["status"] = state.status if state else UNCHECKED
        row.update({name: getattr(state, name) if state else None for name in _STATE_FIELDS})
        yield {name: row[name] for name in LIST_FIELDS}


_BACKLINK_FIELDS = (
    "id", "referring_url", "target_url", "match", "expected_anchor", "expected_rel", "expected_target", "notes",
    "source", "cost", "currency", "placed_on", "expires_on", "archived_at",
)
_STATE_FIELDS = ("reason", "verdict", "first_seen", "last_seen", "last_checked")


@dataclass
class History:
    """One backlink as ``backlinks show`` tells it: what it is, its checks and its events, newest first."""

    backlink: Backlink
    state: State | None
    checks: list[Check]
    total_checks: int
    # Each event with its evidence (from the check it happened on, the last check before it that
    # saw the link, and the page's snapshot), newest first.
    events: list[tuple[Event, Evidence]]


def histories(session: Session, url: str, limit: int) -> list[History]:
    """Every backlink whose referring page or target is ``url`` (normalised), with its last ``limit``
    checks and every event."""
    stmt = (
        select(Backlink, State)
        .outerjoin(State, State.backlink_id == Backlink.id)
        .where(or_(Backlink.referring_key == url, Backlink.target_key == url))
        .options(selectinload(Backlink.metrics))
        .order_by(Backlink.referring_key, Backlink.target_key)
    )
    found = []
    for backlink, state in session.execute(stmt):
        checks = list(session.scalars(
            select(Check).where(Check.backlink_id == backlink.id).order_by(Check.checked_at.desc(), Check.id.desc()).limit(limit)
        ))
        total = session.scalar(select(func.count()).select_from(Check).where(Check.backlink_id == backlink.id)) or 0
        evidence = events_query(session, Scope(archived=None)).where(Event.backlink_id == backlink.id)
        rows = session.execute(evidence).all()
        kept = snapshots.infos(session, (event.check_id for event, *_ in rows))
        events = [(event, evidence_of(before, check, kept.get(check.id))) for event, _, check, before, _ in rows]
        events.sort(key=lambda row: (row[0].at, row[0].id), reverse=True)
        found.append(History(backlink, state, checks, total, events))
    return found


@dataclass
class Removal:
    """What deleting backlinks removes with them (the database cascades; counted first, to say so)."""

    backlinks: int = 0
    checks: int = 0
    events: int = 0
    deliveries: int = 0


def delete_backlinks(session: Session, ids: Sequence[int], *, dry_run: bool = False) -> Removal:
    """Remove the backlinks ``ids`` with their history; ``dry_run``: only count. The caller commits."""
    removal = Removal()
    for chunk in batched(ids, _CHUNK):
        removal.backlinks += len(chunk)
        removal.checks += _count(session, select(Check.id).where(Check.backlink_id.in_(chunk)))
        removal.events += _count(session, select(Event.id).where(Event.backlink_id.in_(chunk)))
        removal.deliveries += _count(
            session, select(Delivery.id).join(Event, Event.id == Delivery.event_id).where(Event.backlink_id.in_(chunk))
        )
        if not dry_run:
            # Foreign keys cascade to states, tags, checks, events and deliveries (SQLite: the
            # engine turns foreign keys on). A crawl storing a check of a deleted backlink skips it.
            session.execute(delete(Backlink).where(Backlink.id.in_(chunk)))
    return removal


def _count(session: Session, stmt: Select) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def set_archived(session: Session, ids: Sequence[int], at: datetime | None) -> int:
    """Archive the backlinks ``ids`` at ``at`` (None: unarchive); returns how many changed."""
    changed = 0
    for chunk in batched(ids, _CHUNK):
        already = Backlink.archived_at.is_(None) if at is not None else Backlink.archived_at.is_not(None)
        result = session.execute(
            update(Backlink).where(Backlink.id.in_(chunk), already).values(archived_at=at).execution_options(synchronize_session=False)
        )
        changed += result.rowcount
    return changed


def retag(session: Session, ids: Sequence[int], tag: str, *, add: bool) -> int:
    """Add ``tag`` to (or remove it from) the backlinks ``ids``; returns how many changed."""
    changed = 0
    for chunk in batched(ids, _CHUNK):
        having = set(session.scalars(select(Tag.backlink_id).where(Tag.tag == tag, Tag.backlink_id.in_(chunk))))
        if add:
            missing = [id_ for id_ in chunk if id_ not in having]
            if missing:
                session.execute(Tag.__table__.insert(), [{"backlink_id": id_, "tag": tag} for id_ in missing])
            changed += len(missing)
        elif having:
            session.execute(delete(Tag).where(Tag.tag == tag, Tag.backlink_id.in_(having)))
            changed += len(having)
    return changed
