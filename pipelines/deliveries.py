"""Delivery bookkeeping: what is due on a notification channel, who sends it, what became of it.

A *subject* is what a channel is told once: an event (``event:<id>``) or the notice of a degraded
run (``run:<id>``). Each (channel, tag, subject) has at most one ``deliveries`` row, so:

- a process *claims* a subject by inserting its row as ``sending`` (or by moving a ``failed`` or
  stale ``sending`` row back to ``sending``), in one statement that returns what it got: of two
  processes (two crawl processes, a crawl and ``backlinks notify``) only one gets each subject;
- it then *records* the outcome: ``sent``, or ``failed`` with the error, which the next run (or
  ``backlinks notify``) claims again. A process that died while sending leaves ``sending``: after
  ``stale_before`` it is tried again (at least once, never lost; the webhook's ``event_id`` lets a
  receiver drop the rare repeat).

What is due at the end of a run: every failed (or stale) subject, and the subjects of the runs after
the last one this channel was told about, up to this one, that it never tried (runs that ended
without notifying: a crash, a kill); a channel new to the database starts at the current run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.alerts import ALERT_KINDS, AlertEvent, RunFacts, alertable
from crawler.core.chunks import batched
from crawler.core.scope import Scope
from pipelines.db import native_insert, writing
from pipelines.models import Delivery, Event, Run, Tag
from pipelines.queries import events_query, iter_events

_CHUNK = 500  # ids or subjects per statement

SENDING, SENT, FAILED = "sending", "sent", "failed"


@dataclass
class Due:
    """What one channel (and tag) has to send for one run."""

    run: RunFacts
    events: list[AlertEvent] = field(default_factory=list)
    notice: bool = False  # the run is degraded and the channel was not told yet

    @property
    def subjects(self) -> list[str]:
        return ([run_subject(self.run.id)] if self.notice else []) + [event_subject(e.event_id) for e in self.events]


def event_subject(event_id: int) -> str:
    return f"event:{event_id}"


def run_subject(run_id: int) -> str:
    return f"run:{run_id}"


def latest_run_id(session: Session) -> int | None:
    return session.scalar(select(func.max(Run.id)))


def run_facts(session: Session, run_id: int) -> RunFacts | None:
    run = session.get(Run, run_id)
    if run is None:
        return None
    counts = run.counts or {}
    return RunFacts(
        id=run.id, key=run.key, status=run.status, degraded=bool(run.degraded), held_back=counts.get("held_back", 0),
        checked=counts.get("checked", 0), started_at=run.started_at, finished_at=run.finished_at,
    )


def due(
    session: Session, channel: str, tag: str, *, upto: int | None = None, run: int | None = None,
    stale_before: datetime,
) -> list[Due]:
    """What ``channel`` (for ``tag``; "" for every backlink) has to send, per run, oldest first:
    with ``run``, that run's subjects not sent yet; else everything due at the end of run ``upto``
    (see the module's docstring)."""
    mine = and_(Delivery.channel == channel, Delivery.tag == tag)
    retry = select(Delivery.subject, Delivery.run_id, Delivery.event_id).where(
        mine, or_(Delivery.status == FAILED, and_(Delivery.status == SENDING, Delivery.last_tried_at < stale_before))
    )
    if run is not None:
        runs = [run]
        retry = retry.where(Delivery.run_id == run)
    else:
        assert upto is not None
        told = session.scalar(select(func.max(Delivery.run_id)).where(mine))
        first = upto if told is None else told + 1
        runs = list(session.scalars(select(Run.id).where(Run.id >= first, Run.id <= upto)))
    retried = session.execute(retry).all()
    notices = {r for _, r, e in retried if e is None}
    event_ids = {e for _, _, e in retried if e is not None}
    tried = select(Delivery.id).where(mine, Delivery.event_id == Event.id).exists()
    new = select(Event.id).where(Event.run_id.in_(runs), Event.kind.in_([k.value for k in ALERT_KINDS]), ~tried)
    event_ids |= set(session.scalars(_tagged(new, tag)))
    told_runs = set(session.scalars(select(Delivery.run_id).where(mine, Delivery.event_id.is_(None))))
    degraded = session.scalars(select(Run.id).where(Run.id.in_(runs), Run.degraded.is_(True)))
    notices |= {r for r in degraded if r not in told_runs}
    by_run: dict[int, Due] = {}
    for event in _alert_events(session, event_ids):
        if alertable(event.kind, event.before):
            _for_run(session, by_run, event.run_id).events.append(event)
    for run_id in notices:
        _for_run(session, by_run, run_id).notice = True
    return [by_run[run_id] for run_id in sorted(by_run)]


def _tagged(stmt: Select, tag: str) -> Select:
    if tag:
        stmt = stmt.where(Event.backlink_id.in_(select(Tag.backlink_id).where(Tag.tag == tag)))
    return stmt


def _for_run(session: Session, by_run: dict[int, Due], run_id: int) -> Due:
    if run_id not in by_run:
        facts = run_facts(session, run_id)
        assert facts is not None  # deliveries and events reference their run
        by_run[run_id] = Due(run=facts)
    return by_run[run_id]


def _alert_events(session: Session, event_ids: Iterable[int]) -> list[AlertEvent]:
    ids = sorted(event_ids)
    found: list[AlertEvent] = []
    for part in batched(ids, _CHUNK):
        # (check, kind) names an event (unique): the evidence rows carry the check, not the event id.
        keys = {(c, k): i for c, k, i in session.execute(select(Event.check_id, Event.kind, Event.id).where(Event.id.in_(part)))}
        for row in iter_events(session, events_query(session, Scope()).where(Event.id.in_(part))):
            found.append(
                AlertEvent(
                    event_id=keys[(row["check_id"], row["kind"])], run_id=row["run"],
                    **{name: value for name, value in row.items() if name in AlertEvent.model_fields},
                )
            )
    return found


def claim(sessions: sessionmaker, channel: str, tag: str, due_run: Due, now: datetime, stale_before: datetime) -> set[str]:
    """Claim ``due_run``'s subjects for this process; returns those it got (the others are sent or
    being sent by another process)."""
    subjects = {run_subject(due_run.run.id): None} if due_run.notice else {}
    subjects |= {event_subject(e.event_id): e.event_id for e in due_run.events}
    if not subjects:
        return set()
    with writing(sessions) as session:
        rows = [
            {"channel": channel, "tag": tag, "subject": subject, "run_id": due_run.run.id, "event_id": event_id,
             "status": SENDING, "attempts": 0, "first_tried_at": now, "last_tried_at": now}
            for subject, event_id in subjects.items()
        ]
        got = set(
            session.scalars(
                native_insert(session, Delivery).values(rows)
                .on_conflict_do_nothing(index_elements=["channel", "tag", "subject"])
                .returning(Delivery.subject)
            )
        )
        got |= set(
            session.scalars(
                update(Delivery)
                .where(
                    Delivery.channel == channel, Delivery.tag == tag, Delivery.subject.in_(list(subjects)),
                    or_(Delivery.status == FAILED, and_(Delivery.status == SENDING, Delivery.last_tried_at < stale_before)),
                )
                .values(status=SENDING, last_tried_at=now)
                .returning(Delivery.subject)
            )
        )
    return got


def record(
    sessions: sessionmaker, channel: str, tag: str, subjects: Iterable[str], *, sent: bool, attempts: int,
    error: str | None, now: datetime,
) -> None:
    """What became of claimed subjects: sent, or failed with ``error`` (one line, secrets removed)."""
    subjects = list(subjects)
    with writing(sessions) as session:
        for part in batched(subjects, _CHUNK):
            session.execute(
                update(Delivery)
                .where(Delivery.channel == channel, Delivery.tag == tag, Delivery.subject.in_(part))
                .values(
                    status=SENT if sent else FAILED, attempts=Delivery.attempts + attempts, last_error=error,
                    last_tried_at=now, sent_at=now if sent else None,
                )
            )


@dataclass(frozen=True)
class ChannelTally:
    """How one channel (and tag) fared with one run's subjects, for the run's summary."""

    channel: str
    tag: str
    counts: dict[str, int]
    last_error: str | None


def run_deliveries(session: Session, run_id: int) -> list[ChannelTally]:
    rows = session.execute(
        select(Delivery.channel, Delivery.tag, Delivery.status, func.count(), func.max(Delivery.last_error))
        .where(Delivery.run_id == run_id)
        .group_by(Delivery.channel, Delivery.tag, Delivery.status)
        .order_by(Delivery.channel, Delivery.tag, Delivery.status)
    ).all()
    grouped: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    errors: dict[tuple[str, str], str | None] = {}
    for channel, tag, status, count, error in rows:
        grouped[(channel, tag)][status] = count
        if status == FAILED:
            errors[(channel, tag)] = error
    return [ChannelTally(c, t, counts, errors.get((c, t))) for (c, t), counts in grouped.items()]
