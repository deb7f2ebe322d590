"""How an import is applied, on SQLite and PostgreSQL: first row wins however far apart its
duplicates are, reading the file locks nothing, and two imports at once take turns."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn, Observation
from crawler.core.outcome import Status
from pipelines import batches
from crawler.core.changes import ChangePolicy
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import BATCH, import_rows
from pipelines.models import Backlink, Check

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
TARGET = "https://shop.example.com/"


def _row(line: int, page: int, anchor: str | None = None) -> ImportRow:
    return ImportRow(line=line, backlink=BacklinkIn(referring_url=f"https://site{page}.example.org/post",
                                                    target_url=TARGET, expected_anchor=anchor))


def _anchors(sessions) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return {b.referring_url: b.expected_anchor for b in session.scalars(select(Backlink))}


def test_duplicates_far_apart_first_row_wins(sessions) -> None:  # type: ignore[no-untyped-def]
    import_rows(sessions, [_row(2, 0, "before")], NOW)
    filler = [_row(line, line) for line in range(3, 3 + 2 * BATCH)]
    rows = [_row(2, 0, "first"), *filler, _row(3 + 2 * BATCH, 0, "last")]
    report = import_rows(sessions, rows, NOW + timedelta(hours=1))
    assert (report.duplicates, report.updated, report.added) == (1, 1, 2 * BATCH)
    assert _anchors(sessions)["https://site0.example.org/post"] == "first"


def test_reading_the_file_locks_nothing(db_url: str) -> None:
    """While the rows are read and checked, a crawl's batch is stored at once (on SQLite the import
    used to hold the write lock from its first thousand rows to its commit)."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    import_rows(sessions, [_row(2, 0)], NOW)
    [backlink_id] = _ids(sessions)
    other = make_engine(db_url, busy_timeout=0.2)
    impatient = make_sessionmaker(other)
    stored: list[int] = []

    def rows() -> Iterator[ImportRow]:
        for line in range(3, 3 + 3 * BATCH):
            if line == 3 + 2 * BATCH:  # two batches read: a crawl writes meanwhile
                patience = batches.Patience(first=0.05, grace=0.0)
                patience.closing()  # no waiting: the write must get through at once
                done = batches.store_batch(impatient, None, [Observation(
                    backlink_id=backlink_id, referring_url="https://site0.example.org/post", target_url=TARGET,
                    checked_at=NOW, status=Status.TIMEOUT, reason="timeout")], ChangePolicy(), batches.RunTally(), patience)
                stored.append(len(done.results))
            yield _row(line, line)

    report = import_rows(sessions, rows(), NOW)
    assert report.committed and report.added == 3 * BATCH
    assert stored == [1]
    with sessions() as session:
        assert len(session.scalars(select(Check)).all()) == 1
    engine.dispose()
    other.dispose()


def _ids(sessions) -> list[int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(Backlink.id).order_by(Backlink.id)))


def test_two_imports_at_once_take_turns(db_url: str) -> None:
    """The same backlinks from two imports started together: both finish, no IntegrityError or
    deadlock, each backlink once, and the one that waited said so."""
    said: list[str] = []
    errors: list[BaseException] = []
    reports = []
    go = threading.Barrier(2)

    def run(reverse: bool) -> None:
        engine = make_engine(db_url)
        rows = [_row(line, line % 700) for line in range(2, 2 + 3 * BATCH)]
        if reverse:
            rows.reverse()
        try:
            go.wait()
            reports.append(import_rows(make_sessionmaker(engine), rows, NOW, waiting=said.append))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(reverse,)) for reverse in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted((r.added, r.unchanged, r.duplicates) for r in reports) == [(0, 700, 2300), (700, 0, 2300)]
    engine = make_engine(db_url)
    assert len(_ids(make_sessionmaker(engine))) == 700
    engine.dispose()
