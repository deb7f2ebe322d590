"""The inventory commands: `list`, `show`, `tag add|remove`, `delete`, on SQLite and PostgreSQL, on the
checks two real runs leave (tests/support/nights.py), selecting by tag, domain, target, URL, file, status."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.items import LinkRecord
from crawler.core.scope import Scope, ScopeError
from crawler.core.selection import Selection, build_selection, check_tag
from pipelines.db import make_engine
from pipelines.models import Backlink, Check, Event, Tag
from tests.support.nights import live_then_missing

runner = CliRunner()
CLIENT_A = [
    ("https://blog.alpha.test/post", "https://client-a.test/"),
    ("https://news.alpha.test/item", "https://client-a.test/pricing"),
    ("https://shared.test/roundup", "https://client-a.test/"),
]
CLIENT_B = [
    ("https://www.beta.test/links", "https://client-b.test/"),
    ("https://shared.test/roundup", "https://client-b.test/"),
]
HOSTILE = "\x1b]0;owned\x07<b>[red]great[/red]</b>"


@pytest.mark.parametrize(
    ("kwargs", "selection"),
    [
        ({}, Selection()),
        ({"urls": ["HTTPS://Shared.test/roundup#x", " https://shared.test/roundup "]},
         Selection(urls=("https://shared.test/roundup",))),
        ({"statuses": ["lost", "unchecked", "lost"]}, Selection(statuses=("lost", "unchecked"))),
        ({"pairs": []}, Selection(pairs=frozenset())),
    ],
)
def test_build_selection(kwargs: dict[str, object], selection: Selection) -> None:
    assert build_selection(**kwargs) == selection  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selection", "empty"),
    [
        (Selection(), True),
        (Selection(scope=Scope(tag="a")), False),
        (Selection(scope=Scope(target_domain="client-a.test")), False),
        (Selection(urls=("https://x.test/",)), False),
        (Selection(statuses=("lost",)), False),
        # An empty file selects nothing, not everything.
        (Selection(pairs=frozenset()), False),
    ],
)
def test_an_unnarrowed_selection_is_empty(selection: Selection, empty: bool) -> None:
    assert selection.empty is empty


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"urls": ["not a url"]}, "--url 'not a url'"),
        ({"statuses": ["gone"]}, "unknown status 'gone': choose from live"),
        ({"scope": Scope(run=3)}, "select backlinks by --tag"),
    ],
)
def test_bad_selections_name_the_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ScopeError, match=message):
        build_selection(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tag", "stored", "message"),
    [
        ("  vip ", "vip", None),
        ("", None, "cannot be empty"),
        ("a|b", None, r"\| and ; separate tags"),
        ("a\x1bb", None, "control character U\\+001B"),
        ("x" * 300, None, "more than the"),
    ],
)
def test_check_tag(tag: str, stored: str | None, message: str | None) -> None:
    if message is None:
        assert check_tag(tag) == stored
    else:
        with pytest.raises(ScopeError, match=message):
            check_tag(tag)


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url", "match", "notes"])
        writer.writerows([r, t, "exact", "placed in May"] for r, t in rows)
    return path


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    """Client A and B: two nights, live with context, then the link gone (lost after one miss)."""
    for tag, rows in (("client-a", CLIENT_A), ("client-b", CLIENT_B)):
        result = runner.invoke(app, ["--database", db_url, "import", "--tag", tag, str(write_csv(tmp_path / f"{tag}.csv", rows))])
        assert result.exit_code == 0, result.output
    live_then_missing(
        db_url, lambda t: LinkRecord(href=t, url=t, tag="a", anchor=HOSTILE, left="read the", right="review"), follow=True
    )
    return db_url


def invoke(db: str, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database", db, *args], input=input)


def listed(db: str, *args: str) -> set[tuple[str, str]]:
    result = invoke(db, "list", *args, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return {(row["referring_url"], row["target_url"]) for row in map(json.loads, result.stdout.splitlines())}


def counts(db: str) -> tuple[int, int, int]:
    engine = make_engine(db)
    with engine.connect() as connection:
        found = tuple(connection.scalar(select(func.count()).select_from(t)) for t in (Backlink, Check, Event))
    engine.dispose()
    return found  # type: ignore[return-value]


def test_list_selects_like_the_exports(db: str, tmp_path: Path) -> None:
    assert listed(db, "--tag", "client-a") == set(CLIENT_A)
    assert listed(db, "--tag", "client-b", "--status", "lost") == set(CLIENT_B)
    assert listed(db, "--status", "live") == set()
    assert listed(db, "--url", "https://shared.test/roundup") == {CLIENT_A[2], CLIENT_B[1]}
    assert listed(db, "--url", "https://client-a.test/pricing") == {CLIENT_A[1]}  # a target URL
    assert listed(db, "--referring-domain", "alpha.test", "--target", "https://client-a.test/") == {CLIENT_A[0]}
    assert listed(db, "--file", str(write_csv(tmp_path / "some.csv", [CLIENT_A[1], CLIENT_B[0]]))) == {CLIENT_A[1], CLIENT_B[0]}
    result = invoke(db, "list", "--tag", "client-a", "--format", "jsonl")
    row = json.loads(result.stdout.splitlines()[0])
    assert row | {"first_seen": None, "last_seen": None, "last_checked": None} == {
        "id": 1, "referring_url": CLIENT_A[0][0], "target_url": CLIENT_A[0][1], "match": "exact", "status": "lost",
        "reason": "link_removed", "verdict": "lost", "tags": ["client-a"], "first_seen": None, "last_seen": None,
        "last_checked": None, "expected_anchor": None, "expected_rel": None, "expected_target": None,
        "notes": "placed in May", "source": "csv", "cost": None, "currency": None, "placed_on": None, "expires_on": None,
        "archived_at": None,
    }
    assert row["last_seen"] < row["last_checked"]


def test_list_piped_prints_whole_lines(db: str) -> None:
    result = invoke(db, "list", "--tag", "client-b")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["id", "status", "verdict", "referring_url", "target_url", "tags", "last_checked"]
    assert [line.split("\t")[3:5] for line in lines[1:]] == [list(pair) for pair in CLIENT_B]
    assert invoke(db, "list", "--tag", "nobody").stdout.strip() == "No backlinks match."


def test_bad_selection_is_an_error(db: str) -> None:
    for args, message in [
        (("list", "--status", "gone"), "unknown status 'gone'"),
        (("list", "--url", "javascript:alert(1)"), "--url 'javascript:alert(1)'"),
        (("show", "https://nowhere.test/"), "no backlink from or to https://nowhere.test/"),
    ]:
        result = invoke(db, *args)
        assert result.exit_code == 2, args
        assert message in result.stderr


def test_show_tells_the_whole_history_newest_first(db: str) -> None:
    result = invoke(db, "show", "https://SHARED.test/roundup")
    assert result.exit_code == 0, result.output
    blocks = result.stdout.split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [
        "https://shared.test/roundup -> https://client-a.test/  (match exact)",
        "https://shared.test/roundup -> https://client-b.test/  (match exact)",
    ]
    first = blocks[0]
    assert "tags: client-a; expected anchor: -; expected rel: -" in first
    assert "notes: placed in May" in first
    assert "now: lost link_removed (verdict lost)" in first
    night2, night1 = first.index("lost link_removed  (HTTP 200"), first.index("live   (HTTP 200")
    assert night2 < night1  # newest first
    assert "checks (2, newest first):" in first
    # The anchor is crawled text: the store dropped its escape sequence's controls; its markup
    # shows as text, never as rich styling.
    assert "anchors ]0;owned<b>[red]great[/red]</b>; rel -; position main; links 1" in first
    assert "context: read the []0;owned<b>[red]great[/red]</b>] review" in first
    assert "\x1b" not in result.stdout
    events = first[first.index("events (2, newest first):"):].splitlines()[1:]
    # An event's line, then its evidence, indented further.
    assert [line.split()[1] for line in events if not line.startswith("      ")] == ["lost", "first_seen"]
    assert "      last seen (check " in first and "read the [" in first
    assert len(invoke(db, "show", "https://shared.test/roundup", "--limit", "1").stdout.split("checks (1 of 2")) == 3


def test_delete_says_what_it_removes_and_asks(db: str) -> None:
    before = counts(db)
    assert before == (5, 10, 10)  # first_seen and lost for each
    dry = invoke(db, "delete", "--tag", "client-a", "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout.strip() == "would delete 3 backlinks with 6 checks, 6 events and 0 notification deliveries"
    assert counts(db) == before
    refused = invoke(db, "delete", "--tag", "client-a")  # no terminal to ask, no --yes
    assert refused.exit_code == 2
    assert "confirm with --yes" in refused.stderr
    assert counts(db) == before
    everything = invoke(db, "delete", "--yes")  # no selection: never "everything"
    assert everything.exit_code == 2
    assert "select the backlinks" in everything.stderr
    assert counts(db) == before
    done = invoke(db, "delete", "--tag", "client-a", "--yes")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "deleted 3 backlinks with 6 checks, 6 events and 0 notification deliveries"
    assert counts(db) == (2, 4, 4)
    assert listed(db) == set(CLIENT_B)  # the other client's rows and history are untouched
    assert invoke(db, "delete", "--tag", "client-a", "--yes").stdout.strip() == "No backlinks match: nothing to delete."


def test_delete_by_file_takes_exactly_its_rows(db: str, tmp_path: Path) -> None:
    result = invoke(db, "delete", "--yes", "--file", str(write_csv(tmp_path / "gone.csv", [CLIENT_B[1], CLIENT_A[0]])))
    assert result.exit_code == 0, result.output
    assert listed(db) == {CLIENT_A[1], CLIENT_A[2], CLIENT_B[0]}
    empty = tmp_path / "empty.csv"
    empty.write_text("referring_url,target_url,match\n")
    assert invoke(db, "delete", "--yes", "--file", str(empty)).stdout.strip() == "No backlinks match: nothing to delete."
    bad = tmp_path / "bad.csv"
    bad.write_text("referring_url,target_url,match\nnot a url,https://client-a.test/,exact\n")
    refused = invoke(db, "delete", "--yes", "--file", str(bad))
    assert refused.exit_code == 2
    assert f"{bad}:2:" in refused.stderr
    assert len(listed(db)) == 3


def test_tags_are_added_and_removed(db: str) -> None:
    added = invoke(db, "tag", "add", "vip", "--referring-domain", "alpha.test")
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "tagged 2 of 2 selected backlinks 'vip'"
    assert invoke(db, "tag", "add", "vip", "--url", "https://blog.alpha.test/post").stdout.strip() == (
        "tagged 0 of 1 selected backlinks 'vip'"  # already had it
    )
    assert listed(db, "--tag", "vip") == {CLIENT_A[0], CLIENT_A[1]}
    # The exports see the new tag at once.
    export = invoke(db, "export", "--what", "events", "--tag", "vip", "--format", "jsonl")
    assert {json.loads(line)["referring_url"] for line in export.stdout.splitlines()} == {CLIENT_A[0][0], CLIENT_A[1][0]}
    removed = invoke(db, "tag", "remove", "vip", "--url", "https://news.alpha.test/item")
    assert removed.stdout.strip() == "untagged 1 of 1 selected backlinks 'vip'"
    assert invoke(db, "tag", "remove", "vip").stdout.strip() == "untagged 1 of 1 selected backlinks 'vip'"
    assert listed(db, "--tag", "vip") == set()
    refused = invoke(db, "tag", "add", "a;b", "--tag", "client-a")
    assert refused.exit_code == 2 and "separate tags" in refused.stderr
    assert invoke(db, "tag", "add", "x").exit_code == 2  # adding needs a selection
    engine = make_engine(db)
    with engine.connect() as connection:
        assert sorted(connection.scalars(select(Tag.tag).distinct())) == ["client-a", "client-b"]
    engine.dispose()


def test_show_marks_a_held_back_loss_on_the_check_that_confirmed_it(db_url: str, tmp_path: Path) -> None:
    """As a crawl stores: the second miss is confirmed at the end of the run, its check keeps
    missing_unconfirmed, and `show` says what it became."""
    from datetime import UTC, datetime, timedelta

    from pipelines.db import make_sessionmaker
    from tests.support.history import LIVE, MISSING, night

    assert invoke(db_url, "import", str(write_csv(tmp_path / "one.csv", CLIENT_A[:1]))).exit_code == 0
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for day, outcome in enumerate((LIVE, MISSING, MISSING)):
        night(sessions, start + timedelta(days=day), {1: outcome})
    engine.dispose()
    checks = invoke(db_url, "show", CLIENT_A[0][0]).stdout.split("checks (3, newest first):")[1].splitlines()
    checks = [found[1] for line in checks if (found := re.match(r"    \S+  (.*?)\s+\(HTTP", line))]
    assert checks == [
        "missing_unconfirmed -> lost link_removed", "missing_unconfirmed link_removed", "live",
    ]


def test_archived_backlinks_are_kept_but_neither_crawled_nor_reported(db: str) -> None:
    from datetime import UTC, datetime

    from pipelines.db import make_sessionmaker
    from pipelines.due import DueFilter, due_chunk

    archived = invoke(db, "archive", "--tag", "client-b")
    assert archived.exit_code == 0, archived.output
    assert archived.stdout.strip() == "archived 2 backlinks"
    assert invoke(db, "archive", "--tag", "client-b").stdout.strip() == "archived 0 backlinks"
    assert invoke(db, "archive").exit_code == 2  # never "everything"
    # Out of every current view: list, status, exports, the reporting views.
    assert listed(db) == set(CLIENT_A)
    assert listed(db, "--archived") == set(CLIENT_B)
    status = invoke(db, "status").stdout
    assert "Archived: 2 (not crawled, not counted above" in status
    assert "Verdicts: lost 3" in status
    for what in ("current", "events", "checks", "daily"):
        rows = invoke(db, "export", "--what", what, "--format", "jsonl").stdout.splitlines()
        assert {(r["referring_url"], r["target_url"]) for r in map(json.loads, rows)} == set(CLIENT_A), what
    engine = make_engine(db)
    with engine.connect() as connection:
        for view in ("report_links", "report_daily", "report_events", "report_metrics"):
            urls = set(connection.scalars(select(func.distinct(text_column(view)))))
            assert not urls & {r for r, _ in CLIENT_B if r not in {a for a, _ in CLIENT_A}}, view
        domains = set(connection.scalars(select(func.distinct(text_column("report_domains_daily", "referring_domain")))))
        assert "beta.test" not in domains
    # Not crawled: no due page carries them, whatever the cutoff.
    with make_sessionmaker(engine)() as session:
        due = due_chunk(session, DueFilter(cutoff=datetime(2030, 1, 1, tzinfo=UTC)), "", 100)
    engine.dispose()
    assert {(p.url, b.target_url) for p in due for b in p.backlinks} == set(CLIENT_A)
    assert "archived since " in invoke(db, "show", CLIENT_B[0][0]).stdout
    # Tagging and deleting still reach them; unarchiving brings them back.
    assert invoke(db, "tag", "add", "old", "--tag", "client-b").stdout.strip() == "tagged 2 of 2 selected backlinks 'old'"
    assert invoke(db, "unarchive", "--tag", "old").stdout.strip() == "unarchived 2 backlinks"
    assert listed(db) == set(CLIENT_A) | set(CLIENT_B)
    assert "Archived" not in invoke(db, "status").stdout


def text_column(view: str, column: str = "referring_url"):  # type: ignore[no-untyped-def]
    from sqlalchemy import column as col, table

    return table(view, col(column)).c[column]


@pytest.mark.parametrize(("before", "after", "diff"), [
    ("read the [Widget Co] review", "read the [Widget Co] review", "read the [Widget Co] review"),
    ("read the [Widget Co] review", "read the [best widgets] review", "read the [-[Widget Co]-] {+[best widgets]+} review"),
    ("a b c", "a c", "a [-b-] c"),
    ("", "new text", "{+new text+}"),
])
def test_word_diff(before: str, after: str, diff: str) -> None:
    from crawler.reports.evidence import word_diff

    assert word_diff(before, after) == diff


def test_show_prints_the_evidence_of_each_change(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from crawler.core.outcome import Status
    from pipelines.db import make_sessionmaker
    from tests.support.history import LIVE, Outcome, night

    assert invoke(db_url, "import", str(write_csv(tmp_path / "one.csv", CLIENT_A[:1]))).exit_code == 0
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    night(sessions, start, {1: LIVE})
    night(sessions, start + timedelta(days=1), {1: Outcome(Status.LIVE, anchor="best \x1b[31mwidgets")})
    engine.dispose()
    shown = invoke(db_url, "show", CLIENT_A[0][0]).stdout
    changed = shown[shown.index("anchor_changed"):].splitlines()
    assert changed[0] == "anchor_changed  a link -> best [31mwidgets"
    assert changed[1] == "      context: read the [-[a link]-] {+[best [31mwidgets]+} review"
    assert changed[2].startswith("      page: check 1, HTTP 200") and " -> check 2, HTTP 200" in changed[2]
    assert "\x1b" not in shown
