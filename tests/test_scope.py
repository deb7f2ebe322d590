"""Scoping: `--tag`, `--since`, `--run`, `--referring-domain`, `--target`, `--kind` mean the same on every
`export --what` and on `changes`, and no row of another client leaks into a client's export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.changes import ChangePolicy, EventKind
from crawler.core.items import LinkRecord, Observation, PageFacts
from crawler.core.outcome import Status
from crawler.core.scope import Scope, ScopeError, build_scope
from crawler.reports.tables import EVENT_COLUMNS, tsv
from pipelines import batches
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Backlink
from tests.support.nights import NIGHT, live_then_missing

runner = CliRunner()
# Two clients, each with its own referring domains and its own site; one page links to both.
CLIENT_A = [
    ("https://blog.alpha.test/post", "https://client-a.test/"),
    ("https://news.alpha.test/item", "https://client-a.test/pricing"),
    ("https://shared.test/roundup", "https://client-a.test/"),
]
CLIENT_B = [
    ("https://www.beta.test/links", "https://client-b.test/"),
    ("https://shared.test/roundup", "https://client-b.test/"),
    # A look-alike of client A's domain: a domain filter must not take it for client-a.test.
    ("https://blog.alpha.test/other", "https://evil-client-a.test/"),
]


@pytest.mark.parametrize(
    ("kwargs", "scope"),
    [
        ({}, Scope()),
        ({"tag": ""}, Scope()),
        ({"referring_domain": "Blog.Alpha.test"}, Scope(referring_domain="alpha.test")),
        ({"referring_domain": "www.bbc.co.uk"}, Scope(referring_domain="bbc.co.uk")),
        ({"target": "HTTPS://Client-A.test/pricing?utm_source=x"}, Scope(target_url="https://client-a.test/pricing")),
        ({"target": "client-a.test"}, Scope(target_domain="client-a.test")),
        ({"kinds": ("lost", "recovered", "lost")}, Scope(kinds=(EventKind.LOST, EventKind.RECOVERED))),
    ],
)
def test_build_scope(kwargs: dict[str, object], scope: Scope) -> None:
    assert build_scope(**kwargs) == scope  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": ("bogus",)}, "unknown event kind 'bogus': choose from first_seen, lost"),
        ({"referring_domain": "alpha.test/post"}, "--referring-domain 'alpha.test/post': give a domain"),
        ({"target": "ftp://client-a.test/"}, "--target 'ftp://client-a.test/': unsupported scheme"),
        ({"target": "client a.test"}, "--target 'client a.test'"),
    ],
)
def test_bad_filters_name_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ScopeError, match=message.replace("?", r"\?")):
        build_scope(**kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Client A and client B, two nights: all live, then all gone (lost, confirmed after one miss)."""
    folder = tmp_path_factory.mktemp("scope")
    url = f"sqlite:///{folder / 'scope.sqlite'}"
    assert runner.invoke(app, ["--database", url, "init"]).exit_code == 0
    for tag, rows in (("client-a", CLIENT_A), ("client-b", CLIENT_B)):
        source = folder / f"{tag}.csv"
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match"])
            writer.writerows([r, t, "exact"] for r, t in rows)
        result = runner.invoke(app, ["--database", url, "import", "--tag", tag, str(source)])
        assert result.exit_code == 0, result.output
    live_then_missing(
        url, lambda t: LinkRecord(href=t, url=t, tag="a", anchor="a link", left="read the", right="review"), follow=True
    )
    return url


