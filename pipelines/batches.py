"""Database side of a run's batches: each batch of observations stored in one transaction (checks,
states, events, the run's tally). Runs are opened and closed by :mod:`pipelines.runs`. No Scrapy here."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, cast

import psycopg
from sqlalchemy import Table, Update, distinct, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.items import Observation
from crawler.core.outcome import Status
from crawler.core.render_policy import RenderMemory, needed_render
from pipelines import bulk
from pipelines.db import native_insert, writing
from pipelines.snapshots import snapshot_rows
from crawler.core.changes import SNAPSHOT_FIELDS, Change, ChangePolicy, Snapshot, detect, term_changes
from pipelines.models import Backlink, Check, Event, PageSnapshot, RenderMemoryEntry, Run, RunWorker, State

logger = logging.getLogger(__name__)
T = TypeVar("T")
Result = tuple[Observation, Snapshot, list[Change]]


def snapshot(state: State | None) -> Snapshot | None:
    if state is None:
        return None
    return Snapshot.from_row(state)


# Tables (typed so: mapped classes declare ``__table__`` as any FromClause).
_CHECKS = cast(Table, Check.__table__)
_STATES = cast(Table, State.__table__)
_EVENTS = cast(Table, Event.__table__)
_SNAPSHOTS = cast(Table, PageSnapshot.__table__)
_SNAPSHOT_COLUMNS = [_STATES.c[name] for name in SNAPSHOT_FIELDS]


def _state_values(backlink_id: int, new: Snapshot, last_check_id: int) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(new, name) for name in SNAPSHOT_FIELDS}
    for name, value in values.items():
        if isinstance(value, Enum):  # Status: the column holds its value
            values[name] = value.value
    return {**values, "backlink_id": backlink_id, "last_check_id": last_check_id}


# SQLSTATEs a later attempt can succeed at: serialization failure, deadlock, lock not available,
# and the connection classes (08: connection exception, 57P: the server shutting down).
_TRANSIENT_STATES = ("40001", "40P01", "55P03", "08", "57P")


def transient(exc: BaseException) -> bool:
    """Whether trying again later can cure this failure: a locked or busy database, a deadlock, a
    lost connection. Anything else (a refused value, a constraint, a bug) fails again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig)
        return "locked" in message or "busy" in message
    if isinstance(orig, psycopg.Error):
        state = orig.sqlstate
        # No SQLSTATE on an OperationalError: the client lost the server (it never answered).
        return state.startswith(_TRANSIENT_STATES) if state else isinstance(orig, psycopg.OperationalError)
    return False


@dataclass
class Patience:
    """How long a write waits out a locked database: back-off from ``first`` to ``most`` seconds
    between attempts for as long as the crawl runs, and ``grace`` seconds once it is closing."""

    first: float = 0.5
    most: float = 30.0
    grace: float = 60.0
    deadline: float | None = None  # time.monotonic(): set by closing()
    sleep: Callable[[float], None] = time.sleep

    def closing(self) -> None:
        self.deadline = time.monotonic() + self.grace

    def attempt(self, write: Callable[[], T], what: str) -> T:
        """``write()``, tried again after each transient failure until the patience runs out."""
        delay, tries = self.first, 0
        while True:
            try:
                return write()
            except Exception as exc:
                left = None if self.deadline is None else self.deadline - time.monotonic()
                if not transient(exc) or (left is not None and left <= 0):
                    raise
                tries += 1
                log = logger.warning if tries == 1 or tries % 10 == 0 else logger.debug
                log("Could not store %s (%s); trying again in %.1f s (attempt %d)", what, _brief(exc), delay, tries)
                self.sleep(delay if left is None else min(delay, left))
                delay = min(delay * 2, self.most)


@dataclass
class Stored:
    """What :func:`store_batch` did with a batch."""

    results: list[Result] = field(default_factory=list)  # stored as observed
    failed: list[tuple[Observation, str]] = field(default_factory=list)  # stored as store_error instead
    lost: list[tuple[Observation, str]] = field(default_factory=list)  # nothing stored: still due


