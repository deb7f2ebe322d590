"""Shared runs on SQLite and PostgreSQL: joining, domain leases, settling, leaving, the degraded gate.

Times are passed in, so lease expiry is tested without waiting. The multi-process behaviour is in
tests/test_scaleout.py; here one process plays several workers through several tickets.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.demo.run import Demo, crawl
from crawler.cli.exitcode import ExitCode
from crawler.demo.site import SCENARIOS
from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn, LinkRecord, Observation, PageFacts
from crawler.core.outcome import Status
from pipelines import batches, runs
from crawler.core.changes import ChangePolicy
from pipelines.db import make_engine, make_sessionmaker
from pipelines.due import DueFilter, iter_due_pages
from pipelines.imports import import_rows
from pipelines.models import Backlink, Check, Event, Run, RunDomain, RunWorker, State

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
TARGET = "https://shop.example.com/"
HOLD = ChangePolicy(confirm_misses=2, hold_losses=True, degraded_share=0.5)


def _import(sessions, domains: int, pages_per_domain: int = 1) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ImportRow(line=n, backlink=BacklinkIn(referring_url=f"https://p{p}.site{d:03d}.test/post", target_url=TARGET))
        for n, (d, p) in enumerate(((d, p) for d in range(domains) for p in range(pages_per_domain)), start=2)
    ]
    assert import_rows(sessions, rows, T0 - timedelta(days=1)).committed


def _order(key: str | None = "night-1", shard: runs.Shard | None = None, **arguments: object) -> runs.WorkOrder:
    return runs.WorkOrder(DueFilter(cutoff=T0), {"all": True, **arguments}, key=key, shard=shard)


def _observation(backlink_id: int, status: Status, at: datetime, reason: str | None = None) -> Observation:
    live = status is Status.LIVE
    url = "https://p0.site000.test/post"
    return Observation(
        backlink_id=backlink_id, referring_url=url, target_url=TARGET, checked_at=at, status=status, reason=reason,
        page=PageFacts(url=url, final_url=url, http_status=200) if not status.inconclusive else None,
        links=[LinkRecord(href=TARGET, url=TARGET, tag="a", anchor="shop")] if live else [],
        follow=True if live else None,
    )


def _backlinks(sessions, domains: list[str] | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    stmt = select(Backlink.id).order_by(Backlink.id)
    if domains is not None:
        stmt = stmt.where(Backlink.domain.in_(domains))
    with sessions() as session:
        return list(session.scalars(stmt))


def _check_all(sessions, ticket: runs.Ticket, domains: list[str], status: Status, at: datetime,  # type: ignore[no-untyped-def]
               tally: batches.RunTally, reason: str | None = None, policy: ChangePolicy = HOLD) -> None:
    batch = [_observation(i, status, at, reason) for i in _backlinks(sessions, domains)]
    batches.write_batch(sessions, ticket.run_id, batch, policy, tally)


def test_first_process_creates_the_run_and_its_due_domains(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 5, pages_per_domain=2)
    ticket = runs.join_run(sessions, _order(), T0, worker="a")
    with sessions() as session:
        run = session.get(Run, ticket.run_id)
        assert (run.key, run.status, run.cutoff, run.arguments) == ("night-1", "running", T0, {"all": True})
        domains = {d.domain: d for d in session.scalars(select(RunDomain))}
    assert sorted(domains) == [f"site{d:03d}.test" for d in range(5)]
    assert all(d.bucket == zlib.crc32(name.encode()) and d.owner is None for name, d in domains.items())


def test_processes_with_the_same_key_share_one_run_and_its_cutoff(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 3)
    first = runs.join_run(sessions, _order(), T0, worker="a")
    later = T0 + timedelta(minutes=3)
    second = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=later), {"all": True}, key="night-1"), later, worker="b")
    assert second.run_id == first.run_id and second.worker_id != first.worker_id
    assert second.due.cutoff == T0  # the run's, so both processes see the same due backlinks
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1
        assert session.scalar(select(func.count()).select_from(RunDomain)) == 3
    with pytest.raises(runs.RunMismatch, match="same arguments"):
        runs.join_run(sessions, _order(tag="client-a"), later)
    # Per-process arguments may differ.
    runs.join_run(sessions, _order(limit=10, render="never"), later)


def test_a_second_run_on_the_same_domains_is_refused_while_the_first_works(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 2)
    first = runs.join_run(sessions, _order(None), T0, worker="a")
    with pytest.raises(runs.RunBusy, match=r"run 1, started 2026-11-20 02:00:00 UTC, is still checking .* -a run=KEY"):
        runs.join_run(sessions, _order(None), T0 + timedelta(seconds=1), worker="b")
    with sessions() as session:  # the refused run left nothing behind
        assert session.scalar(select(func.count()).select_from(Run)) == 1
    # Static shards of the same count hold disjoint domains: they run side by side.
    _import(sessions, 20)
    runs.leave(sessions, first, T0, "finished", batches.RunTally(), HOLD, LEASE)
    zero = runs.join_run(sessions, _order(None, runs.Shard(0, 2)), T0 + timedelta(seconds=2), worker="c")
    one = runs.join_run(sessions, _order(None, runs.Shard(1, 2)), T0 + timedelta(seconds=2), worker="d")
    assert zero.run_id != one.run_id
    # Once the first has left, runs one after the other (even seconds apart) start as before.
    for ticket in (zero, one):
        runs.leave(sessions, ticket, T0 + timedelta(seconds=3), "finished", batches.RunTally(), HOLD, LEASE)
    runs.join_run(sessions, _order(None), T0 + timedelta(seconds=4), worker="e")


@pytest.mark.parametrize("death", ["pid_gone", "lease_expired"])
def test_a_run_whose_processes_are_dead_is_closed_and_does_not_block(sessions, death: str) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 2)
    if death == "pid_gone":  # killed on this host: known at once
        worker, later = f"{socket.gethostname()}:{_dead_pid()}", T0 + timedelta(seconds=5)
    else:  # another host: presumed dead once silent for a lease
        worker, later = "elsewhere:1", T0 + LEASE + timedelta(seconds=1)
    dead = runs.join_run(sessions, _order(None), T0, worker=worker)
    runs.join_run(sessions, _order(None), later, worker="next")
    with sessions() as session:
        run = session.get(Run, dead.run_id)
        assert (run.status, run.finished_at) == ("interrupted", later)
        assert session.get(RunWorker, dead.worker_id).status == "interrupted"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _miss(sessions, ticket: runs.Ticket, at: datetime) -> Status:  # type: ignore[no-untyped-def]
    [(_obs, state, _changes)] = batches.write_batch(
        sessions, ticket.run_id, [_observation(1, Status.MISSING_UNCONFIRMED, at, "link_removed")],
        ChangePolicy(confirm_misses=2), batches.RunTally(worker_id=ticket.worker_id),
    )
    return state.status


def test_misses_from_runs_that_overlap_in_time_confirm_no_loss(sessions) -> None:  # type: ignore[no-untyped-def]
    """Run a has checked the page and is finishing elsewhere when run b starts and misses the link
    0.8 s after a did: one moment's evidence, not two nights'. A run after both ended confirms."""
    _import(sessions, 1)

    def start(at: datetime, worker: str) -> runs.Ticket:
        ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=at), {"all": True}), at, worker=worker)
        runs.claim(sessions, ticket, 10, LEASE, at)
        return ticket

    def done(ticket: runs.Ticket, at: datetime) -> None:
        runs.leave(sessions, ticket, at, "finished", batches.RunTally(), HOLD, LEASE)

    a = start(T0, "a")
    assert _miss(sessions, a, T0 + timedelta(seconds=1)) is Status.MISSING_UNCONFIRMED
    runs.settle(sessions, a, T0 + timedelta(seconds=1))  # its domain is done: b may start
    b = start(T0 + timedelta(seconds=1, milliseconds=500), "b")
    assert _miss(sessions, b, T0 + timedelta(seconds=1, milliseconds=800)) is Status.MISSING_UNCONFIRMED
    with sessions() as session:
        assert session.get(State, 1).consecutive_misses == 1
    done(a, T0 + timedelta(seconds=2))
    done(b, T0 + timedelta(seconds=2))
    c = start(T0 + timedelta(seconds=3), "c")
    assert _miss(sessions, c, T0 + timedelta(seconds=4)) is Status.LOST


def test_runs_one_after_the_other_confirm_as_before(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 1)
    first = runs.join_run(sessions, _order(None), T0, worker="a")
    assert _miss(sessions, first, T0 + timedelta(seconds=1)) is Status.MISSING_UNCONFIRMED
    runs.leave(sessions, first, T0 + timedelta(seconds=2), "finished", batches.RunTally(), HOLD, LEASE)
    second = runs.join_run(sessions, _order(None), T0 + timedelta(seconds=2, milliseconds=1), worker="b")
    assert _miss(sessions, second, T0 + timedelta(seconds=3)) is Status.LOST


def test_claims_are_disjoint_and_expire(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 7)
    a = runs.join_run(sessions, _order(), T0, worker="a")
    b = runs.join_run(sessions, _order(), T0, worker="b")
    got_a = runs.claim(sessions, a, 3, LEASE, T0)
    got_b = runs.claim(sessions, b, 3, LEASE, T0)
    rest_b = runs.claim(sessions, b, 3, LEASE, T0)
    assert len(got_a) == len(got_b) == 3 and len(rest_b) == 1
    assert not set(got_a) & set(got_b + rest_b)
    assert runs.claim(sessions, b, 3, LEASE, T0 + timedelta(minutes=1)) == []
    assert runs.others_pending(sessions, b)  # a holds some: b must wait, a may die
    # Both extend their leases; later b still gets nothing. a falls silent: once its lease ends,
    # b takes its domains.
    assert runs.heartbeat(sessions, a, LEASE, T0 + timedelta(minutes=4)) == 3
    assert runs.heartbeat(sessions, b, LEASE, T0 + timedelta(minutes=4)) == 4
    assert runs.claim(sessions, b, 10, LEASE, T0 + timedelta(minutes=6)) == []
    assert runs.heartbeat(sessions, b, LEASE, T0 + timedelta(minutes=8)) == 4
    assert runs.claim(sessions, b, 10, LEASE, T0 + timedelta(minutes=10)) == got_a


def test_static_shards_split_by_crc32(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 20)
    claimed, tickets = {}, []
    for index in range(3):
        tickets.append(ticket := runs.join_run(sessions, _order(shard=runs.Shard(index, 3)), T0))
        claimed[index] = runs.claim(sessions, ticket, 100, LEASE, T0)
    assert sorted(d for ds in claimed.values() for d in ds) == [f"site{d:03d}.test" for d in range(20)]
    for index, domains in claimed.items():
        assert all(zlib.crc32(d.encode()) % 3 == index for d in domains)
    for ticket in tickets:
        runs.leave(sessions, ticket, T0, "finished", batches.RunTally(), HOLD, LEASE)
    # A run of its own holds only its shard's domains.
    solo = runs.join_run(sessions, _order(None, shard=runs.Shard(1, 3)), T0)
    with sessions() as session:
        mine = session.scalars(select(RunDomain.domain).where(RunDomain.run_id == solo.run_id)).all()
    assert sorted(mine) == claimed[1]


def test_a_domain_is_done_when_nothing_of_it_is_due(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 2, pages_per_domain=2)
    ticket = runs.join_run(sessions, _order(), T0)
    domains = runs.claim(sessions, ticket, 1, LEASE, T0)
    ids = _backlinks(sessions, domains)
    now = T0 + timedelta(minutes=1)
    tally = batches.RunTally(worker_id=ticket.worker_id)
    batches.write_batch(sessions, ticket.run_id, [_observation(ids[0], Status.LIVE, now)], HOLD, tally)
    runs.heartbeat(sessions, ticket, LEASE, now)
    with sessions() as session:
        assert session.scalar(select(RunDomain.done_at).where(RunDomain.domain == domains[0])) is None
    # A claimed domain yields only what is still due: here the one page not stored yet.
    pages = [p for chunk in iter_due_pages(sessions, ticket.due.model_copy(update={"domains": tuple(domains)}), 10) for p in chunk]
    assert [b.id for p in pages for b in p.backlinks] == [ids[1]]
    batches.write_batch(sessions, ticket.run_id, [_observation(ids[1], Status.LIVE, now)], HOLD, tally)
    runs.heartbeat(sessions, ticket, LEASE, now)
    with sessions() as session:
        assert session.scalar(select(RunDomain.done_at).where(RunDomain.domain == domains[0])) == now
        worker = session.get(RunWorker, ticket.worker_id)
        assert worker.counts["checked"] == 2  # each batch saved the tally on the process's row
        run = session.get(Run, ticket.run_id)
        assert run.counts["checked"] == 2 and run.status == "running"  # kept current by heartbeats


def test_last_process_out_closes_the_run(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 4)
    a = runs.join_run(sessions, _order(), T0, worker="a")
    b = runs.join_run(sessions, _order(), T0, worker="b")
    tallies = {a: batches.RunTally(worker_id=a.worker_id), b: batches.RunTally(worker_id=b.worker_id)}
    now = T0 + timedelta(minutes=1)
    for ticket in (a, b):
        _check_all(sessions, ticket, runs.claim(sessions, ticket, 2, LEASE, T0), Status.LIVE, now, tallies[ticket])
    first = runs.leave(sessions, a, now, "finished", tallies[a], HOLD, LEASE)
    assert (first.last, first.status) == (False, "running")
    second = runs.leave(sessions, b, now, "finished", tallies[b], HOLD, LEASE)
    assert (second.last, second.status, second.degraded) == (True, "finished", False)
    with sessions() as session:
        run = session.get(Run, a.run_id)
        assert (run.status, run.finished_at, run.finish_reason) == ("finished", now, "finished")
        assert run.counts["checked"] == 4 and run.counts["status"] == {"live": 4} and run.counts["workers"] == 2
        assert run.events == {"first_seen": 4}
        assert {w.status for w in session.scalars(select(RunWorker))} == {"finished"}


def test_a_dead_process_is_replaced_and_marked_interrupted(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 4)
    dead = runs.join_run(sessions, _order(), T0, worker="dead")
    alive = runs.join_run(sessions, _order(), T0, worker="alive")
    dead_tally, tally = batches.RunTally(worker_id=dead.worker_id), batches.RunTally(worker_id=alive.worker_id)
    held = runs.claim(sessions, dead, 2, LEASE, T0)
    # It stored one domain, then died without a word.
    _check_all(sessions, dead, held[:1], Status.LIVE, T0 + timedelta(seconds=30), dead_tally)
    _check_all(sessions, alive, runs.claim(sessions, alive, 10, LEASE, T0), Status.LIVE, T0, tally)
    later = T0 + LEASE + timedelta(seconds=1)
    runs.heartbeat(sessions, alive, LEASE, later)  # settles what it stored, keeps the rest
    taken = runs.claim(sessions, alive, 10, LEASE, later)
    assert taken == held  # both: the stored one is merely not settled yet
    pages = [p for chunk in iter_due_pages(sessions, alive.due.model_copy(update={"domains": tuple(taken)}), 10) for p in chunk]
    assert [p.domain for p in pages] == held[1:]  # what the dead process stored is not checked again
    _check_all(sessions, alive, held[1:], Status.LIVE, later, tally)
    departure = runs.leave(sessions, alive, later, "finished", tally, HOLD, LEASE)
    assert (departure.last, departure.status) == (True, "finished")
    with sessions() as session:
        assert session.get(RunWorker, dead.worker_id).status == "interrupted"
        assert session.get(Run, dead.run_id).counts["checked"] == 4  # the dead one's committed work counts
        per_backlink = session.execute(select(Check.backlink_id, func.count()).group_by(Check.backlink_id)).all()
    assert len(per_backlink) == 4 and {n for _, n in per_backlink} == {1}


def test_leaving_with_work_left_is_incomplete_and_a_rejoin_resumes(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 3)
    ticket = runs.join_run(sessions, _order(), T0)
    tally = batches.RunTally(worker_id=ticket.worker_id)
    _check_all(sessions, ticket, runs.claim(sessions, ticket, 1, LEASE, T0), Status.LIVE, T0, tally)
    assert runs.leave(sessions, ticket, T0, "closespider_itemcount", tally, HOLD, LEASE).status == "incomplete"
    again = runs.join_run(sessions, _order(), T0 + timedelta(hours=1))
    assert again.run_id == ticket.run_id
    # The released domains are claimable at once; the done one is not.
    assert len(runs.claim(sessions, again, 10, LEASE, T0 + timedelta(hours=1))) == 2
    with sessions() as session:
        assert session.get(Run, ticket.run_id).status == "running"


def _losses(sessions) -> tuple[Counter[str], int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        statuses = Counter(session.scalars(select(State.status)))
        return statuses, session.scalar(select(func.count()).where(Event.kind == "lost"))


def _night(sessions, key: str, at: datetime, misses: int, outages: int, policy: ChangePolicy = HOLD) -> runs.Departure:  # type: ignore[no-untyped-def]
    """One single-process night: the first ``misses`` backlinks miss, the next ``outages`` time out."""
    ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=at), {"all": True}, key=key), at)
    tally = batches.RunTally(worker_id=ticket.worker_id)
    ids = _backlinks(sessions)
    batch = [
        _observation(i, Status.MISSING_UNCONFIRMED, at, "link_removed") if n < misses
        else _observation(i, Status.TIMEOUT, at, "timeout") if n < misses + outages
        else _observation(i, Status.LIVE, at)
        for n, i in enumerate(ids)
    ]
    for start in range(0, len(batch), 3):  # several batches, as a crawl writes them
        batches.write_batch(sessions, ticket.run_id, batch[start:start + 3], policy, tally)
    runs.claim(sessions, ticket, 100, LEASE, at)
    return runs.leave(sessions, ticket, at, "finished", tally, policy, LEASE)


def test_a_healthy_run_confirms_its_held_back_losses_at_the_end(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 10)
    _night(sessions, "n1", T0, misses=3, outages=0)
    assert _losses(sessions) == (Counter({"missing_unconfirmed": 3, "live": 7}), 0)
    departure = _night(sessions, "n2", T0 + timedelta(days=1), misses=3, outages=2)
    assert (departure.degraded, departure.confirmed_losses) == (False, 3)
    assert _losses(sessions) == (Counter({"lost": 3, "live": 5, "timeout": 2}), 3)
    with sessions() as session:
        run = session.scalars(select(Run).where(Run.key == "n2")).one()
        assert run.counts["status"] == {"lost": 3, "live": 5, "timeout": 2} and run.events["lost"] == 3
        event = session.scalars(select(Event).where(Event.kind == "lost")).first()
        state = session.get(State, event.backlink_id)
        assert (event.run_id, event.check_id, event.at) == (run.id, state.last_check_id, T0 + timedelta(days=1))
        assert (event.before, event.after) == ("missing_unconfirmed (link_removed)", "link_removed")
        assert (state.verdict, state.since, state.consecutive_misses) == ("lost", T0 + timedelta(days=1), 2)


def test_a_degraded_run_moves_nothing_to_lost(sessions) -> None:  # type: ignore[no-untyped-def]
    _import(sessions, 10)
    _night(sessions, "n1", T0, misses=3, outages=0)
    # An outage: 6 of 10 inconclusive, and the 3 removed links missed a second time meanwhile.
    departure = _night(sessions, "n2", T0 + timedelta(days=1), misses=3, outages=6)
    assert (departure.degraded, departure.confirmed_losses, departure.held_back) == (True, 0, 3)
    statuses, lost_events = _losses(sessions)
    assert statuses["lost"] == 0 and lost_events == 0
    with sessions() as session:
        run = session.scalars(select(Run).where(Run.key == "n2")).one()
        assert run.degraded and run.status == "finished" and run.counts["held_back"] == 3
        assert "lost" not in run.counts["status"] and "lost" not in run.events
        assert session.scalar(select(func.count()).where(Check.status == "lost")) == 0
    # The misses still count: the next healthy night that misses them again confirms the losses.
    departure = _night(sessions, "n3", T0 + timedelta(days=2), misses=3, outages=0)
    assert departure.confirmed_losses == 3 and _losses(sessions)[0]["lost"] == 3


@pytest.mark.parametrize(("inconclusive", "checked", "share", "degraded"), [
    (0, 0, 0.5, False), (5, 10, 0.5, False), (6, 10, 0.5, True), (1, 10, 0.05, True), (10, 10, 1.0, False),
])
def test_degraded_share(inconclusive: int, checked: int, share: float, degraded: bool) -> None:
    statuses = {"timeout": inconclusive, "live": checked - inconclusive} if checked else {}
    assert ChangePolicy(degraded_share=share).degraded(statuses) is degraded


@pytest.mark.postgres
def test_concurrent_batches_lose_nothing_and_never_deadlock(empty_postgres) -> None:  # type: ignore[no-untyped-def]
    """Eight writers hammer the same backlinks in clashing orders: every check lands, each backlink's
    misses are counted exactly (no lost update), one first state row, one lost event each."""
    url = empty_postgres()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    _import(sessions, 40)
    ids = _backlinks(sessions)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        order = ids if n % 2 else list(reversed(ids))
        try:
            for step in range(3):
                at = T0 + timedelta(minutes=n * 10 + step)
                batch = [_observation(i, Status.MISSING_UNCONFIRMED, at, "link_removed") for i in order]
                batches.write_batch(sessions, None, batch, ChangePolicy(confirm_misses=2))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Check)) == 8 * 3 * len(ids)
        assert set(session.scalars(select(State.consecutive_misses))) == {8 * 3}
        assert session.scalar(select(func.count()).select_from(State)) == len(ids)
        lost = session.execute(select(Event.backlink_id, func.count()).where(Event.kind == "lost").group_by(Event.backlink_id)).all()
    assert len(lost) == len(ids) and {n for _, n in lost} == {1}
    engine.dispose()


def test_a_degraded_crawl_moves_nothing_to_lost(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The whole path, for real: the demo web's second night crawled with a gate the demo exceeds
    (a third of its results are inconclusive by design) stores its losses as pending only."""
    demo = Demo.prepare(tmp_path)
    try:
        demo.night(1, cwd=tmp_path)
        demo.site.night = 2
        result = crawl(demo.database_url, ["all=1"], settings={"BACKLINKS_DEGRADED_SHARE": "0.2"}, cwd=tmp_path,
                       log_level="INFO")
        assert result.returncode == ExitCode.DEGRADED, result.stderr[-3000:]  # cron hears of it
    finally:
        demo.site.stop()
    assert "is degraded" in result.stderr
    engine = make_engine(demo.database_url)
    sessions = make_sessionmaker(engine)
    statuses, lost_events = _losses(sessions)
    with sessions() as session:
        run = session.scalars(select(Run).order_by(Run.id.desc())).first()
    engine.dispose()
    would_be_lost = sum(1 for s in SCENARIOS if s.expect[1] == "lost")
    assert would_be_lost and statuses["lost"] == 0 and lost_events == 0
    assert run.degraded and run.counts["held_back"] == would_be_lost
    status = CliRunner().invoke(app, ["--database", demo.database_url, "status"])
    assert f"degraded: {would_be_lost} losses held back" in status.output


def test_sum_tallies_adds_every_process_including_errors() -> None:
    first = ({"checked": 3, "status": {"live": 2, "lost": 1}, "reason": {"lost/link_removed": 1}, "errors": 2},
             {"first_seen": 2})
    second = ({"checked": 1, "status": {"live": 1}, "reason": {}, "errors": 1, "not_stored": 4}, {"lost": 1})
    older = ({"checked": 1, "status": {"timeout": 1}, "reason": {"timeout/timeout": 1}}, {})  # before errors existed
    total = runs.sum_tallies([first, second, older]).as_row()
    assert total == {
        "counts": {"checked": 5, "status": {"live": 3, "lost": 1, "timeout": 1},
                   "reason": {"lost/link_removed": 1, "timeout/timeout": 1}, "errors": 3, "not_stored": 4},
        "events": {"first_seen": 2, "lost": 1},
    }
