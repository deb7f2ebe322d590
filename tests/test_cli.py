"""The `backlinks` command, driven as a user would: init, import, status, changes, export."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crawler.core.clean import TEXT_CHARS, storable
from crawler.cli.app import app
from crawler.cli.common import parse_since
from crawler.core.items import LinkRecord
from pipelines.queries import CURRENT_FIELDS, EVENT_FIELDS
from tests.support.nights import live_then_missing

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    result = runner.invoke(app, ["--database", url, "init"])
    assert result.exit_code == 0, result.output
    assert "is at schema" in result.output
    return url


def cli(db: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--database", db, *args])
    return result.exit_code, result.stdout, result.stderr


def test_commands_refuse_a_database_without_schema(tmp_path: Path) -> None:
    code, _, err = cli(f"sqlite:///{tmp_path / 'none.sqlite'}", "status")
    assert code == 2 and "run `backlinks init` first" in err


def test_import_reports_and_is_idempotent(db: str) -> None:
    code, out, err = cli(db, "import", str(FIXTURES / "ours.csv"))
    assert code == 0, err
    first = out
    assert "added" in first and "bad rows" in first
    code, out, _ = cli(db, "import", str(FIXTURES / "ours.csv"))
    assert code == 0 and "added 0" in out and "updated 0" in out


def test_bad_rows_are_listed_with_line_numbers(db: str, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "referring_url,target_url,match\n"
        "https://a.example/p,https://me.example/,exact\n"
        "ftp://b.example/p,https://me.example/,exact\n"
        "https://c.example/p,https://me.example/,fuzzy\n"
    )
    code, out, err = cli(db, "import", str(path))
    assert code == 0
    assert f"{path}:3: referring_url: unsupported scheme 'ftp'" in err
    assert f"{path}:4:" in err and "match" in err
    assert "added 1" in out and "bad rows 2" in out
    code, out, err = cli(db, "import", "--strict", str(path))
    assert code == 2 and "--strict: nothing imported" in err
    assert "rolled back" in out


def test_dry_run_changes_nothing(db: str) -> None:
    code, out, _ = cli(db, "import", "--dry-run", str(FIXTURES / "ours.csv"))
    assert code == 0 and "would add" in out
    _, out, _ = cli(db, "export", "--what", "current", "--format", "jsonl")
    assert out == ""


def test_gsc_import_needs_a_target(db: str) -> None:
    code, _, err = cli(db, "import", str(FIXTURES / "gsc_latest_en.csv"))
    assert code == 2 and "--target" in err
    code, out, err = cli(db, "import", "--target", "https://me.example/", "--tag", "gsc", str(FIXTURES / "gsc_latest_en.csv"))
    assert code == 0, err
    _, out, _ = cli(db, "export", "--format", "jsonl", "--tag", "gsc")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and {(r["target_url"], r["match"], r["status"]) for r in rows} == {("https://me.example/", "domain", "unchecked")}
    assert all(r["tags"] == ["gsc"] for r in rows)


def test_bad_options_name_the_fix(db: str) -> None:
    code, _, err = cli(db, "import", "--format", "excel", str(FIXTURES / "ours.csv"))
    assert code == 2 and "choose one of csv" in err
    code, _, err = cli(db, "import", "--target", "javascript:alert(1)", str(FIXTURES / "links.txt"))
    assert code == 2 and "unsupported scheme" in err


def _observe_all(db: str, anchor: str = "=SUM(A1) anchor") -> None:
    """Two nights of observations written straight through the store: a nofollow link, then none."""
    live_then_missing(db, lambda t: LinkRecord(href=t, url=t, tag="a", anchor=anchor, rel=("nofollow",)), follow=False)


def test_status_changes_and_exports(db: str, tmp_path: Path) -> None:
    cli(db, "import", str(FIXTURES / "ours.csv"))
    _observe_all(db)
    code, out, _ = cli(db, "status")
    assert code == 0 and "lost" in out and "link_removed" in out and "run 2: finished" in out
    code, out, _ = cli(db, "changes", "--kind", "lost")
    assert code == 0 and "lost" in out and "first_seen" not in out
    code, out, _ = cli(db, "changes", "--run", "1")
    assert "first_seen" in out and "lost" not in out
    code, out, _ = cli(db, "changes", "--since", "2030-01-01")
    assert out.strip() == "No changes."

    target = tmp_path / "current.csv"
    code, out, _ = cli(db, "export", "--what", "current", "--format", "csv", "-o", str(target))
    assert code == 0 and "wrote" in out
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert tuple(rows[0]) == CURRENT_FIELDS
    assert {r["status"] for r in rows} == {"lost"}
    # Lost: the link fields say what the last check saw (no link); the last sighting is kept apart.
    assert (rows[0]["anchors"], rows[0]["rel"], rows[0]["link_count"], rows[0]["follow"]) == ("", "", "0", "")
    assert rows[0]["last_seen_anchors"] == "'=SUM(A1) anchor"  # formula injection defused
    assert rows[0]["last_seen_rel"] == "nofollow" and rows[0]["last_seen_follow"] == "false"

    code, out, _ = cli(db, "export", "--what", "events", "--format", "csv")
    events = list(csv.DictReader(io.StringIO(out)))
    assert tuple(events[0]) == EVENT_FIELDS
    assert {(e["kind"], e["run"]) for e in events} == {("first_seen", "1"), ("lost", "2")}

    code, out, _ = cli(db, "export", "--what", "checks", "--format", "jsonl", "--run", "2")
    checks = [json.loads(line) for line in out.splitlines()]
    assert checks and {(c["observed"], c["status"], c["run"]) for c in checks} == {("missing_unconfirmed", "lost", 2)}


NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("7d", NOW - timedelta(days=7)),
        (" 12h ", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T05:00:00+01:00", datetime(2026, 11, 1, 4, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, moment: datetime) -> None:
    assert parse_since(text, NOW) == moment


def test_parse_since_rejects_garbage() -> None:
    with pytest.raises(typer.BadParameter, match="use 7d"):
        parse_since("last tuesday", NOW)


HOSTILE_ANCHOR = "\x1b[2J\x1b]0;TITLE\x07 \u202etxt.exe"
TERMINAL_ACTS_ON = ("\x1b", "\x07", "\u202e")


def test_page_text_and_urls_reach_the_terminal_inert(db: str, tmp_path: Path) -> None:
    source = tmp_path / "hostile.csv"
    source.write_text(
        "referring_url,target_url,match\n"
        "https://a.example/\u202efdp.html,https://me.example/,exact\n", encoding="utf-8"
    )
    assert cli(db, "import", str(source))[0] == 0
    _observe_all(db, anchor=HOSTILE_ANCHOR)
    shown = [cli(db, "status"), cli(db, "changes"), *(cli(db, "export", "--what", what) for what in ("current", "checks", "events"))]
    for code, out, err in shown:
        assert code == 0, err
        assert not [c for c in TERMINAL_ACTS_ON if c in out + err], out
    # A file keeps the data as it was stored: C0 controls were already removed where the anchor
    # entered (crawler.core.clean), a bidi override is data and stays.
    stored = storable(HOSTILE_ANCHOR, TEXT_CHARS)
    assert stored == "[2J]0;TITLE \u202etxt.exe"
    target = tmp_path / "current.csv"
    cli(db, "export", "--what", "checks", "--format", "csv", "-o", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert {r["anchors"] for r in rows} >= {stored} and "\u202e" in rows[0]["referring_url"]
    code, out, _ = cli(db, "export", "--what", "checks", "--format", "jsonl")
    assert {json.loads(line)["anchors"][0] for line in out.splitlines() if json.loads(line)["anchors"]} == {stored}


def test_import_output_keeps_each_message_on_its_own_line(db: str, tmp_path: Path) -> None:
    """The summary line and the bad-row lines never run into each other, on one merged stream."""
    path = tmp_path / "mine.csv"
    path.write_text(
        "referring_url,target_url,match\n"
        "https://a.example/p,example.com,domain\n"
        "not a url,https://me.example/,exact\n"
    )
    script = "import sys; from crawler.cli.app import app; sys.argv = ['backlinks', *sys.argv[1:]]; app()"
    done = subprocess.run(
        [sys.executable, "-c", script, "--database", db, "import", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "60"},
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines() == [
        f"{path}: read as csv (UTF-8, comma-separated)",
        f"{path}:3: referring_url: 'not a url' is not an absolute URL: expected http:// or https:// and a host",
        f"{path}: added 1, updated 0, unchanged 0, duplicates 0, bad rows 1",
    ]


def test_import_target_may_be_a_bare_host_in_domain_mode(db: str, tmp_path: Path) -> None:
    path = tmp_path / "pages.txt"
    path.write_text("https://a.example/p\n")
    code, out, err = cli(db, "import", str(path), "--target", "example.com", "--match", "domain")
    assert code == 0 and "added 1" in out, err
    code, _, err = cli(db, "import", str(path), "--target", "example.com", "--match", "exact")
    assert code == 2 and "is not an absolute URL" in err