def store_batch(
    sessions: sessionmaker,
    run_id: int | None,
    observations: Sequence[Observation],
    policy: ChangePolicy,
    tally: RunTally,
    patience: Patience,
) -> Stored:
    """Store a batch so that one bad row can never take the batch with it.

    The batch is one transaction (:func:`write_batch`), tried again while the database is locked
    (``patience``). A batch the database refuses is split in halves, each stored the same way, down
    to the single observation; one that fails alone is recorded as a ``store_error`` check with the
    database's reason. What cannot be stored at all (the database stayed locked past the patience,
    or refused even the error record) is counted in ``tally.not_stored`` and stays due.
    """
    stored = Stored()
    _store(sessions, run_id, list(observations), policy, tally, patience, stored)
    tally.not_stored += len(stored.lost)
    return stored


def _store(
    sessions: sessionmaker,
    run_id: int | None,
    part: list[Observation],
    policy: ChangePolicy,
    tally: RunTally,
    patience: Patience,
    stored: Stored,
) -> None:
    what = f"a batch of {len(part)} observation{'s' * (len(part) != 1)}"
    try:
        stored.results += patience.attempt(lambda: write_batch(sessions, run_id, part, policy, tally), what)
        return
    except Exception as exc:
        if transient(exc):  # locked past the patience: splitting would not help
            logger.error("Could not store %s of run %s: %s", what, run_id, _brief(exc))
            stored.lost += [(obs, _brief(exc)) for obs in part]
            return
        failure = exc
    if len(part) > 1:
        middle = len(part) // 2
        _store(sessions, run_id, part[:middle], policy, tally, patience, stored)
        _store(sessions, run_id, part[middle:], policy, tally, patience, stored)
        return
    obs, reason = part[0], _brief(failure)
    logger.error(
        "Backlink %s: the database refused its observation (%s); recorded as %s",
        obs.backlink_id, reason, Status.STORE_ERROR.value,
    )
    record = Observation(
        backlink_id=obs.backlink_id, referring_url=obs.referring_url, target_url=obs.target_url,
        checked_at=obs.checked_at, status=Status.STORE_ERROR, reason=reason,
    )
    try:
        stored.results += patience.attempt(lambda: write_batch(sessions, run_id, [record], policy, tally), what)
        stored.failed.append((obs, reason))
    except Exception as exc:
        logger.error("Backlink %s: not even its error record could be stored (%s)", obs.backlink_id, _brief(exc))
        stored.lost.append((obs, reason))