def rows_of(db: str, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["--database", db, *args, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def pairs(rows: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(row["referring_url"], row["target_url"]) for row in rows}


COMMANDS = [("export", "--what", "current"), ("export", "--what", "checks"), ("export", "--what", "events"), ("changes",)]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("tag", "mine"), [("client-a", CLIENT_A), ("client-b", CLIENT_B)])
def test_no_row_of_another_tag_leaks(db: str, command: tuple[str, ...], tag: str, mine: list[tuple[str, str]]) -> None:
    assert pairs(rows_of(db, *command, "--tag", tag)) == set(mine)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_csv_export_is_scoped_too(db: str, command: tuple[str, ...]) -> None:
    result = runner.invoke(app, ["--database", db, *command, "--tag", "client-b", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert {(r["referring_url"], r["target_url"]) for r in csv.DictReader(io.StringIO(result.stdout))} == set(CLIENT_B)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_run_and_since_mean_the_same_everywhere(db: str, command: tuple[str, ...]) -> None:
    everything = set(CLIENT_A) | set(CLIENT_B)
    # Night 2 (run 2) checked every backlink; its events are the losses.
    assert pairs(rows_of(db, *command, "--run", "2")) == everything
    assert pairs(rows_of(db, *command, "--since", (NIGHT + timedelta(days=1)).isoformat())) == everything
    assert rows_of(db, *command, "--since", (NIGHT + timedelta(days=3)).isoformat()) == []
    if command != ("export", "--what", "current"):  # the current state is the last check: run 2's
        assert pairs(rows_of(db, *command, "--run", "1")) == everything
    else:
        assert rows_of(db, *command, "--run", "1") == []


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_referring_domain_and_target(db: str, command: tuple[str, ...]) -> None:
    assert pairs(rows_of(db, *command, "--referring-domain", "news.alpha.test")) == {CLIENT_A[0], CLIENT_A[1], CLIENT_B[2]}
    assert pairs(rows_of(db, *command, "--target", "client-a.test")) == set(CLIENT_A)  # not evil-client-a.test
    assert pairs(rows_of(db, *command, "--target", "https://client-a.test/pricing")) == {CLIENT_A[1]}
    both = rows_of(db, *command, "--referring-domain", "shared.test", "--tag", "client-b")
    assert pairs(both) == {CLIENT_B[1]}


def test_kind_is_validated_and_kept_to_events(db: str) -> None:
    lost = rows_of(db, "changes", "--kind", "lost")
    assert {row["kind"] for row in lost} == {"lost"} and pairs(lost) == set(CLIENT_A) | set(CLIENT_B)
    assert {row["kind"] for row in rows_of(db, "export", "--what", "events", "--kind", "first_seen")} == {"first_seen"}
    for args in (["changes", "--kind", "bogus"], ["export", "--what", "events", "--kind", "bogus"]):
        result = runner.invoke(app, ["--database", db, *args])
        assert result.exit_code == 2 and "unknown event kind 'bogus'" in result.stderr
    result = runner.invoke(app, ["--database", db, "export", "--what", "current", "--kind", "lost"])
    assert result.exit_code == 2 and "--kind applies to events only" in result.stderr


def test_changes_as_a_table_says_when_there_are_none(db: str) -> None:
    result = runner.invoke(app, ["--database", db, "changes", "--tag", "nobody"])
    assert result.exit_code == 0 and "No changes." in result.stdout
    result = runner.invoke(app, ["--database", db, "changes", "--tag", "client-a", "--kind", "lost"])
    assert result.exit_code == 0 and "lost" in result.stdout and "No changes." not in result.stdout


def test_changes_in_a_pipe_are_whole_tab_separated_lines(db: str) -> None:
    result = runner.invoke(app, ["--database", db, "changes", "--tag", "client-a"])  # stdout is not a terminal
    header, *lines = result.stdout.splitlines()
    assert header.split("\t") == list(EVENT_COLUMNS)
    cells = [line.split("\t") for line in lines]
    assert all(len(row) == len(EVENT_COLUMNS) for row in cells)
    assert {(row[2], row[3]) for row in cells} == set(CLIENT_A)
    assert {row[1] for row in cells} == {"first_seen", "lost"}


def test_status_in_a_pipe_is_tab_separated(db: str) -> None:
    result = runner.invoke(app, ["--database", db, "status", "--tag", "client-b"])
    assert result.stdout.splitlines()[:2] == ["status\treason\tbacklinks", "lost\tlink_removed\t3"]


def test_tsv_keeps_long_values_whole_and_hostile_ones_harmless() -> None:
    long_url = "https://blog.example.test/" + "very-long-path-segment/" * 20
    text = tsv(("url", "anchor"), [(long_url, "tab\there\nnew line \x1b[2J \u202eevil")])
    assert text.splitlines() == ["url\tanchor", f"{long_url}\ttab?here?new line ?[2J ?evil"]


def test_a_runs_summary_and_fail_on_for_cron(db: str, tmp_path: Path) -> None:
    def status(database: str, *args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["--database", database, "status", *args])
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = status(db, "--run", "last")
    assert code == 0 and "Run 2: 6 backlinks checked" in out and "link_removed" in out and "Degraded" not in out
    assert status(db, "--run", "last", "--fail-on", "degraded,incomplete")[0] == 0
    code, _, err = status(db, "--run", "last", "--fail-on", "degraded,lost")
    assert code == 1 and err.strip() == "run 2: lost"
    assert status(db, "--run", "1", "--fail-on", "lost,changed")[0] == 0  # night 1 only saw links first
    # A degraded night: the summary says so, and cron hears of it.
    degraded = tmp_path / "degraded.sqlite"
    with sqlite3.connect(db.removeprefix("sqlite:///")) as source, sqlite3.connect(degraded) as copy:
        source.backup(copy)  # the WAL's pages too, which a file copy would miss
    engine = make_engine(f"sqlite:///{degraded}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE runs SET degraded = 1 WHERE id = 2")
    engine.dispose()
    code, out, err = status(f"sqlite:///{degraded}", "--run", "2", "--fail-on", "degraded")
    assert code == 1 and "Degraded: most results were inconclusive" in out and err.strip() == "run 2: degraded"
    for args, message in [
        (["--fail-on", "lost"], "--fail-on needs --run"),
        (["--run", "last", "--fail-on", "bogus"], "--fail-on bogus: choose from degraded, lost"),
        (["--run", "99"], "no run 99"),
        (["--run", "two"], "a run id (a number) or `last`"),
    ]:
        code, _, err = status(db, *args)
        assert code == 2 and message in err, err


def test_the_current_export_says_what_the_last_check_saw(db: str) -> None:
    rows = rows_of(db, "export", "--what", "current", "--tag", "client-a")
    assert {row["status"] for row in rows} == {"lost"}
    for row in rows:  # lost: no link now, so nothing a dashboard could count as one...
        assert (row["anchors"], row["rel"], row["link_count"], row["follow"], row["linked_url"]) == ([], [], 0, None, None)
        # ...and the last sighting, kept apart
        assert (row["last_seen_anchors"], row["last_seen_follow"], row["last_seen_url"]) == (["a link"], True, row["target_url"])
        assert row["last_seen"] == NIGHT.isoformat()


def test_events_carry_their_evidence(db: str) -> None:
    rows = {(row["kind"], row["referring_url"], row["target_url"]): row for row in rows_of(db, "export", "--what", "events")}
    first = rows[("first_seen", *CLIENT_A[0])]
    lost = rows[("lost", *CLIENT_A[0])]
    assert (first["referring_domain"], first["tags"], lost["referring_domain"], lost["tags"]) == (
        "alpha.test", ["client-a"], "alpha.test", ["client-a"]
    )
    # first seen: nothing before, the link after, with the text around it
    assert (first["before_anchors"], first["before_context"], first["before_check_id"]) == ([], None, None)
    assert (first["after_anchors"], first["after_context"]) == (["a link"], "read the [a link] review")
    # lost: the link as last seen before, nothing after, the reason and both checks it rests on
    assert (lost["before_anchors"], lost["before_position"], lost["before_context"]) == (["a link"], "main", "read the [a link] review")
    assert (lost["after_anchors"], lost["after_context"], lost["reason"]) == ([], None, "link_removed")
    assert lost["before_check_id"] == first["check_id"] != lost["check_id"]
    assert lost["last_seen"] == NIGHT.isoformat()


def test_status_shows_verdicts_beside_the_last_status(tmp_path: Path) -> None:
    """After an outage night the last status is `timeout` everywhere, but the links are still live."""
    url = f"sqlite:///{tmp_path / 'outage.sqlite'}"
    assert runner.invoke(app, ["--database", url, "init"]).exit_code == 0
    source = tmp_path / "links.csv"
    source.write_text("referring_url,target_url\n" + "".join(f"https://s{i}.test/p,https://me.test/\n" for i in range(3)))
    assert runner.invoke(app, ["--database", url, "import", str(source)]).exit_code == 0
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        backlinks = list(session.execute(select(Backlink.id, Backlink.referring_url, Backlink.target_url)))
    policy = ChangePolicy()
    for night, status in enumerate((Status.LIVE, Status.TIMEOUT)):
        at = NIGHT + timedelta(days=night)
        batch = [
            Observation(
                backlink_id=i, referring_url=r, target_url=t, checked_at=at, status=status,
                reason=None if status is Status.LIVE else "read_timeout",
                page=PageFacts(url=r, final_url=r, http_status=200) if status is Status.LIVE else None,
                links=[LinkRecord(href=t, url=t, tag="a", anchor="x")] if status is Status.LIVE else [],
                follow=True if status is Status.LIVE else None,
            )
            for i, r, t in backlinks[: 2 if night else 3]  # night 2: one page not checked at all
        ]
        batches.write_batch(sessions, None, batch, policy, batches.RunTally())
    engine.dispose()
    out = runner.invoke(app, ["--database", url, "status"]).stdout
    assert "timeout\tread_timeout\t2" in out and "live\t\t1" in out
    assert "Verdicts: live 3" in out


def test_csv_for_excel_and_european_locales(db: str, tmp_path: Path) -> None:
    target = tmp_path / "excel.csv"
    args = ["--database", db, "export", "--what", "current", "--tag", "client-a", "--excel", "--delimiter", ";", "-o", str(target)]
    assert runner.invoke(app, args).exit_code == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1  # one BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert {(r["referring_url"], r["target_url"]) for r in rows} == set(CLIENT_A)
    tab = runner.invoke(app, ["--database", db, "export", "--tag", "client-b", "--delimiter", "tab"])
    assert tab.stdout.splitlines()[0].startswith("referring_url\ttarget_url\tmatch")
    for extra, message in [
        (["--delimiter", "|"], "--delimiter '|': use , ; or tab"),
        (["--excel", "--format", "jsonl"], "--excel and --delimiter are for --format csv"),
    ]:
        result = runner.invoke(app, ["--database", db, "export", *extra])
        assert result.exit_code == 2 and message in result.stderr
