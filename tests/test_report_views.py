"""The reporting views (migration 0006) over the history the storage code really writes, on SQLite and
PostgreSQL: the verdict carried across an outage night, recoveries, unchecked days, UTC days, tags."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from crawler.cli import app as cli_app
from crawler.cli.app import app
from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn
from crawler.core.outcome import INCONCLUSIVE, Status
from crawler.core.scope import Scope, ScopeError, build_scope
import pipelines
from pipelines import queries, reporting
from pipelines.db import current_revision, head_revision, make_engine, make_sessionmaker, migrations_dir, upgrade
from pipelines.imports import import_rows
from pipelines.models import Check, Event
from tests.conftest import _postgres_database
from tests.support.history import LIVE, MISSING, NOFOLLOW, SERVER_ERROR, TIMEOUT, backlink_ids, night

runner = CliRunner()
DAY1 = datetime(2026, 11, 1, 2, tzinfo=UTC)
DAYS = [date(2026, 11, d) for d in range(1, 8)]  # the first night to the last run
ALPHA = [f"https://blog.alpha.test/p{i}" for i in range(1, 7)]
GAMMA = [f"https://gamma.test/g{i}" for i in range(1, 7)]
CLIENT_A = ALPHA + GAMMA  # twelve backlinks
CLIENT_AB = ["https://beta.test/b1", "https://beta.test/b2", "https://beta.test/late"]
NEVER = "https://alpha.test/never-checked"


def at(day: int, hour: int = 2, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def build(sessions: sessionmaker) -> dict[str, int]:
    """An agency's week: client-a (12 backlinks) and client-ab (3), a look-alike tag.

    - 1 Nov: everything live. 2 Nov: an outage night, every check inconclusive (a degraded run).
    - 3 Nov: p1's link is missing (a first miss); b1 turns nofollow; b3 ("late") is checked first.
    - 4 Nov: p1 missing again: a loss, held back to the end of the healthy run, then confirmed.
    - 5 Nov: no run at all. 6 Nov: p1 is back (a recovery); p2 is not checked; p3 is checked
      twice, live at 02:00 and missing at 23:59:59 (the later check wins the day).
    - 7 Nov, 00:00:00 UTC: p3 live again, the next UTC day.
    """
    rows = [ImportRow(line=i + 2, backlink=BacklinkIn(referring_url=url, target_url="https://client-a.test/",
                                                       tags=["client-a", "Zeta"] if url == GAMMA[0] else ["client-a"]))
            for i, url in enumerate([*CLIENT_A, NEVER])]
    rows += [ImportRow(line=100 + i, backlink=BacklinkIn(referring_url=url, target_url="https://client-ab.test/",
                                                          tags=["client-ab"]))
             for i, url in enumerate(CLIENT_AB)]
    assert import_rows(sessions, rows, DAY1 - timedelta(days=1)).added == 16
    ids = backlink_ids(sessions)
    a, early = [ids[u] for u in CLIENT_A], [ids[u] for u in CLIENT_AB[:2]]
    p1, p2, p3, b1, late = ids[ALPHA[0]], ids[ALPHA[1]], ids[ALPHA[2]], ids[CLIENT_AB[0]], ids[CLIENT_AB[2]]
    night(sessions, at(1), {i: LIVE for i in a + early})
    night(sessions, at(2), {i: TIMEOUT if n % 2 else SERVER_ERROR for n, i in enumerate(a + early)})
    night(sessions, at(3), {**{i: LIVE for i in a + early + [late]}, p1: MISSING, b1: NOFOLLOW})
    night(sessions, at(4), {**{i: LIVE for i in a + early + [late]}, p1: MISSING, b1: NOFOLLOW})
    sixth = {i: LIVE for i in a + early + [late] if i != p2}
    night(sessions, at(6), {**sixth, b1: NOFOLLOW})
    night(sessions, at(6, 23, 59, 59), {p3: MISSING})
    night(sessions, at(7, 0, 0, 0), {p3: LIVE})
    return ids


@dataclass
class Week:
    url: str
    sessions: sessionmaker
    ids: dict[str, int]  # backlink id by referring URL


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def week(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    """The week, written once per backend for the tests that only read it (a database of its own on
    PostgreSQL: the shared one is emptied by other tests)."""
    databases = _postgres_database() if request.param == "postgresql" else None
    url = next(databases) if databases else f"sqlite:///{tmp_path_factory.mktemp('week') / 'week.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    yield Week(url, sessions, build(sessions))
    engine.dispose()
    if databases:
        databases.close()  # drops it


def daily(session: Session, scope: Scope = Scope()) -> list[dict[str, object]]:
    return [dict(row) for row in session.execute(reporting.daily_query(session, scope)).mappings()]


def by_day(rows: list[dict[str, object]], column: str = "is_live") -> dict[date, int]:
    totals: Counter[date] = Counter()
    for row in rows:
        totals[row["day"]] += row[column]  # type: ignore[index, operator]
    return {day: totals[day] for day in sorted({row["day"] for row in rows})}  # type: ignore[misc]


def test_live_per_day_carries_the_verdict_across_the_outage_night(week: Week) -> None:
    with week.sessions() as session:
        rows = daily(session, build_scope(tag="client-a"))
        # The naive query: the status of the day, not the verdict. The outage night says 0 live.
        naive = session.scalar(
            text("SELECT COUNT(*) FROM report_daily d WHERE d.status = 'live' AND d.day = :day "
                 "AND d.backlink_id IN (SELECT backlink_id FROM backlink_tags WHERE tag = 'client-a')"),
            {"day": "2026-11-02" if session.get_bind().dialect.name == "sqlite" else date(2026, 11, 2)},
        )
    assert naive == 0
    assert by_day(rows) == dict(zip(DAYS, [12, 12, 11, 11, 11, 11, 12]))
    outage = [row for row in rows if row["day"] == DAYS[1]]
    assert {row["status"] for row in outage} == {Status.TIMEOUT.value, Status.SERVER_ERROR.value}
    assert {row["verdict"] for row in outage} == {"live"} and all(row["checked_that_day"] for row in outage)


def test_a_loss_a_recovery_and_the_statuses_between(week: Week) -> None:
    with week.sessions() as session:
        p1 = {row["day"]: row for row in daily(session) if row["backlink_id"] == week.ids[ALPHA[0]]}
        lost_check = session.scalar(select(Event.check_id).where(Event.kind == "lost"))
        lost_status = session.scalar(select(Check.status).where(Check.id == lost_check))
    # The loss was held back to the end of its run: the check row still says missing_unconfirmed.
    assert lost_status == Status.MISSING_UNCONFIRMED.value
    assert [(p1[d]["status"], p1[d]["verdict"], p1[d]["is_live"]) for d in DAYS] == [
        ("live", "live", 1),
        (Status.SERVER_ERROR.value, "live", 1),  # p1 is the first backlink: a 503 that night
        ("missing_unconfirmed", "missing_unconfirmed", 0),  # one miss is not a loss, nor live
        ("lost", "lost", 0),
        ("lost", "lost", 0),  # no run: carried
        ("live", "live", 1),  # recovered
        ("live", "live", 1),
    ]
    assert p1[DAYS[3]]["check_id"] == lost_check


def test_unchecked_days_are_carried_and_said(week: Week) -> None:
    with week.sessions() as session:
        rows = daily(session)
    p2 = {row["day"]: row for row in rows if row["backlink_id"] == week.ids[ALPHA[1]]}
    assert [p2[d]["checked_that_day"] for d in DAYS] == [1, 1, 1, 1, 0, 0, 0]
    assert [p2[d]["verdict"] for d in DAYS] == ["live"] * 7
    # The rows rest on the last check on or before their day.
    assert p2[DAYS[6]]["check_id"] == p2[DAYS[3]]["check_id"] == p2[DAYS[3]]["verdict_check_id"]
    # The outage night's check is the status's; the verdict rests on the night before.
    assert p2[DAYS[1]]["check_id"] != p2[DAYS[1]]["verdict_check_id"] == p2[DAYS[0]]["check_id"]
    assert {row["checked_that_day"] for row in rows if row["day"] == DAYS[4]} == {0}  # no run on 5 Nov


def test_one_row_per_backlink_per_day_from_its_first_check_to_the_last_run(
    week: Week
) -> None:
    with week.sessions() as session:
        rows = daily(session)
    keys = [(row["backlink_id"], row["day"]) for row in rows]
    assert len(keys) == len(set(keys))  # p3 was checked twice on 6 Nov: still one row
    days = {i: sorted(d for b, d in keys if b == i) for i in {b for b, _ in keys}}
    assert week.ids[NEVER] not in days  # never checked: no row
    assert days[week.ids[CLIENT_AB[2]]] == DAYS[2:]  # first checked on 3 Nov
    assert all(found == DAYS for i, found in days.items() if i != week.ids[CLIENT_AB[2]])
    assert len(rows) == 14 * 7 + 5


def test_days_are_utc_days_and_the_later_check_wins(week: Week) -> None:
    with week.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Whatever the session's time zone, a day is a UTC day.
            session.execute(text("SET LOCAL TIME ZONE 'Pacific/Auckland'"))
        p3 = {row["day"]: row for row in daily(session) if row["backlink_id"] == week.ids[ALPHA[2]]}
    # 6 Nov: live at 02:00, missing at 23:59:59; 7 Nov 00:00:00: live.
    assert (p3[DAYS[5]]["status"], p3[DAYS[5]]["verdict"], p3[DAYS[5]]["is_live"]) == ("missing_unconfirmed",) * 2 + (0,)
    assert (p3[DAYS[6]]["status"], p3[DAYS[6]]["is_live"], p3[DAYS[6]]["checked_that_day"]) == ("live", 1, 1)


def test_followed_is_live_and_follow(week: Week) -> None:
    with week.sessions() as session:
        rows = daily(session, build_scope(tag="client-ab"))
    assert by_day(rows, "is_followed") == dict(zip(DAYS, [2, 2, 2, 2, 2, 2, 2]))  # b1 nofollow from 3 Nov; late follows
    assert by_day(rows) == dict(zip(DAYS, [2, 2, 3, 3, 3, 3, 3]))


@pytest.mark.parametrize(("tag", "referring"), [("client-a", CLIENT_A), ("client-ab", CLIENT_AB), ("Zeta", GAMMA[:1])])
def test_no_row_of_another_tag_leaks(week: Week, tag: str, referring: list[str]) -> None:
    with week.sessions() as session:
        rows = daily(session, build_scope(tag=tag))
    assert {row["referring_url"] for row in rows} == set(referring)


def test_tags_as_text_sorted_and_the_trap_of_matching_them(week: Week) -> None:
    with week.sessions() as session:
        tags = dict(session.execute(select(reporting.report_links.c.referring_url, reporting.report_links.c.tags)).all())
        like = session.scalar(text("SELECT COUNT(DISTINCT backlink_id) FROM report_daily WHERE tags LIKE '%client-a%'"))
    assert tags[GAMMA[0]] == "Zeta, client-a"  # code point order on both backends
    assert tags[ALPHA[0]] == "client-a" and tags[CLIENT_AB[0]] == "client-ab"
    assert like == 12 + 3  # a substring match takes client-ab for client-a: filter through backlink_tags


def test_scope_filters_of_the_daily_grain(week: Week) -> None:
    with week.sessions() as session:
        since = daily(session, build_scope(since=at(6, 23, 59)))
        domain = daily(session, build_scope(referring_domain="gamma.test"))
        target = daily(session, build_scope(target="client-ab.test"))
        exact = daily(session, build_scope(target="https://client-ab.test/"))
        for bad in (Scope(run=1), build_scope(kinds=("lost",))):
            with pytest.raises(ScopeError):
                reporting.daily_query(session, bad)
    assert {row["day"] for row in since} == set(DAYS[5:])  # the day of --since counts whole
    assert {row["referring_url"] for row in domain} == set(GAMMA)
    assert {row["referring_url"] for row in target} == {row["referring_url"] for row in exact} == set(CLIENT_AB)


def test_domains_per_day(week: Week) -> None:
    table = reporting.report_domains_daily
    with week.sessions() as session:
        rows = {(r["day"], r["referring_domain"]): dict(r) for r in session.execute(select(table)).mappings()}
    figures = ("backlinks", "live", "followed", "lost", "new", "lost_that_day", "recovered")
    alpha = {day: tuple(rows[day, "alpha.test"][f] for f in figures) for day in DAYS}
    assert alpha == {
        DAYS[0]: (6, 6, 6, 0, 6, 0, 0),
        DAYS[1]: (6, 6, 6, 0, 0, 0, 0),
        DAYS[2]: (6, 5, 5, 0, 0, 0, 0),
        DAYS[3]: (6, 5, 5, 1, 0, 1, 0),
        DAYS[4]: (6, 5, 5, 1, 0, 0, 0),
        DAYS[5]: (6, 5, 5, 0, 0, 0, 1),  # p1 recovered, p3 missing by the end of the day
        DAYS[6]: (6, 6, 6, 0, 0, 0, 1),  # p3 back after a single miss: a false alarm cleared
    }
    assert tuple(rows[DAYS[2], "beta.test"][f] for f in figures) == (3, 3, 2, 0, 1, 0, 0)
    assert len(rows) == 3 * 7  # alpha.test holds the never-checked backlink too: it has no day


def test_events_view_matches_the_events_export(week: Week) -> None:
    with week.sessions() as session:
        exported = list(queries.iter_events(session, queries.events_query(session)))
        viewed = [dict(r) for r in session.execute(select(reporting.report_events).order_by("event_id")).mappings()]
    assert len(viewed) == len(exported) > 0
    assert Counter(row["kind"] for row in viewed) == {
        "first_seen": 15, "follow_changed": 1, "rel_changed": 1, "lost": 1, "recovered": 2,
    }
    for mine, theirs in zip(viewed, exported, strict=True):
        expected = {
            **theirs, "run_id": theirs["run"], "tags": ", ".join(sorted(theirs["tags"])), "day": theirs["at"].date(),
            **{f"{side}_anchors": " | ".join(theirs[f"{side}_anchors"]) for side in ("before", "after")},
            **{f"{side}_rel": " ".join(theirs[f"{side}_rel"]) for side in ("before", "after")},
        }
        del expected["run"]
        assert {k: v for k, v in mine.items() if k not in ("event_id", "backlink_id")} == expected
    contexts = {row["kind"]: row for row in viewed}
    assert contexts["recovered"]["after_context"] == "read the [a link] review"
    assert contexts["lost"]["before_context"] == "read the [a link] review" and contexts["lost"]["after_context"] is None


def test_runs_view(week: Week) -> None:
    with week.sessions() as session:
        rows = [dict(r) for r in session.execute(select(reporting.report_runs).order_by("run_id")).mappings()]
    assert [r["day"] for r in rows] == [DAYS[0], DAYS[1], DAYS[2], DAYS[3], DAYS[5], DAYS[5], DAYS[6]]
    outage, loss, recovery = rows[1], rows[3], rows[4]
    assert (outage["degraded"], outage["checks"], outage["inconclusive"], outage["live"], outage["events"]) == (1, 14, 14, 0, 0)
    assert (loss["degraded"], loss["checks"], loss["live"], loss["lost"], loss["missing_unconfirmed"]) == (0, 15, 14, 1, 0)
    assert loss["events"] == 1 and loss["status"] == "incomplete" and loss["finished_at"] == at(4, 2, 5)
    assert (recovery["checks"], recovery["pages"], recovery["events"]) == (14, 14, 1)
    assert rows[0]["pages"] == 14 and rows[0]["events"] == 14  # first_seen each


def test_links_view_follows_the_verdict(week: Week) -> None:
    table = reporting.report_links
    with week.sessions() as session:
        rows = {r["referring_url"]: dict(r) for r in session.execute(select(table)).mappings()}
        current = {r["referring_url"]: r for r in queries.iter_current(session)}
    assert len(rows) == 16
    assert rows[NEVER]["status"] == "unchecked" and rows[NEVER]["is_live"] == 0 and rows[NEVER]["verdict"] is None
    b1 = rows[CLIENT_AB[0]]
    assert (b1["is_live"], b1["is_followed"], b1["rel"], b1["anchors"], b1["link_count"]) == (1, 0, "nofollow", "a link", 1)
    for url, row in rows.items():  # the link fields say what the last check saw, as the current export
        mine = current[url]
        assert (row["status"], row["verdict"], row["anchors"], row["link_count"], row["last_checked"]) == (
            mine["status"], mine["verdict"], " | ".join(mine["anchors"]), mine["link_count"], mine["last_checked"]
        )


def test_the_declared_columns_are_the_views_columns(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        for table in reporting.views.sorted_tables:
            found = connection.execute(select(text("*")).select_from(text(table.name)).limit(0)).keys()
            assert list(found) == [c.name for c in table.columns], table.name
    engine.dispose()


def test_the_migration_knows_the_conclusive_statuses() -> None:
    # The migration's SQL is a snapshot: a status added later must be inconclusive, or come with a
    # migration that recreates the views.
    path = Path(pipelines.__file__).parent / "migrations" / "versions" / "0006_report_views.py"
    spec = importlib.util.spec_from_file_location("report_views_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert set(re.findall(r"'(\w+)'", migration.CONCLUSIVE)) == {s.value for s in Status if s not in INCONCLUSIVE}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Runs `backlinks ...` in-process; the engines it makes are closed after each command, as the
    end of its process would (else PostgreSQL connections are left to the garbage collector)."""
    engines = []

    def tracked(url: str, **options):  # type: ignore[no-untyped-def]
        engines.append(make_engine(url, **options))
        return engines[-1]

    monkeypatch.setattr(cli_app, "make_engine", tracked)

    def run(db_url: str, *args: str):  # type: ignore[no-untyped-def]
        try:
            return runner.invoke(app, ["--database", db_url, *args])
        finally:
            while engines:
                engines.pop().dispose()

    return run