def _brief(exc: BaseException) -> str:
    """The driver's one-line message (SQLAlchemy's own adds the statement and every parameter)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0] if lines else ''}"


def write_batch(
    sessions: sessionmaker,
    run_id: int | None,
    observations: Sequence[Observation],
    policy: ChangePolicy,
    tally: RunTally | None = None,
) -> list[Result]:
    """Store one batch in ONE transaction: checks appended, states replaced, events added, and the
    page snapshot of each check with an event whose observation carries the page's body.

    A crash mid-batch rolls all of it back, so the backlinks stay due and the re-run checks them
    once; nothing half-written is ever seen. ``tally``, when given, takes the batch and is saved on
    the run in the same transaction, so the run record always agrees with its checks.
    """
    results = []
    with writing(sessions) as session:
        ids = {obs.backlink_id for obs in observations}
        # Lock the batch's backlinks, in id order: processes writing the same backlinks take turns
        # (no lost update, no second "first" state row, no duplicate event) and cannot deadlock.
        # With each backlink's paid term: a check after it, or a loss before it, is an event.
        expiry = dict(
            session.execute(
                select(Backlink.id, Backlink.expires_on)
                .where(bulk.among(session, Backlink.id, ids))
                .order_by(Backlink.id)
                .with_for_update(key_share=True)
            ).all()
        )
        existing = set(expiry)
        states = {
            backlink_id: Snapshot.from_values(values)
            for backlink_id, *values in session.execute(
                select(_STATES.c.backlink_id, *_SNAPSHOT_COLUMNS)
                .where(bulk.among(session, _STATES.c.backlink_id, existing))
                .order_by(_STATES.c.backlink_id)
                .with_for_update()
            )
        }
        stored = set(states)  # backlinks that already have a state row
        overlapping = overlapping_runs(session, run_id)
        checks: list[dict[str, Any]] = []
        for obs in observations:
            if obs.backlink_id not in existing:  # deleted while the run was on: nothing to store
                continue
            # A backlink twice in one batch folds in order, as two batches would.
            previous = states.get(obs.backlink_id)
            new, changes = detect(previous, obs, policy, run_id=run_id, overlapping=overlapping)
            changes += term_changes(expiry[obs.backlink_id], previous.last_checked if previous else None, obs.checked_at, changes)
            states[obs.backlink_id] = new
            checks.append(_check_values(run_id, obs, new))
            results.append((obs, new, changes))
        # Bulk writes (COPY on PostgreSQL, Core statements elsewhere), not the ORM unit of work: a
        # few statements per batch, not a few per observation. Checks first, for the ids the states
        # and events point to.
        check_ids = _insert_checks(session, checks)
        last_check: dict[int, int] = {}
        events = []
        for (obs, _new, changes), check_id in zip(results, check_ids, strict=True):
            last_check[obs.backlink_id] = check_id
            events.extend(
                {
                    "backlink_id": obs.backlink_id,
                    "run_id": run_id,
                    "check_id": check_id,
                    "kind": change.kind.value,
                    "before": change.before,
                    "after": change.after,
                    "at": obs.checked_at,
                }
                for change in changes
            )
        rows = [_state_values(b_id, states[b_id], check_id) for b_id, check_id in sorted(last_check.items())]
        bulk.insert_rows(session, _STATES, [row for row in rows if row["backlink_id"] not in stored])
        bulk.update_rows(session, _STATES, "backlink_id", [row for row in rows if row["backlink_id"] in stored])
        bulk.insert_rows(session, _EVENTS, events)
        changed = ((check_id, obs) for (obs, _new, changes), check_id in zip(results, check_ids, strict=True) if changes)
        bulk.insert_rows(session, _SNAPSHOTS, snapshot_rows(changed))
        _remember_renders(session, observations, existing)
        if tally is not None:
            combined = tally.copy()
            combined.add(results)
            session.execute(_tally_row(run_id, tally).values(**combined.as_row()))
    if tally is not None:  # only once committed: a failed batch must not count
        tally.add(results)
    return results


def overlapping_runs(session: Session, run_id: int | None) -> frozenset[int]:
    """The runs whose time overlaps run ``run_id``'s (itself included): every run not finished
    before it started. Its misses and theirs saw the web at the same time."""
    if run_id is None:
        return frozenset()
    started = select(Run.started_at).where(Run.id == run_id).scalar_subquery()
    return frozenset(
        session.scalars(
            select(Run.id).where(or_(Run.id == run_id, Run.finished_at.is_(None), Run.finished_at > started))
        )
    )


def _insert_checks(session: Session, checks: list[dict[str, Any]]) -> list[int]:
    """Insert the checks; their ids, in the order of ``checks``.

    With COPY (PostgreSQL) the ids are taken from the sequence first and written with the rows.
    Otherwise one INSERT ... RETURNING: with sort_by_parameter_order SQLite would insert row by
    row, so the ids come back with their backlink and are matched up here; a backlink twice in a
    batch gets its ids in ascending order, which is the order its rows were inserted in.
    """
    if not checks:
        return []
    if bulk.copies(session):
        check_ids = bulk.next_ids(session, _CHECKS.c.id, len(checks))
        rows = [{"id": check_id, **check} for check_id, check in zip(check_ids, checks, strict=True)]
        bulk.insert_rows(session, _CHECKS, rows)
        return check_ids
    returned = session.execute(insert(_CHECKS).returning(_CHECKS.c.id, _CHECKS.c.backlink_id), checks)
    ids: dict[int, list[int]] = {}
    for check_id, backlink_id in returned:
        ids.setdefault(backlink_id, []).append(check_id)
    queues = {backlink_id: iter(sorted(found)) for backlink_id, found in ids.items()}
    return [next(queues[check["backlink_id"]]) for check in checks]


def _tally_row(run_id: int | None, tally: RunTally) -> Update:
    """Where a batch saves the tally: its process's row of a shared run, else the run itself."""
    if tally.worker_id is not None:
        return update(RunWorker).where(RunWorker.id == tally.worker_id)
    return update(Run).where(Run.id == run_id)


