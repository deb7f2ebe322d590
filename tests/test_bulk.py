"""Bulk writes: on PostgreSQL, COPY stores exactly what the Core statements store (and SQLite stores)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError, SQLAlchemyError, StatementError
from sqlalchemy.orm import sessionmaker

from crawler.core.clean import storable
from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn, LinkRecord, Observation, PageFacts, Position
from crawler.core.outcome import Status
from pipelines import bulk, batches, runs
from crawler.core.changes import ChangePolicy
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines.due import DueFilter
from pipelines.imports import import_rows
from pipelines.models import Check, Event, State

# Not UTC, with microseconds: stored as the same instant, read back in UTC.
NIGHT = datetime(2026, 11, 20, 7, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
# Everything COPY's text format escapes (tab, newline, carriage return, backslash and the letters
# after one, \N), what it must pass through untouched, and control characters.
TRICKY = "tab\there new\nline cr\r back\\slash \\N \\t \\x00 quote ' \" é 中文 🙂 \u200f \x01 \x1b[31m \x7f \f\v\b end"
# What the models keep of it (crawler.core.clean): in one-line fields tab, CR and LF become spaces and the
# other C0 controls go; the snippet keeps its line breaks. COPY must still escape what remains.
LINE = storable(TRICKY, 10**6)
REFERRING = ("https://a.example.org/post", "https://b.example.net/list", "https://c.example.net/", "https://d.example.com/")
TARGET = "https://shop.example.com/"


def _link(anchor: str, **kwargs: Any) -> LinkRecord:
    return LinkRecord(href="/?a=1\tb", url=TARGET, tag="a", anchor=anchor, left=TRICKY, right=TRICKY + "\n",
                      snippet=f"<a href='/'>{TRICKY}</a>", **kwargs)


def _page(url: str, **kwargs: Any) -> PageFacts:
    return PageFacts(url=url, final_url=url + "?q=a\\b\tc", http_status=200, title=TRICKY, redirects=[url, TRICKY],
                     **kwargs)


def _observe(backlink_id: int, at: datetime, status: Status, **kwargs: Any) -> Observation:
    return Observation(backlink_id=backlink_id, referring_url=REFERRING[backlink_id - 1], target_url=TARGET,
                       checked_at=at, status=status, **kwargs)


def _nights() -> list[list[Observation]]:
    """Three nights of four backlinks: first states, then updates (twice: the staging table is reused),
    events whose texts are TRICKY, NULLs in the nullable columns, and backlink 1 twice in a batch."""
    one, two, three = NIGHT, NIGHT + timedelta(days=1), NIGHT + timedelta(days=2, microseconds=1)
    a, b, c, d = REFERRING
    return [
        [
            _observe(1, one, Status.LIVE, page=_page(a), links=[_link("first")], follow=True, found_in="raw"),
            _observe(1, one, Status.LIVE, page=_page(a, canonical=a), links=[_link(TRICKY)], follow=True,
                     found_in="raw"),
            _observe(2, one, Status.MISSING_UNCONFIRMED, reason=TRICKY, page=_page(b, noindex=True)),
            _observe(3, one, Status.TIMEOUT, reason="timeout"),  # no page: NULLs
            _observe(4, one, Status.LIVE, page=_page(d), follow=False, found_in="rendered",
                     links=[_link("", alt=TRICKY, rel=("nofollow", "ugc"), hidden=True, position=Position.FOOTER)]),
        ],
        [
            _observe(1, two, Status.LIVE, page=_page(a, canonical=TRICKY), links=[_link(TRICKY + "!", hidden=False)],
                     follow=True, found_in="both", mismatch=["anchor"]),
            _observe(2, two, Status.MISSING_UNCONFIRMED, reason="link_removed", page=_page(b, noindex=True)),
            _observe(3, two, Status.LIVE, page=_page(c), links=[_link("back")], follow=True, found_in="raw"),
            _observe(4, two, Status.MISSING_UNCONFIRMED, reason="link_removed", page=_page(d),
                     retargeted_to="https://shop.example.com/" + TRICKY),
        ],
        [
            _observe(1, three, Status.SERVER_ERROR, reason=TRICKY,
                     page=_page(a).model_copy(update={"http_status": 503})),
            _observe(3, three, Status.LIVE, page=_page(c, noindex=True), links=[_link("back")], follow=True,
                     found_in="raw"),
            _observe(4, three, Status.LIVE, page=_page(d), links=[_link("back", rel=("sponsored",))], follow=False),
        ],
    ]


def _import(sessions: sessionmaker, referring: tuple[str, ...] = REFERRING) -> None:
    import_rows(sessions, [ImportRow(line=n + 2, backlink=BacklinkIn(referring_url=r, target_url=TARGET))
                           for n, r in enumerate(referring)], NIGHT)


def _store_nights(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    _import(sessions)
    first, *later = _nights()
    batches.write_batch(sessions, None, first, ChangePolicy())  # no run: run_id NULL
    ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=NIGHT), {}), NIGHT)
    for batch in later:
        batches.write_batch(sessions, ticket.run_id, batch, ChangePolicy(), batches.RunTally(worker_id=ticket.worker_id))
    engine.dispose()


def _stored(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of checks, states and events as SQLAlchemy reads it back; on PostgreSQL, also each row
    as the server prints it (``row::text``: jsonb as stored, timestamps to the microsecond)."""
    engine = make_engine(url)
    rows = {}
    with engine.connect() as connection:
        for model in (Check, State, Event):
            table = model.__table__
            key = ", ".join(column.name for column in table.primary_key)
            rows[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(text(key)))]
            if connection.dialect.name == "postgresql":
                printed = connection.execute(text(f"SELECT t::text FROM {table.name} t ORDER BY {key}"))
                rows[f"{table.name} as text"] = [tuple(row) for row in printed]
    engine.dispose()
    return rows


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The tables COPY wrote into, in order."""
    into: list[str] = []
    real = bulk._copy

    def spy(connection, target, name, rows):  # type: ignore[no-untyped-def]
        into.append(name)
        real(connection, target, name, rows)

    monkeypatch.setattr(bulk, "_copy", spy)
    yield into


def _core_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "copies", lambda session: False)


@pytest.mark.postgres
def test_copy_stores_the_rows_core_statements_store(  # type: ignore[no-untyped-def]
    empty_postgres: Callable[[], str], sqlite_url: str, copied: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_postgres()
    _store_nights(url)
    by_copy = _stored(url)
    assert copied == ["checks", "states", "events"] + ["checks", "states_staging", "events"] * 2
    with monkeypatch.context() as core:
        _core_statements(core)
        url = empty_postgres()
        _store_nights(url)
        by_core = _stored(url)
    assert len(copied) == 9  # the Core run copied nothing
    assert all(by_copy.values())
    assert by_copy == by_core

    _store_nights(sqlite_url)
    assert {name: by_copy[name] for name in ("checks", "states", "events")} == _stored(sqlite_url)


@pytest.mark.postgres
def test_what_copy_stored_reads_back_as_written(empty_postgres: Callable[[], str]) -> None:
    """The comparison above holds for the right reasons: values survive, NULLs stay NULL, and a
    backlink twice in a batch has two checks in batch order, its state pointing at the second."""
    url = empty_postgres()
    _store_nights(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        checks = session.scalars(select(Check).where(Check.backlink_id == 1).order_by(Check.id)).all()
        assert [c.anchors for c in checks] == [["first"], [LINE], [LINE + "!"], []]
        assert checks[0].checked_at == NIGHT and checks[0].checked_at.tzinfo is UTC
        assert checks[1].details["links"][0]["left"] == LINE
        assert checks[1].details["links"][0]["snippet"] == storable(f"<a href='/'>{TRICKY}</a>", 10**6, multiline=True)
        assert checks[1].details["page"]["redirects"] == [REFERRING[0], LINE]
        assert checks[0].run_id is None and checks[2].run_id is not None
        timeout = session.scalars(select(Check).where(Check.backlink_id == 3).order_by(Check.id)).first()
        nullable = (timeout.http_status, timeout.final_url, timeout.follow, timeout.noindex, timeout.found_in)
        assert nullable == (None,) * 5
        state = session.get(State, 1)
        assert state.last_check_id == checks[-1].id and state.anchors == [LINE + "!"] and state.reason == LINE
        events = session.execute(select(Event.check_id, Event.kind, Event.before, Event.after).order_by(Event.id)).all()
        assert (checks[0].id, "first_seen", None, "first") in events
        assert (checks[1].id, "anchor_changed", "first", LINE) in events
        retargeted = select(Event.after).where(Event.backlink_id == 4, Event.kind == "target_changed")
        assert TARGET + LINE in session.scalars(retargeted).all()
    engine.dispose()


def test_a_batch_failing_after_its_writes_leaves_nothing_behind(  # type: ignore[no-untyped-def]
    db_url: str, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import(sessions)
    first, second, _ = _nights()
    batches.write_batch(sessions, None, first, ChangePolicy())
    before = _stored(db_url)

    def crash(*args: object) -> None:
        raise RuntimeError("crash after checks, states and events were written")

    with monkeypatch.context() as patched:
        patched.setattr(batches, "_remember_renders", crash)
        with pytest.raises(RuntimeError):
            batches.write_batch(sessions, None, second, ChangePolicy())
    assert _stored(db_url) == before
    # The same connection writes the batch again (on PostgreSQL its staging table went with the
    # rolled-back transaction that created it).
    batches.write_batch(sessions, None, second, ChangePolicy())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Check)) == len(first) + len(second)
        assert session.get(State, 2).status == Status.LOST.value


@pytest.mark.postgres
@pytest.mark.parametrize("path", ["copy", "core"])
@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"reason": "nul \x00 byte"}, DataError),  # PostgreSQL text holds no NUL
        # not valid in jsonb (built unvalidated: the model would replace it)
        ({"links": [_link("ok").model_copy(update={"anchor": "lone \ud800 surrogate"})]}, DataError),
        ({"checked_at": NIGHT.replace(tzinfo=None)}, StatementError),  # UTCDateTime refuses it
    ],
    ids=["nul", "surrogate", "naive"],
)
def test_refused_values_fail_the_batch_alike(  # type: ignore[no-untyped-def]
    empty_postgres: Callable[[], str], monkeypatch: pytest.MonkeyPatch, path: str, bad: dict[str, Any],
    error: type[SQLAlchemyError],
) -> None:
    """Both ways raise the same SQLAlchemy error and store nothing of the batch (values the models
    would have cleaned, put in unvalidated: what the pipeline's row-by-row retry is the net for)."""
    if path == "core":
        _core_statements(monkeypatch)
    url = empty_postgres()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    _import(sessions, REFERRING[:1])
    good = _observe(1, NIGHT, Status.LIVE, page=_page(REFERRING[0]), links=[_link("ok")], follow=True)
    with pytest.raises(error):
        batches.write_batch(sessions, None, [good, good.model_copy(update=bad)], ChangePolicy())
    engine.dispose()
    assert not any(_stored(url).values())
