"""One logical run shared by any number of verify processes, with no coordinator but the database.

A process *joins* a run: the first one (per run key) creates it, fixes its due cutoff and writes its
due referring registrable domains (``run_domains``); the others find it. Each process then *claims* a
few domains nobody holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), crawls their due pages, and
*heartbeats*: it extends the leases of the domains it holds and *settles* them (a domain is done when
nothing of it is due any more). A process that dies stops extending: after the lease its domains are
claimed again. Correctness rests on due-ness itself: a committed check makes a backlink not due, so a
domain claimed again yields only what its dead holder did not store, and no backlink is checked twice.

The last process to *leave* closes the run: counts added up from every process's tally, the run's
health judged, and only then, if it is healthy, its held-back losses confirmed
(``ChangePolicy.hold_losses``): a degraded run moves nothing to lost. No Scrapy here; times are
passed in.
"""

from __future__ import annotations

import os
import socket
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.outcome import RunStatus, Status
from crawler.core.changes import ChangePolicy, confirm_loss, term_changes
from crawler.core.chunks import batched
from pipelines.db import is_postgresql, native_insert, writing
from pipelines.due import DueFilter, due_backlinks
from pipelines.models import Backlink, Check, Event, Run, RunDomain, RunWorker, State
from pipelines.batches import RunTally, snapshot

# What every process of one run must agree on; the rest (limit, shard, render) is per process.
SHARED_ARGUMENTS = ("all", "tag", "only")
_MATERIALIZE_CHUNK = 5000
_JOIN_LOCK = zlib.crc32(b"backlinks: join_run")  # PostgreSQL advisory lock key


class RunMismatch(ValueError):
    """A process tried to join a run under different arguments than the run was started with."""


class RunBusy(RunMismatch):
    """Another run is still at work on the referring domains a new run would check; the message
    says which and what to do (wait, or share it with ``-a run=KEY``). A RunMismatch: it too keeps
    this process from starting, with one line to show."""


@dataclass(frozen=True)
class Shard:
    """Static sharding: this process only takes domains with ``crc32(domain) % count == index``."""

    index: int
    count: int

    def holds(self, domain: str) -> bool:
        return bucket(domain) % self.count == self.index


def bucket(domain: str) -> int:
    # zlib.crc32 is stable across processes and machines (hash() is salted per process).
    return zlib.crc32(domain.encode("utf-8"))


@dataclass(frozen=True)
class WorkOrder:
    """What a process asks to work on: the spider's arguments, as the run record keeps them."""

    due: DueFilter
    arguments: dict[str, Any]
    key: str | None = None  # processes with the same key share one run
    shard: Shard | None = None


@dataclass(frozen=True)
class Ticket:
    """A process's membership of a run: what it claims under and where its tally goes."""

    run_id: int
    worker_id: int
    due: DueFilter  # the run's: its cutoff was fixed when the run started
    shard: Shard | None = None


@dataclass(frozen=True)
class Departure:
    """What leaving a run did: ``status`` is the run's afterwards."""

    status: RunStatus
    last: bool  # this process closed the run
    degraded: bool = False
    confirmed_losses: int = 0
    held_back: int = 0


def worker_name() -> str:
    name = f"{socket.gethostname()}:{os.getpid()}"
    job = os.environ.get("SCRAPYD_JOB")  # set by Scrapyd for the crawls it launches
    return f"{name} job {job}" if job else name


def check_joinable(sessions: sessionmaker, key: str | None, arguments: dict[str, Any]) -> None:
    """Raise :class:`RunMismatch` before anything is written (at start-up) when the run ``key``
    exists with other arguments; :func:`join_run` checks again under its lock."""
    if key is None:
        return
    with sessions() as session:
        run = session.scalars(select(Run).where(Run.key == key)).one_or_none()
        if run is not None:
            _same_arguments(run, arguments)