def _remember_renders(session: Session, observations: Sequence[Observation], existing: set[int]) -> None:
    """Remember the pages where a render found a link the static HTML lacked. Domains are not
    remembered here: :func:`load_render_memory` derives them from the pages."""
    needed: dict[int, datetime] = {}
    for obs in observations:
        if obs.backlink_id in existing and needed_render((obs,)):
            needed[obs.backlink_id] = max(obs.checked_at, needed.get(obs.backlink_id, obs.checked_at))
    if not needed:
        return
    latest: dict[str, datetime] = {}
    rows = session.execute(select(Backlink.id, Backlink.referring_key).where(Backlink.id.in_(needed)))
    for backlink_id, page_key in rows:
        at = needed[backlink_id]
        latest[page_key] = max(at, latest.get(page_key, at))
    for key, at in sorted(latest.items()):  # a stable order: concurrent writers never deadlock
        stmt = native_insert(session, RenderMemoryEntry).values(
            scope="page", key=key, first_needed=at, last_needed=at, times_needed=1
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[RenderMemoryEntry.scope, RenderMemoryEntry.key],
            set_={"last_needed": stmt.excluded.last_needed, "times_needed": RenderMemoryEntry.times_needed + 1},
        )
        session.execute(stmt)


def load_render_memory(sessions: sessionmaker, since: datetime) -> RenderMemory:
    """Pages that needed rendering at or after ``since``, and the registrable domains where most
    of the checked referring pages did (read once when a run starts).

    One JS page must not send a whole domain to the browser every night: a domain is remembered
    only when more than half of its referring pages that were ever checked are remembered pages.
    """
    with sessions() as session:
        remembered = (
            select(Backlink.referring_key, Backlink.domain)
            .join(RenderMemoryEntry, RenderMemoryEntry.key == Backlink.referring_key)
            .where(RenderMemoryEntry.scope == "page", RenderMemoryEntry.last_needed >= since)
            .distinct()
        )
        pages: set[str] = set()
        needed: Counter[str] = Counter()
        for key, domain in session.execute(remembered):
            pages.add(key)
            needed[domain] += 1
        domains_needed = remembered.subquery()
        checked = session.execute(
            select(Backlink.domain, func.count(distinct(Backlink.referring_key)))
            .join(State, State.backlink_id == Backlink.id)
            .where(Backlink.domain.in_(select(domains_needed.c.domain)))
            .group_by(Backlink.domain)
        )
        domains = {domain for domain, count in checked if 2 * needed[domain] > count}
    return RenderMemory(pages=frozenset(pages), domains=frozenset(domains))


def _check_values(run_id: int | None, obs: Observation, new: Snapshot) -> dict[str, Any]:
    page = obs.page
    found = obs.status is Status.LIVE
    return dict(
        backlink_id=obs.backlink_id,
        run_id=run_id,
        checked_at=obs.checked_at,
        observed=obs.status.value,
        status=new.status.value,
        reason=obs.reason,
        http_status=page.http_status if page else None,
        final_url=page.final_url if page else None,
        anchors=new.anchors if found else [],
        rel=new.rel if found else [],
        follow=obs.follow,
        position=new.position if found else None,
        link_count=obs.link_count,
        noindex=page.noindex if page else None,
        canonical=page.canonical if page else None,
        found_in=obs.found_in,
        ip=page.ip if page else None,
        template=page.template if page else None,
        details=obs.model_dump(mode="json", include={"page", "links", "retargeted_to", "mismatch", "mentions"}),
    )


@dataclass
class RunTally:
    """A run's counters: per status, per status/reason and per event kind."""

    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    worker_id: int | None = None  # the run_workers row it is saved to (pipelines.runs)
    errors: int = 0  # errors the crawler logged (fetch failures are statuses, not errors)
    not_stored: int = 0  # observations of which nothing could be stored (store_batch)

    def add(self, results: Sequence[tuple[Observation, Snapshot, list[Change]]]) -> None:
        for _obs, new, changes in results:
            self.statuses[new.status.value] += 1
            if new.reason:
                self.reasons[f"{new.status.value}/{new.reason}"] += 1
            self.events.update(change.kind.value for change in changes)

    def copy(self) -> RunTally:
        return RunTally(
            Counter(self.statuses), Counter(self.reasons), Counter(self.events), self.worker_id, self.errors,
            self.not_stored,
        )

    def as_row(self) -> dict[str, Any]:
        """The values of the run's ``counts`` and ``events`` columns."""
        counts = {
            "checked": sum(self.statuses.values()),
            "status": dict(self.statuses),
            "reason": dict(self.reasons),
            "errors": self.errors,
            "not_stored": self.not_stored,
        }
        return {"counts": counts, "events": dict(self.events)}
