"""Storage on SQLite and PostgreSQL: imports, due pages, batches, transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn, LinkRecord, MatchMode, Observation, PageFacts
from crawler.core.outcome import Status
from crawler.core import changes as changes_module
from pipelines import batches, runs
from crawler.core.changes import ChangePolicy
from pipelines.due import DueFilter, due_chunk, iter_due_pages
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean, import_rows
from pipelines.models import Backlink, Check, Event, Run, State, Tag

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def rows(*specs: tuple[str, str], tags: list[str] | None = None, anchor: str | None = None) -> list[ImportRow]:
    return [
        ImportRow(line=i + 2, backlink=BacklinkIn(referring_url=r, target_url=t, tags=tags or [], expected_anchor=anchor))
        for i, (r, t) in enumerate(specs)
    ]


PAIRS = [
    ("https://a.example.org/post", "https://shop.example.com/"),
    ("https://a.example.org/post", "https://shop.example.com/widget"),
    ("https://b.example.net/list", "https://shop.example.com/"),
    ("https://c.example.net/", "https://shop.example.com/"),
]


def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_import_is_idempotent(sessions) -> None:  # type: ignore[no-untyped-def]
    first = import_rows(sessions, rows(*PAIRS, tags=["client"]), NOW)
    assert (first.added, first.updated, first.unchanged, first.committed) == (4, 0, 0, True)
    again = import_rows(sessions, rows(*PAIRS, tags=["client"]), NOW + timedelta(hours=1))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    assert count(sessions, Backlink) == 4
    assert count(sessions, Tag) == 4
    with sessions() as session:
        assert {b.updated_at for b in session.scalars(select(Backlink))} == {NOW}


def test_import_spelling_variants_are_one_backlink(sessions) -> None:  # type: ignore[no-untyped-def]
    report = import_rows(sessions, rows(
        ("https://A.example.org/post#top", "https://shop.example.com"),
        ("https://a.example.org:443/post", "https://shop.example.com/"),
    ), NOW)
    assert (report.added, report.duplicates) == (1, 1)


def test_import_updates_changed_rows_and_adds_tags(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(PAIRS[0], tags=["a"]), NOW)
    report = import_rows(sessions, rows(PAIRS[0], tags=["b"], anchor="Best shop"), NOW + timedelta(minutes=1))
    assert (report.added, report.updated) == (0, 1)
    with sessions() as session:
        backlink = session.scalars(select(Backlink)).one()
        assert backlink.expected_anchor == "Best shop"
        assert sorted(t.tag for t in backlink.tags) == ["a", "b"]


def test_bad_rows_are_reported_and_good_rows_kept(sessions) -> None:  # type: ignore[no-untyped-def]
    mixed = [*rows(PAIRS[0]), ImportRow(line=9, error="referring_url: unsupported scheme 'ftp'"), *rows(PAIRS[2])]
    report = import_rows(sessions, mixed, NOW)
    assert report.added == 2 and report.errors == [(9, "referring_url: unsupported scheme 'ftp'")]
    assert count(sessions, Backlink) == 2


@pytest.mark.parametrize("mode", ["strict", "dry_run"])
def test_strict_and_dry_run_write_nothing(sessions, mode: str) -> None:  # type: ignore[no-untyped-def]
    mixed = [*rows(*PAIRS), ImportRow(line=7, error="missing target_url")]
    report = import_rows(sessions, mixed, NOW, **{mode: True})
    assert report.added == 4 and not report.committed
    assert count(sessions, Backlink) == 0


def test_large_import_in_batches(sessions) -> None:  # type: ignore[no-untyped-def]
    many = rows(*((f"https://site{i}.example.org/p", "https://shop.example.com/") for i in range(2500)))
    # The same rows again, batches apart: duplicates of the file, not updates.
    report = import_rows(sessions, many + many[:1200], NOW)
    assert (report.added, report.duplicates, report.updated, report.unchanged) == (2500, 1200, 0, 0)
    assert count(sessions, Backlink) == 2500


def _due(sessions, **kw) -> list:  # type: ignore[no-untyped-def]
    due = DueFilter(cutoff=kw.pop("cutoff", NOW), **kw)
    return [page for chunk in iter_due_pages(sessions, due, kw.pop("size", 100)) for page in chunk]


def test_due_pages_group_backlinks_by_referring_page(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(*PAIRS), NOW)
    pages = _due(sessions)
    assert [(p.url, len(p.backlinks)) for p in pages] == [
        ("https://a.example.org/post", 2), ("https://b.example.net/list", 1), ("https://c.example.net/", 1),
    ]
    assert pages[0].domain == "example.org"
    assert {b.target_url for b in pages[0].backlinks} == {PAIRS[0][1], PAIRS[1][1]}


def test_due_chunks_cover_every_page_once(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(*((f"https://s{i:02d}.example.org/", "https://shop.example.com/") for i in range(23))), NOW)
    due = DueFilter(cutoff=NOW)
    chunks = list(iter_due_pages(sessions, due, 5))
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    urls = [p.url for c in chunks for p in c]
    assert len(urls) == len(set(urls)) == 23


def _observe(backlink_id: int, status: Status, at: datetime, reason: str | None = None) -> Observation:
    live = status is Status.LIVE
    return Observation(
        backlink_id=backlink_id, referring_url="https://a.example.org/post", target_url="https://shop.example.com/",
        checked_at=at, status=status, reason=reason,
        page=PageFacts(url="https://a.example.org/post", final_url="https://a.example.org/post", http_status=200),
        links=[LinkRecord(href="/", url="https://shop.example.com/", tag="a", anchor="shop")] if live else [],
        follow=True if live else None,
    )


def _ids(sessions) -> list[int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(Backlink.id).order_by(Backlink.id)))


def test_write_batch_appends_checks_and_derives_state(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(*PAIRS), NOW)
    ids = _ids(sessions)
    lease = timedelta(minutes=5)
    first = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=NOW), {"all": True}), NOW)
    tally = batches.RunTally(worker_id=first.worker_id)
    night1 = [_observe(ids[0], Status.LIVE, NOW), _observe(ids[1], Status.MISSING_UNCONFIRMED, NOW, "link_removed"),
              _observe(ids[2], Status.TIMEOUT, NOW, "timeout")]
    batches.write_batch(sessions, first.run_id, night1, ChangePolicy(), tally)
    runs.leave(sessions, first, NOW + timedelta(hours=1), "finished", tally, ChangePolicy(), lease)
    later = NOW + timedelta(days=1)
    second = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=later), {"all": True}), later)
    run_id = second.run_id
    tally = batches.RunTally(worker_id=second.worker_id)
    night2 = [_observe(ids[0], Status.LIVE, later), _observe(ids[1], Status.MISSING_UNCONFIRMED, later, "link_removed")]
    results = batches.write_batch(sessions, run_id, night2, ChangePolicy(), tally)
    assert [s.status for _, s, _ in results] == [Status.LIVE, Status.LOST]
    runs.leave(sessions, second, later, "finished", tally, ChangePolicy(), lease)

    assert count(sessions, Check) == 5
    with sessions() as session:
        states = {s.backlink_id: s for s in session.scalars(select(State))}
        assert states[ids[0]].status == "live" and states[ids[0]].first_seen == NOW and states[ids[0]].last_seen == later
        assert states[ids[1]].status == "lost" and states[ids[1]].consecutive_misses == 2
        assert states[ids[1]].miss_run_id == run_id
        assert states[ids[2]].status == "timeout" and states[ids[2]].verdict is None
        assert ids[3] not in states
        last = session.get(Check, states[ids[1]].last_check_id)
        assert (last.observed, last.status, last.reason) == ("missing_unconfirmed", "lost", "link_removed")
        events = [(e.backlink_id, e.kind, e.after, e.check_id is not None) for e in session.scalars(select(Event).order_by(Event.id))]
        assert events == [(ids[0], "first_seen", "shop", True), (ids[1], "lost", "link_removed", True)]
        run = session.get(Run, run_id)
        # Closed, but not "finished": ids[2] and ids[3] were not checked, so their referring domains are still due.
        assert run.status == "incomplete" and run.finished_at == later
        assert run.counts == {"checked": 2, "status": {"live": 1, "lost": 1}, "reason": {"lost/link_removed": 1},
                              "errors": 0, "not_stored": 0, "workers": 1, "held_back": 0}
        assert run.events == {"lost": 1}
        assert session.get(Run, first.run_id).counts["checked"] == 3


def test_a_failing_batch_leaves_nothing_behind(sessions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(*PAIRS), NOW)
    ids = _ids(sessions)
    real = changes_module.detect
    calls = []

    def flaky(previous, observation, policy=ChangePolicy(), **context):  # type: ignore[no-untyped-def]
        calls.append(observation.backlink_id)
        if len(calls) == 3:
            raise RuntimeError("crash in the middle of a batch")
        return real(previous, observation, policy, **context)

    monkeypatch.setattr(batches, "detect", flaky)
    tally = batches.RunTally()
    with pytest.raises(RuntimeError):
        batches.write_batch(sessions, None, [_observe(i, Status.LIVE, NOW) for i in ids], ChangePolicy(), tally)
    assert count(sessions, Check) == count(sessions, State) == count(sessions, Event) == 0
    assert tally.statuses == {}
    # Still due, so the next run checks them.
    assert len(_due(sessions)) == 3


def test_checked_backlinks_are_no_longer_due(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(*PAIRS), NOW)
    ids = _ids(sessions)
    batches.write_batch(sessions, None, [_observe(ids[0], Status.LIVE, NOW), _observe(ids[1], Status.LIVE, NOW)], ChangePolicy())
    due_urls = [p.url for p in _due(sessions, cutoff=NOW - timedelta(hours=20))]
    assert due_urls == ["https://b.example.net/list", "https://c.example.net/"]
    # Re-checking everything now (`-a all=1`) takes the cutoff to the run's start.
    assert len(_due(sessions, cutoff=NOW + timedelta(seconds=1))) == 3


def test_due_filters_tag_and_status(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(PAIRS[0], PAIRS[2], tags=["client-a"]), NOW)
    import_rows(sessions, rows(PAIRS[3], tags=["client-b"]), NOW)
    ids = _ids(sessions)
    earlier = NOW - timedelta(days=2)
    batches.write_batch(sessions, None, [_observe(ids[0], Status.LIVE, earlier),
                                       _observe(ids[1], Status.TIMEOUT, earlier, "timeout")], ChangePolicy())
    assert [p.url for p in _due(sessions, tag="client-b")] == ["https://c.example.net/"]
    assert [p.url for p in _due(sessions, only=("timeout",))] == ["https://b.example.net/list"]
    assert [p.url for p in _due(sessions, only=("unchecked",))] == ["https://c.example.net/"]
    assert [p.url for p in _due(sessions, only=("live", "unchecked"), tag="client-a")] == ["https://a.example.org/post"]


def test_observation_for_a_deleted_backlink_is_dropped(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(*PAIRS), NOW)
    ids = _ids(sessions)
    with sessions.begin() as session:
        session.execute(delete(Backlink).where(Backlink.id == ids[0]))
    results = batches.write_batch(sessions, None, [_observe(ids[0], Status.LIVE, NOW), _observe(ids[1], Status.LIVE, NOW)], ChangePolicy())
    assert [obs.backlink_id for obs, _, _ in results] == [ids[1]]


def test_due_chunk_respects_after_key(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, rows(*PAIRS), NOW)
    with sessions() as session:
        pages = due_chunk(session, DueFilter(cutoff=NOW), after="https://a.example.org/post", size=10)
    assert [p.url for p in pages] == ["https://b.example.net/list", "https://c.example.net/"]
    assert pages[0].backlinks[0].match is MatchMode.EXACT


def test_import_clean_creates_the_schema_and_refuses_a_bad_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    good = tmp_path / "good.csv"
    good.write_text("referring_url,target_url\nhttps://a.example/p,https://me.example/\n")
    assert import_clean(url, good).added == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("referring_url,target_url\nhttps://b.example/p,https://me.example/\nftp://c.example/,https://me.example/\n")
    with pytest.raises(ValueError, match="did not import cleanly"):
        import_clean(url, bad)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        assert session.scalars(select(Backlink.referring_url)).all() == ["https://a.example/p"]
    engine.dispose()
