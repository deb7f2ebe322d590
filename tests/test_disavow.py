"""The disavow file: Google's format and limits, merging and excluding, and only what the user selected."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.disavow import MAX_URL_CHARS, DisavowError, Listed, build, read_listed

runner = CliRunner()
TODAY = date(2026, 12, 3)


def test_pages_are_written_as_ascii_urls_under_a_dated_comment() -> None:
    result = build(
        ["https://Bücher.example/Seite?q=ü#frag", "https://spam.test/a", "https://spam.test/a"],
        domains=False, reason="selected by --tag toxic", today=TODAY,
    )
    assert result.lines == [
        "# 2026-12-03: selected by --tag toxic",
        "https://xn--bcher-kva.example/Seite?q=%C3%BC",
        "https://spam.test/a",
    ]
    assert result.added == 2
    assert result.text().isascii()


def test_domains_are_registrable_domains() -> None:
    result = build(["https://www.spam.co.uk/x", "https://blog.spam.co.uk/y", "https://ünï.test/"],
                   domains=True, reason="r", today=TODAY)
    assert result.lines[1:] == ["domain:spam.co.uk", "domain:xn--n-nga1b.test"]


def test_a_reason_cannot_break_out_of_its_comment() -> None:
    result = build(["https://spam.test/"], domains=False, reason="--tag a\nhttps://friend.test/\u202e", today=TODAY)
    assert result.lines == ["# 2026-12-03: --tag a?https://friend.test/?", "https://spam.test/"]


def test_merging_keeps_the_file_and_adds_only_what_it_lacks() -> None:
    existing = "\ufeff# my old file\ndomain:Old-Spam.test\nhttps://x.test/page\n"
    merged, lines = read_listed(existing, source="old.txt")
    assert merged == Listed(frozenset({"old-spam.test"}), frozenset({"https://x.test/page"}))
    result = build(
        ["https://x.test/page", "https://sub.old-spam.test/p", "https://new.test/q"],
        domains=False, reason="r", today=TODAY, merge=lines, merged=merged,
    )
    assert result.lines == ["# my old file", "domain:Old-Spam.test", "https://x.test/page", "", "# 2026-12-03: r",
                            "https://new.test/q"]
    assert (result.added, result.already) == (1, 2)


def test_excluded_domains_and_urls_are_never_disavowed() -> None:
    exclude, _ = read_listed("partner.test\nhttps://friend.test/keep\n# comment\n", source="keep.txt")
    result = build(["https://www.partner.test/a", "https://friend.test/keep", "https://friend.test/other"],
                   domains=False, reason="r", today=TODAY, exclude=exclude)
    assert result.lines[1:] == ["https://friend.test/other"]
    assert result.excluded == 2
    assert build(["https://blog.partner.test/"], domains=True, reason="r", today=TODAY, exclude=exclude).lines == []


def test_nothing_selected_writes_no_comment() -> None:
    assert build([], domains=False, reason="r", today=TODAY).lines == []


def test_a_url_over_2048_characters_is_left_out_and_said() -> None:
    long = "https://spam.test/" + "a" * MAX_URL_CHARS
    result = build([long, "https://spam.test/"], domains=False, reason="r", today=TODAY)
    assert result.lines[1:] == ["https://spam.test/"]
    assert result.too_long == [long]


def test_googles_limits_are_refused_not_cut() -> None:
    with pytest.raises(DisavowError, match="100,001 lines, more than the 100,000"):
        build([f"https://s{i}.test/" for i in range(100_000)], domains=False, reason="r", today=TODAY)
    pages = [f"https://spam.test/{i}/" + "p" * 2000 for i in range(1100)]
    with pytest.raises(DisavowError, match="more than the 2 MB"):
        build(pages, domains=False, reason="r", today=TODAY)


@pytest.mark.parametrize("line", ["domain:", "domain:a/b", "ftp://x.test/", "https://exa mple.test/"])
def test_a_bad_line_in_a_file_read_is_named(line: str) -> None:
    with pytest.raises(DisavowError, match=re.escape(f"old.txt:2: '{line}'")):
        read_listed(f"# ok\n{line}\n", source="old.txt")


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    source = tmp_path / "links.csv"
    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url", "match", "tags"])
        writer.writerows([
            ["https://www.spam.test/a", "https://me.test/", "exact", "toxic"],
            ["https://blog.spam.test/b", "https://me.test/", "exact", "toxic"],
            ["https://friend.test/c", "https://me.test/", "exact", "toxic"],
            ["https://good.test/d", "https://me.test/", "exact", "client"],
        ])
    assert runner.invoke(app, ["--database", db_url, "import", str(source)]).exit_code == 0
    return db_url


def test_the_command_writes_what_the_user_tagged(db: str, tmp_path: Path) -> None:
    out = tmp_path / "disavow.txt"
    out.write_text("# kept\nhttps://old.test/x\n")
    keep = tmp_path / "keep.txt"
    keep.write_text("friend.test\n")
    args = ["--database", db, "disavow", "--tag", "toxic", "--domains", "--merge", str(out), "--exclude", str(keep), "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[:3] == ["# kept", "https://old.test/x", ""]
    assert out.read_text().splitlines()[3].endswith(": selected by --tag toxic --domains")
    assert out.read_text().splitlines()[4:] == ["domain:spam.test"]
    assert result.stderr.strip() == f"disavow: 1 domains added, 0 already in {out}, 1 excluded (3 backlinks selected)"
    again = runner.invoke(app, args)  # merging its own output again adds nothing
    assert again.stderr.strip().startswith("disavow: 0 domains added, 2 already in")
    assert "domain:spam.test" in out.read_text()


def test_a_status_alone_or_no_selection_is_refused(db: str) -> None:
    for extra in ([], ["--status", "unchecked"]):
        result = runner.invoke(app, ["--database", db, "disavow", *extra])
        assert result.exit_code == 2
        assert "a status alone is no reason to disavow a link" in result.stderr
    narrowed = runner.invoke(app, ["--database", db, "disavow", "--tag", "client", "--status", "unchecked"])
    assert narrowed.stdout.splitlines()[1:] == ["https://good.test/d"]