def _same_arguments(run: Run, arguments: dict[str, Any]) -> None:
    shared = {name: run.arguments.get(name) for name in SHARED_ARGUMENTS}
    if shared != {name: arguments.get(name) for name in SHARED_ARGUMENTS}:
        raise RunMismatch(
            f"run {run.key!r} was started with {shared}; every process of a run needs the same arguments"
        )


def join_run(
    sessions: sessionmaker,
    order: WorkOrder,
    now: datetime,
    worker: str | None = None,
    lease: timedelta = timedelta(minutes=5),
) -> Ticket:
    """Create the run (with its due domains) or join the one with the order's key; register this process.

    A new run is refused (:class:`RunBusy`) while another run still works on some of its referring
    domains: two crawls at once would check the same backlinks twice, and their misses, seen at
    the same moment, would confirm losses together. Runs whose every process is dead are closed
    as ``interrupted`` first, so a crash never blocks the next crawl.
    """
    due, arguments, key, shard = order.due, order.arguments, order.key, order.shard
    with writing(sessions) as session:
        if is_postgresql(session):
            # Joins take turns (SQLite's write lock does the same): two runs created at once would
            # each miss the other's uncommitted domains and both start.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _JOIN_LOCK})
        _close_dead_runs(session, now, lease)
        values = dict(started_at=now, status=RunStatus.RUNNING, arguments=arguments, cutoff=due.cutoff, counts={}, events={})
        if key is None:
            run_id = session.scalar(native_insert(session, Run).values(**values).returning(Run.id))
            created = True
        else:
            # Processes started together race here: the unique key lets exactly one insert, and the
            # others wait for its transaction (with the domains) to commit, then find the run.
            inserted = session.scalar(
                native_insert(session, Run).values(key=key, **values).on_conflict_do_nothing(index_elements=["key"]).returning(Run.id)
            )
            created = inserted is not None
            if created:
                run_id = inserted
            else:
                run = session.scalars(select(Run).where(Run.key == key).with_for_update()).one()
                _same_arguments(run, arguments)
                run_id, due = run.id, due.model_copy(update={"cutoff": run.cutoff})
                if run.status == RunStatus.INCOMPLETE:  # everyone had left with work remaining: resume it
                    run.status, run.finished_at, run.finish_reason = RunStatus.RUNNING, None, None
        if created:
            # A run of its own only ever holds its own shard's domains; a shared run holds them all.
            _materialize(session, run_id, due, shard if key is None else None)
            _refuse_overlap(session, run_id)
        worker_id = session.scalar(
            native_insert(session, RunWorker)
            .values(
                run_id=run_id, name=worker or worker_name(), started_at=now, heartbeat_at=now,
                status=RunStatus.RUNNING, counts={}, events={},
            )
            .returning(RunWorker.id)
        )
    return Ticket(run_id=run_id, worker_id=worker_id, due=due, shard=shard)


def _close_dead_runs(session: Session, now: datetime, lease: timedelta) -> None:
    """Runs still ``running`` none of whose processes is alive become ``interrupted``, ended now.

    A process is alive while it heartbeats within a lease, unless it ran on this host and its pid
    is gone (kill -9: the next crawl need not wait a lease to know)."""
    running = set(session.scalars(select(Run.id).where(Run.status == RunStatus.RUNNING)))
    if not running:
        return
    workers = session.execute(
        select(RunWorker.run_id, RunWorker.name, RunWorker.heartbeat_at).where(
            RunWorker.run_id.in_(running), RunWorker.status == RunStatus.RUNNING
        )
    ).all()
    alive = {w.run_id for w in workers if w.heartbeat_at >= now - lease and not _gone(w.name)}
    dead = running - alive
    if dead:
        session.execute(
            update(RunWorker)
            .where(RunWorker.run_id.in_(dead), RunWorker.status == RunStatus.RUNNING)
            .values(status=RunStatus.INTERRUPTED)
        )
        session.execute(
            update(Run).where(Run.id.in_(dead)).values(status=RunStatus.INTERRUPTED, finished_at=now, finish_reason="interrupted")
        )


