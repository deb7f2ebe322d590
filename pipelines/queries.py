"""Read side: what the CLI, exports and run summaries show. Streams, never loads a table whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from crawler.core.metrics import METRICS
from crawler.core.outcome import Status
from crawler.core.scope import Scope, target_in_domain
from pipelines.models import Backlink, Check, Event, Run, State, Tag

CURRENT_FIELDS = (
    "referring_url", "target_url", "match", "status", "reason", "anchors", "rel", "follow",
    "position", "link_count", "http_status", "final_url", "noindex", "canonical", "first_seen",
    "last_seen", "last_checked", "found_in", "hidden",
    # Beyond the contract's minimum: what a user needs to trust a status.
    "verdict", "since", "consecutive_misses", "linked_url", "mismatch", "tags",
    # The last sighting of the link (at last_seen), kept apart: the link fields above say what the
    # last check saw, so a lost or unreachable backlink never counts as a link that is there.
    "last_seen_anchors", "last_seen_rel", "last_seen_follow", "last_seen_position", "last_seen_url",
    # A placed or paid link's terms, and the vendors' metrics (one column per metric, empty when no
    # import gave it; crawler/core/metrics.py says what each is).
    "cost", "currency", "placed_on", "expires_on",
    *(f"metric_{name}" for name in METRICS),
)
_BACKLINK_FIELDS = ("referring_url", "target_url", "match", "cost", "currency", "placed_on", "expires_on")
# What the last check saw of the link; empty unless it saw the link (status live).
_LINK_FIELDS = {
    "anchors": [], "rel": [], "follow": None, "position": None, "link_count": 0, "linked_url": None,
    "found_in": None, "hidden": None, "mismatch": [],
}
# The last sighting's columns, each a copy of the state's link field it names.
_LAST_SEEN = {
    "last_seen_anchors": "anchors", "last_seen_rel": "rel", "last_seen_follow": "follow",
    "last_seen_position": "position", "last_seen_url": "linked_url",
}
CHECK_FIELDS = (
    "referring_url", "target_url", "checked_at", "run", "observed", "status", "reason",
    "http_status", "final_url", "anchors", "rel", "follow", "position", "link_count", "noindex",
    "canonical", "found_in",
)
EVENT_FIELDS = (
    "referring_url", "target_url", "kind", "before", "after", "at", "run",
    # The evidence: whose link it is, what it looked like before the change (the last check that saw
    # it) and after (the check the event happened on), and the checks it rests on.
    "referring_domain", "tags", "reason", "last_seen",
    "before_anchors", "before_rel", "before_position", "before_context",
    "after_anchors", "after_rel", "after_position", "after_context",
    "check_id", "before_check_id",
)

_YIELD = 1000


def tagged(stmt: Select, tag: str | None, archived: bool | None = False) -> Select:
    """``stmt`` (which joins Backlink) kept to ``tag``'s backlinks, and to the active ones (not
    archived) unless ``archived`` says otherwise."""
    if tag:
        stmt = stmt.where(Backlink.id.in_(select(Tag.backlink_id).where(Tag.tag == tag)))
    if archived is not None:
        stmt = stmt.where(Backlink.archived_at.is_not(None) if archived else Backlink.archived_at.is_(None))
    return stmt


def scoped(session: Session, stmt: Select, scope: Scope) -> Select:
    """``stmt`` (which joins Backlink) kept to the backlinks of ``scope``: tag, referring domain, target."""
    stmt = tagged(stmt, scope.tag, scope.archived)
    if scope.referring_domain:
        stmt = stmt.where(Backlink.domain == scope.referring_domain)
    if scope.target_url:
        stmt = stmt.where(Backlink.target_key == scope.target_url)
    if scope.target_domain:
        # A site has few target URLs: their domains are worked out here, exactly (a LIKE on the URL
        # would take evil-example.com for example.com).
        keys = [k for k in session.scalars(select(Backlink.target_key).distinct()) if target_in_domain(k, scope.target_domain)]
        stmt = stmt.where(Backlink.target_key.in_(keys))
    return stmt


def status_counts(session: Session, tag: str | None = None) -> list[tuple[str, str | None, int]]:
    """(status, reason, backlinks) for every backlink; never-checked ones count as ``unchecked``."""
    status = func.coalesce(State.status, "unchecked")
    stmt = tagged(
        select(status, State.reason, func.count(Backlink.id))
        .select_from(Backlink)
        .outerjoin(State, State.backlink_id == Backlink.id)
        .group_by(status, State.reason)
        .order_by(status, State.reason),
        tag,
    )
    return [(s, r, n) for s, r, n in session.execute(stmt)]


def verdict_counts(session: Session, tag: str | None = None) -> list[tuple[str, int]]:
    """(verdict, backlinks): the last conclusive status of each backlink, which an inconclusive
    check (a timeout, an outage) leaves standing; ``unknown`` when no check was ever conclusive."""
    verdict = func.coalesce(State.verdict, "unknown")
    stmt = tagged(
        select(verdict, func.count(Backlink.id))
        .select_from(Backlink)
        .outerjoin(State, State.backlink_id == Backlink.id)
        .group_by(verdict)
        .order_by(verdict),
        tag,
    )
    return [(v, n) for v, n in session.execute(stmt)]


def archived_count(session: Session, tag: str | None = None) -> int:
    """Backlinks archived (`backlinks archive`): left out of every count and report."""
    stmt = tagged(select(func.count(Backlink.id)), tag, archived=True)
    return session.scalar(stmt) or 0


def iter_current(session: Session, scope: Scope = Scope()) -> Iterator[dict[str, Any]]:
    scope.require_no_kinds("the current state")
    stmt = scoped(
        session,
        select(Backlink, State).outerjoin(State, State.backlink_id == Backlink.id)
        .options(selectinload(Backlink.metrics)).order_by(Backlink.id),
        scope,
    )
    if scope.since:
        stmt = stmt.where(State.last_checked >= scope.since)
    if scope.run:
        stmt = stmt.where(State.last_check_id.in_(select(Check.id).where(Check.run_id == scope.run)))
    for backlink, state in session.execute(stmt).yield_per(_YIELD):
        row: dict[str, Any] = {name: getattr(backlink, name) for name in _BACKLINK_FIELDS}
        row["tags"] = [t.tag for t in backlink.tags]
        row.update({f"metric_{name}": None for name in METRICS})
        row.update({f"metric_{m.name}": m.number if m.number is not None else m.text for m in backlink.metrics})
        if state is None:  # never checked: no link now, and no sighting
            row.update(_LINK_FIELDS, status="unchecked")
            row.update({seen: _LINK_FIELDS[field] for seen, field in _LAST_SEEN.items()})
        for name in CURRENT_FIELDS:
            if name not in row:
                row[name] = getattr(state, _LAST_SEEN.get(name, name), None)
        if state is not None and state.status != Status.LIVE:
            row.update(_LINK_FIELDS)
        yield {name: row[name] for name in CURRENT_FIELDS}


def iter_checks(session: Session, scope: Scope = Scope()) -> Iterator[dict[str, Any]]:
    scope.require_no_kinds("checks")
    stmt = scoped(
        session,
        select(Check, Backlink.referring_url, Backlink.target_url).join(Backlink, Backlink.id == Check.backlink_id),
        scope,
    )
    if scope.since:
        stmt = stmt.where(Check.checked_at >= scope.since)
    if scope.run:
        stmt = stmt.where(Check.run_id == scope.run)
    for check, referring_url, target_url in session.execute(stmt.order_by(Check.id)).yield_per(_YIELD):
        row = {"referring_url": referring_url, "target_url": target_url, "run": check.run_id}
        yield {name: row[name] if name in row else getattr(check, name) for name in CHECK_FIELDS}


def events_query(session: Session, scope: Scope = Scope()) -> Select:
    """Events with their evidence: the backlink, the check the event happened on, and the last check
    before it that saw the link (what the link looked like before the change)."""
    seen_before = aliased(Check)
    earlier = aliased(Check)
    last_sighting = (
        select(func.max(earlier.id))
        .where(earlier.backlink_id == Event.backlink_id, earlier.id < Event.check_id, earlier.observed == Status.LIVE.value)
        .correlate(Event)
        .scalar_subquery()
    )
    stmt = scoped(
        session,
        select(Event, Backlink, Check, seen_before, State.last_seen)
        .join(Backlink, Backlink.id == Event.backlink_id)
        .join(Check, Check.id == Event.check_id)
        .outerjoin(seen_before, seen_before.id == last_sighting)
        .outerjoin(State, State.backlink_id == Event.backlink_id),
        scope,
    )
    if scope.since:
        stmt = stmt.where(Event.at >= scope.since)
    if scope.run:
        stmt = stmt.where(Event.run_id == scope.run)
    if scope.kinds:
        stmt = stmt.where(Event.kind.in_([kind.value for kind in scope.kinds]))
    return stmt.order_by(Event.id)


def iter_events(session: Session, stmt: Select) -> Iterator[dict[str, Any]]:
    for event, backlink, check, before, last_seen in session.execute(stmt).yield_per(_YIELD):
        row = {
            "referring_url": backlink.referring_url,
            "target_url": backlink.target_url,
            "kind": event.kind,
            "before": event.before,
            "after": event.after,
            "at": event.at,
            "run": event.run_id,
            "referring_domain": backlink.domain,
            "tags": [t.tag for t in backlink.tags],
            "reason": check.reason,
            "last_seen": last_seen,
            "check_id": check.id,
            "before_check_id": before.id if before is not None else None,
        }
        row.update(_sighting("before", before))
        row.update(_sighting("after", check if check.observed == Status.LIVE.value else None))
        yield row


def _sighting(side: str, check: Check | None) -> dict[str, Any]:
    """What ``check`` saw of the link (None: it saw no link), as the ``before_*`` or ``after_*`` fields."""
    link = ((check.details or {}).get("links") or [None])[0] if check is not None else None
    return {
        f"{side}_anchors": check.anchors if check is not None else [],
        f"{side}_rel": check.rel if check is not None else [],
        f"{side}_position": check.position if check is not None else None,
        f"{side}_context": link_context(link) if link else None,
    }


def link_context(link: dict[str, Any]) -> str:
    """The text around the link, the anchor in brackets: "…read the [great shop] review…"."""
    return f"{link.get('left', '')} [{link.get('anchor', '')}] {link.get('right', '')}".strip()


MENTION_FIELDS = ("referring_url", "target_url", "status", "reason", "last_checked", "last_seen", "tags", "mentions")


def iter_mentions(session: Session, scope: Scope = Scope()) -> Iterator[dict[str, Any]]:
    """Backlinks whose page, at its last conclusive check, named the brand without the link
    (``BACKLINKS_BRAND_TERMS``), with the sentences that name it: the links to reclaim."""
    scope.require_no_kinds("mentions")
    stmt = scoped(
        session,
        select(Backlink, State, Check)
        .join(State, State.backlink_id == Backlink.id)
        .join(Check, Check.id == last_conclusive_check())
        .where(State.mentioned.is_(True)),
        scope,
    )
    if scope.since:
        stmt = stmt.where(Check.checked_at >= scope.since)
    for backlink, state, check in session.execute(stmt.order_by(Backlink.id)).yield_per(_YIELD):
        yield {
            "referring_url": backlink.referring_url, "target_url": backlink.target_url, "status": state.status,
            "reason": state.reason, "last_checked": state.last_checked, "last_seen": state.last_seen,
            "tags": [t.tag for t in backlink.tags], "mentions": (check.details or {}).get("mentions") or [],
        }


def last_conclusive_check() -> Any:
    """The backlink's last check that could see the page: where its mention was found (an outage
    since leaves ``states.mentioned`` standing)."""
    inner = aliased(Check)
    conclusive = [Status.LIVE.value, Status.MISSING_UNCONFIRMED.value]
    return (
        select(func.max(inner.id)).where(inner.backlink_id == State.backlink_id, inner.observed.in_(conclusive))
        .correlate(State).scalar_subquery()
    )


def get_run(session: Session, run_id: int | None) -> Run | None:
    """A run by id, or the latest one."""
    if run_id is not None:
        return session.get(Run, run_id)
    return session.scalars(select(Run).order_by(Run.id.desc()).limit(1)).first()


def recent_runs(session: Session, limit: int = 10) -> list[Run]:
    return list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))