def export(cli, db_url: str, *args: str) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    result = cli(db_url, "export", "--what", "daily", "--format", "jsonl", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_export_daily(cli, week: Week, tmp_path: Path) -> None:
    rows = export(cli, week.url, "--tag", "client-a")
    assert {row["referring_url"] for row in rows} == set(CLIENT_A) and len(rows) == 12 * 7
    assert list(rows[0]) == list(reporting.DAILY_FIELDS)
    live = Counter[str]()
    for row in rows:
        live[row["day"]] += row["is_live"]  # type: ignore[arg-type]
    assert live == {d.isoformat(): n for d, n in zip(DAYS, [12, 12, 11, 11, 11, 11, 12])}
    assert {row["day"] for row in export(cli, week.url, "--since", "2026-11-06")} == {"2026-11-06", "2026-11-07"}
    assert {row["referring_url"] for row in export(cli, week.url, "--referring-domain", "beta.test", "--target",
                                                   "https://client-ab.test/")} == set(CLIENT_AB)
    # For a spreadsheet in a European locale: a BOM, semicolons.
    out = tmp_path / "daily.csv"
    result = cli(week.url, "export", "--what", "daily", "--tag", "client-ab", "--excel", "--delimiter", ";", "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfday;backlink_id;referring_url;")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert len(table) == 2 * 7 + 5 and {r["tags"] for r in table} == {"client-ab"}
    assert f"wrote {len(table)} rows" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--run", "1"), "--run does not apply to --what daily"),
    (("--kind", "lost"), "--kind applies to events only, not to --what daily"),
])
def test_export_daily_refuses_a_filter_it_cannot_apply(cli, week: Week, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out = tmp_path / "daily.csv"
    result = cli(week.url, "export", "--what", "daily", *args, "-o", str(out))
    assert result.exit_code == 2 and message in result.stderr and not out.exists()


def _at_0005(engine) -> None:  # type: ignore[no-untyped-def]
    config = Config()
    config.set_main_option("script_location", migrations_dir())
    config.attributes["engine"] = engine
    command.downgrade(config, "0005")


def test_init_upgrades_a_0005_database_and_again_changes_nothing(cli, db_url: str, sessions: sessionmaker) -> None:
    engine = make_engine(db_url)
    try:
        build(sessions)
        _at_0005(engine)  # as a database of the previous version: the tables and their history, no views
        assert current_revision(engine) == "0005"
        assert not set(inspect(engine).get_view_names()) & set(reporting.views.tables)
        refused = cli(db_url, "export", "--what", "daily")
        assert refused.exit_code == 2 and "run `backlinks init` first" in refused.stderr
        for _ in range(2):  # a second init is a no-op
            result = cli(db_url, "init")
            assert result.exit_code == 0 and f"is at schema {head_revision()}" in result.stdout
            assert set(inspect(engine).get_view_names()) >= set(reporting.views.tables)
            assert len(export(cli, db_url, "--tag", "client-a")) == 12 * 7
    finally:
        upgrade(engine)  # the shared PostgreSQL database stays at the head for the next tests
        engine.dispose()


DOCS = Path(__file__).parent.parent / "docs" / "reporting.md"
QUERY = re.compile(r"<!-- query: (\w+), (any|postgresql) -->\n```sql\n(.*?)```", re.DOTALL)
# What Metabase, Grafana and Looker Studio put in place of their variables, for a client and a week.
FILLED = [
    ("[[", ""), ("]]", ""), ("{{tag}}", "'client-a'"), ("{{since}}", "'2026-11-03'"),
    ("${tag:sqlstring}", "'client-a'"), ("@DS_START_DATE", "'20261101'"), ("@DS_END_DATE", "'20261107'"),
]
TIME_FILTER = re.compile(r"\$__timeFilter\((\w+)\)")


def documented_queries() -> list[tuple[str, str, str]]:
    found = QUERY.findall(DOCS.read_text())
    assert len(found) >= 7
    return found


@pytest.mark.parametrize(("name", "backends", "sql"), documented_queries(), ids=[q[0] for q in documented_queries()])
def test_the_documented_queries_run_and_count_right(
    week: Week, name: str, backends: str, sql: str
) -> None:
    with week.sessions() as session:
        if backends == "postgresql" and session.get_bind().dialect.name != "postgresql":
            pytest.skip("a PostgreSQL query (Grafana, Looker Studio)")
        for variable, value in FILLED:
            sql = sql.replace(variable, value)
        # As Grafana expands it for a range of 1 to 7 November.
        sql = TIME_FILTER.sub(r"\1 BETWEEN '2026-11-01T00:00:00Z' AND '2026-11-07T23:59:59Z'", sql)
        rows = session.execute(text(sql)).mappings().all()
    assert rows
    if name.startswith("live_per_day"):
        live: Counter[str] = Counter()
        for row in rows:
            if row.get("tag", "client-a") == "client-a":  # Looker Studio: the report's filter on tag
                live[str(row.get("day", row.get("time")))[:10]] += row["live"]
        assert live == {d.isoformat(): n for d, n in zip(DAYS, [12, 12, 11, 11, 11, 11, 12])}
    if name == "domains":  # since 3 November
        assert {r["referring_domain"]: (r["lost"], r["recovered"], r["new"]) for r in rows} == {
            "alpha.test": (1, 2, 0), "beta.test": (0, 0, 1), "gamma.test": (0, 0, 0),
        }


def test_a_dashboard_role_needs_select_on_the_views_only(week: Week) -> None:
    with week.sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("roles are PostgreSQL's")
        # The documented grant, to a role of this transaction only (rolled back at the end).
        grant = re.search(r"GRANT SELECT ON (.*?) TO dashboards;", DOCS.read_text(), re.DOTALL)
        assert grant is not None
        session.execute(text("CREATE ROLE views_test_dashboards NOLOGIN"))
        session.execute(text(f"GRANT SELECT ON {grant[1]} TO views_test_dashboards"))
        session.execute(text("SET LOCAL ROLE views_test_dashboards"))
        live = session.scalar(text("SELECT SUM(is_live) FROM report_daily WHERE day = '2026-11-02' AND backlink_id IN "
                                   "(SELECT backlink_id FROM backlink_tags WHERE tag = 'client-a')"))
        for view in reporting.views.tables:
            session.execute(text(f"SELECT * FROM {view} LIMIT 1"))
        with pytest.raises(ProgrammingError, match="permission denied"):
            session.execute(text("SELECT COUNT(*) FROM checks"))
        session.rollback()
    assert live == 12