def _gone(name: str) -> bool:
    """Whether the process named ``host:pid[ job ...]`` ran on this host and no longer exists."""
    host, _, rest = name.partition(":")
    pid = rest.split(" ", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


def _refuse_overlap(session: Session, run_id: int) -> None:
    mine, theirs = RunDomain.__table__.alias("mine"), RunDomain.__table__.alias("theirs")  # type: ignore[attr-defined]
    clash = session.execute(
        select(Run.id, Run.key, Run.started_at, theirs.c.domain)
        .join(theirs, theirs.c.run_id == Run.id)
        .join(mine, and_(mine.c.domain == theirs.c.domain, mine.c.run_id == run_id))
        .where(Run.id != run_id, Run.status == RunStatus.RUNNING, theirs.c.done_at.is_(None))
        .limit(1)
    ).first()
    if clash is None:
        return
    other = f"run {clash.id}" + (f" ({clash.key})" if clash.key else "")
    raise RunBusy(
        f"{other}, started {clash.started_at:%Y-%m-%d %H:%M:%S} UTC, is still checking some of the same "
        f"referring domains (e.g. {clash.domain}): wait for it to end, or give every crawl meant to "
        "share the work the same -a run=KEY"
    )


def _materialize(session: Session, run_id: int, due: DueFilter, shard: Shard | None) -> None:
    domains = session.scalars(
        due_backlinks(select(Backlink.domain), due).group_by(Backlink.domain).order_by(Backlink.domain)
    )
    rows: list[dict[str, Any]] = []
    for domain in domains:
        if shard is None or shard.holds(domain):
            rows.append({"run_id": run_id, "domain": domain, "bucket": bucket(domain)})
        if len(rows) >= _MATERIALIZE_CHUNK:
            session.execute(native_insert(session, RunDomain), rows)
            rows = []
    if rows:
        session.execute(native_insert(session, RunDomain), rows)


def _mine(ticket: Ticket, stmt: Select) -> Select:
    if ticket.shard is not None:
        stmt = stmt.where(RunDomain.bucket % ticket.shard.count == ticket.shard.index)
    return stmt


def claim(sessions: sessionmaker, ticket: Ticket, count: int, lease: timedelta, now: datetime) -> list[str]:
    """Take up to ``count`` domains of the run that are not done and that nobody holds (or whose
    holder's lease ran out); this process holds them until ``now + lease``, or longer if extended."""
    free = _mine(
        ticket,
        select(RunDomain.domain)
        .where(
            RunDomain.run_id == ticket.run_id,
            RunDomain.done_at.is_(None),
            or_(RunDomain.lease_until.is_(None), RunDomain.lease_until < now),
        )
        .order_by(RunDomain.domain)
        .limit(count)
        # Claimers skip each other's rows instead of queueing on them (PostgreSQL; SQLite has one
        # writer at a time anyway).
        .with_for_update(skip_locked=True),
    ).cte("free")  # a CTE runs once: as a plain subquery PostgreSQL may re-run it per row
    with writing(sessions) as session:
        claimed = session.scalars(
            update(RunDomain)
            .where(RunDomain.run_id == ticket.run_id, RunDomain.domain.in_(select(free.c.domain)))
            .values(owner=ticket.worker_id, lease_until=now + lease)
            .returning(RunDomain.domain)
        ).all()
    return sorted(claimed)


def others_pending(sessions: sessionmaker, ticket: Ticket) -> bool:
    """Whether some domain of the run (this process's shard) is neither done nor held by this process:
    another process is on it, or it will be claimable once a dead holder's lease runs out."""
    with sessions() as session:
        return session.scalar(
            _mine(
                ticket,
                select(RunDomain.domain).where(
                    RunDomain.run_id == ticket.run_id,
                    RunDomain.done_at.is_(None),
                    or_(RunDomain.owner.is_(None), RunDomain.owner != ticket.worker_id),
                ),
            )
            .limit(1)
            .exists()
            .select()
        )


def heartbeat(sessions: sessionmaker, ticket: Ticket, lease: timedelta, now: datetime) -> int:
    """Extend this process's leases, settle its finished domains; returns how many it still holds."""
    with writing(sessions) as session:
        _settle(session, ticket, now)
        held = session.execute(
            update(RunDomain)
            .where(RunDomain.run_id == ticket.run_id, RunDomain.owner == ticket.worker_id, RunDomain.done_at.is_(None))
            .values(lease_until=now + lease)
        ).rowcount
        session.execute(update(RunWorker).where(RunWorker.id == ticket.worker_id).values(heartbeat_at=now))
        # Keep the run record current while it runs, from the tallies the batches saved. A process
        # that finds another one doing it skips: the next beat will do.
        run = session.scalars(
            select(Run).where(Run.id == ticket.run_id, Run.status == RunStatus.RUNNING).with_for_update(skip_locked=True)
        ).one_or_none()
        if run is not None:
            rows = session.execute(select(RunWorker.counts, RunWorker.events).where(RunWorker.run_id == ticket.run_id)).all()
            row = sum_tallies((c, e) for c, e in rows).as_row()
            run.counts, run.events = {**row["counts"], "workers": len(rows)}, row["events"]
    return held


def settle(sessions: sessionmaker, ticket: Ticket, now: datetime) -> None:
    """After a batch is stored: mark done what it finished, so processes waiting on it move on."""
    with writing(sessions) as session:
        _settle(session, ticket, now)


def _settle(session: Session, ticket: Ticket, now: datetime) -> None:
    """Mark done the domains this process holds of which nothing is due any more."""
    still_due = due_backlinks(select(Backlink.id), ticket.due).where(Backlink.domain == RunDomain.domain).exists()
    session.execute(
        update(RunDomain)
        .where(
            RunDomain.run_id == ticket.run_id,
            RunDomain.owner == ticket.worker_id,
            RunDomain.done_at.is_(None),
            ~still_due,
        )
        .values(done_at=now)
    )


def leave(
    sessions: sessionmaker,
    ticket: Ticket,
    now: datetime,
    reason: str,
    tally: RunTally,
    policy: ChangePolicy,
    lease: timedelta,
) -> Departure:
    """This process is done: settle and release its domains, save its tally; the last one out closes
    the run (``finished`` if nothing is left to do, else ``incomplete``)."""
    with writing(sessions) as session:
        # Leaving processes queue on the run row, so exactly one of them sees itself as the last.
        run = session.scalars(select(Run).where(Run.id == ticket.run_id).with_for_update()).one()
        _settle(session, ticket, now)
        session.execute(
            update(RunDomain)
            .where(RunDomain.run_id == ticket.run_id, RunDomain.owner == ticket.worker_id, RunDomain.done_at.is_(None))
            .values(owner=None, lease_until=None)
        )
        alive = and_(
            RunWorker.run_id == ticket.run_id,
            RunWorker.id != ticket.worker_id,
            RunWorker.status == RunStatus.RUNNING,
        )
        others = session.scalar(select(func.count()).where(alive, RunWorker.heartbeat_at >= now - lease))
        remaining = session.scalar(
            select(func.count()).where(RunDomain.run_id == ticket.run_id, RunDomain.done_at.is_(None))
        )
        departure = Departure(status=RunStatus(run.status), last=not others)
        if not others:
            # Workers silent for a lease died without leaving; their tallies still count.
            session.execute(update(RunWorker).where(alive).values(status=RunStatus.INTERRUPTED))
            # Confirming a loss moves a count from missing_unconfirmed to lost: the share of
            # inconclusive results, judged first, is the same before and after.
            degraded = policy.degraded(_aggregate(session, ticket, tally)[0].statuses)
            confirmed = held_back = 0
            if degraded:
                held_back = _count_pending(session, ticket.run_id, policy)
            else:
                confirmed = _confirm_losses(session, ticket.run_id, policy, tally)
            combined, workers = _aggregate(session, ticket, tally)
            row = combined.as_row()
            run.counts = {**row["counts"], "workers": workers, "held_back": held_back}
            run.events = row["events"]
            run.degraded = degraded
            run.status = RunStatus.FINISHED if remaining == 0 else RunStatus.INCOMPLETE
            run.finished_at, run.finish_reason = now, reason
            departure = Departure(RunStatus(run.status), True, degraded, confirmed, held_back)
        session.execute(
            update(RunWorker)
            .where(RunWorker.id == ticket.worker_id)
            .values(status=RunStatus.FINISHED, finished_at=now, heartbeat_at=now, finish_reason=reason, **tally.as_row())
        )
    return departure


def _aggregate(session: Session, ticket: Ticket, mine: RunTally) -> tuple[RunTally, int]:
    """Every process's tally added up (this one's from memory: it may be ahead of its row)."""
    rows = session.execute(
        select(RunWorker.counts, RunWorker.events).where(
            RunWorker.run_id == ticket.run_id, RunWorker.id != ticket.worker_id
        )
    ).all()
    own = mine.as_row()
    return sum_tallies([*((c, e) for c, e in rows), (own["counts"], own["events"])]), len(rows) + 1


def sum_tallies(rows: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> RunTally:
    total = RunTally()
    for counts, events in rows:
        total.statuses.update(counts.get("status", {}))
        total.reasons.update(counts.get("reason", {}))
        total.events.update(events)
        total.errors += counts.get("errors", 0)
        total.not_stored += counts.get("not_stored", 0)
    # A confirmed loss moves a count between statuses, possibly across processes' tallies.
    return RunTally(+total.statuses, +total.reasons, +total.events, errors=total.errors, not_stored=total.not_stored)


def _pending(run_id: int, policy: ChangePolicy) -> Select:
    """States whose last check (in this run) counted a loss that is being held back."""
    return (
        select(State)
        .join(Check, Check.id == State.last_check_id)
        .where(
            Check.run_id == run_id,
            State.status == Status.MISSING_UNCONFIRMED.value,
            State.consecutive_misses >= policy.confirm_misses,
        )
    )


def _count_pending(session: Session, run_id: int, policy: ChangePolicy) -> int:
    return session.scalar(select(func.count()).select_from(_pending(run_id, policy).subquery()))


def _confirm_losses(session: Session, run_id: int, policy: ChangePolicy, tally: RunTally) -> int:
    """Move this healthy run's held-back losses to lost, with their events; ``tally`` takes them."""
    confirmed = 0
    # Rows locked in a stable order, as write_batch locks them: no deadlock with a crawl writing.
    pending = list(session.scalars(_pending(run_id, policy).order_by(State.backlink_id).with_for_update(of=State)))
    # The paid terms of those backlinks, in one read: a lost link still paid for is an event too.
    expiry: dict[int, date | None] = {}
    for part in batched([state.backlink_id for state in pending], 500):
        expiry.update(session.execute(select(Backlink.id, Backlink.expires_on).where(Backlink.id.in_(part))).all())
    for state in pending:
        previous = snapshot(state)
        assert previous is not None and policy.pending_loss(previous)
        lost, change = confirm_loss(previous)
        state.status, state.verdict, state.since = lost.status.value, lost.verdict.value, lost.since  # type: ignore[union-attr]
        assert state.last_check_id is not None
        # The loss was decided on the last check, which was stored already (and told whether the
        # term ended then): the term is judged at that check, with itself as the check before.
        term = term_changes(expiry[state.backlink_id], state.last_checked, state.last_checked, [change])
        for made in (change, *term):
            session.add(
                Event(
                    backlink_id=state.backlink_id, run_id=run_id, check_id=state.last_check_id,
                    kind=made.kind.value, before=made.before, after=made.after, at=state.last_checked,
                )
            )
            tally.events[made.kind.value] += 1
        tally.statuses[Status.MISSING_UNCONFIRMED.value] -= 1
        tally.statuses[Status.LOST.value] += 1
        if state.reason:
            tally.reasons[f"{Status.MISSING_UNCONFIRMED.value}/{state.reason}"] -= 1
            tally.reasons[f"{Status.LOST.value}/{state.reason}"] += 1
        confirmed += 1
    return confirmed

