"""Imports that explain themselves: the detected format and encoding, what each update changed, a
match mode never changed silently, an empty file, Excel's localized booleans, `--map` for any layout."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.cli.importing import describe
from crawler.core.importers import ImportFormatError, parse_column_map, read_backlinks
from crawler.core.importers.base import RowError, parse_flag
from pipelines.db import make_engine
from pipelines.models import Backlink

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures" / "imports"


@pytest.mark.parametrize(
    ("cell", "value"),
    [("WAHR", True), ("FALSCH", False), ("Vrai", True), ("FAUX", False), ("VERDADERO", True), ("falso", False),
     ("WAAR", True), ("ONWAAR", False), ("SANT", True), ("FALSKT", False), ("PRAWDA", True), ("FAŁSZ", False),
     ("DOĞRU", True), ("YANLIŞ", False), ("ИСТИНА", True), ("ЛОЖЬ", False), ("TRUE", True), ("0", False), ("", None)],
)
def test_excels_localized_booleans(cell: str, value: bool | None) -> None:
    assert parse_flag("nofollow", cell) is value


def test_a_cell_that_is_no_boolean_is_still_refused() -> None:
    with pytest.raises(RowError, match="nofollow: expected true/false or 1/0, got 'peut-être'"):
        parse_flag("nofollow", "peut-être")


def test_a_semrush_file_resaved_in_german(tmp_path: Path) -> None:
    lines = (FIXTURES / "semrush.csv").read_text().splitlines()
    german = tmp_path / "semrush_de.csv"
    german.write_text("\n".join([lines[0], *(l.replace("true", "WAHR").replace("false", "FALSCH") for l in lines[1:])]) + "\n")
    english = [row.backlink for row in read_backlinks(FIXTURES / "semrush.csv")]
    assert [row.backlink for row in read_backlinks(german)] == english
    assert {b.expected_rel for b in english if b} == {"", "nofollow sponsored"}  # the flags were read


@pytest.mark.parametrize(
    ("specs", "mapping"),
    [
        (["Source URL=referring_url, Link To=target_url"], {"source url": "referring_url", "link to": "target_url"}),
        (["source_url=referring_url", "Kind=match"], {"source url": "referring_url", "kind": "match"}),
        ([], {}),
    ],
)
def test_parse_column_map(specs: list[str], mapping: dict[str, str]) -> None:
    assert parse_column_map(specs) == mapping


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["Source URL"], "write COLUMN=FIELD"),
        (["Source URL=referrer"], "'referrer' is not one of referring_url"),
        (["A=referring_url,A=target_url"], "column 'a' is mapped twice"),
        (["A=referring_url,B=referring_url"], "two columns are mapped to referring_url"),
        (["A=target_url"], "say which column is referring_url"),
    ],
)
def test_bad_column_maps(specs: list[str], message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        parse_column_map(specs)


@pytest.mark.parametrize(
    ("args", "said"),
    [(("utf-16", "\t"), "read as ahrefs (UTF-16, tab-separated)"), (("cp1252", ";"), "read as ahrefs (Windows-1252, semicolon-separated)"),
     (("utf-8", None), "read as ahrefs (UTF-8)")],
)
def test_describe(args: tuple[str, str | None], said: str) -> None:
    assert describe("ahrefs", *args) == said


@pytest.fixture
def db(db_url: str) -> str:
    return db_url


def imported(db: str, path: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database", db, "import", str(path), *args])


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stored(db: str) -> dict[str, tuple[str, str | None]]:
    engine = make_engine(db)
    with engine.connect() as connection:
        found = {r: (m, n) for r, m, n in connection.execute(select(Backlink.referring_url, Backlink.match, Backlink.notes))}
    engine.dispose()
    return found


def test_the_detected_format_and_encoding_are_said(db: str) -> None:
    result = imported(db, FIXTURES / "ahrefs_utf16.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{FIXTURES / 'ahrefs_utf16.csv'}: read as ahrefs (UTF-16, tab-separated)"
    result = imported(db, FIXTURES / "ours_cp1252.csv")
    assert result.stdout.splitlines()[0].endswith("read as csv (Windows-1252, comma-separated)")


def test_updates_say_what_changed_and_the_report_has_every_change(db: str, tmp_path: Path) -> None:
    header = ["referring_url", "target_url", "match", "notes", "tags"]
    rows = [[f"https://blog{i}.test/post", "https://me.test/", "exact", "paid", "a"] for i in range(8)]
    assert imported(db, write(tmp_path / "first.csv", header, rows)).exit_code == 0
    again = [[r, t, m, "paid 2026" if i < 7 else n, "a|b" if i == 0 else g] for i, (r, t, m, n, g) in enumerate(rows)]
    report = tmp_path / "changes.csv"
    result = imported(db, write(tmp_path / "second.csv", header, again), "--report", str(report))
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[1].endswith("added 0, updated 7, unchanged 1, duplicates 0, bad rows 0")
    assert out[2] == "  changed: notes 7, tags 1"
    assert out[3] == "  line 2: https://blog0.test/post -> https://me.test/: notes paid -> paid 2026"
    assert out[4] == "  line 2: https://blog0.test/post -> https://me.test/: tags a -> a|b"
    assert len([line for line in out if line.startswith("  line ")]) == 5  # a sample; the file has all
    with report.open() as written:
        changes = list(csv.DictReader(written))
    assert [(c["line"], c["field"], c["before"], c["after"], c["applied"]) for c in changes] == [
        ("2", "notes", "paid", "paid 2026", "yes"), ("2", "tags", "a", "a|b", "yes"),
        *((str(i + 2), "notes", "paid", "paid 2026", "yes") for i in range(1, 7)),
    ]
    assert stored(db)["https://blog3.test/post"] == ("exact", "paid 2026")


def test_a_reimport_never_changes_the_match_mode_silently(db: str, tmp_path: Path) -> None:
    """A Moz export (exact) after a Search Console one (domain): the links stay site-wide links."""
    header = ["referring_url", "target_url", "match"]
    first = [["https://a.test/p", "https://me.test/", "domain"], ["https://b.test/p", "https://me.test/", "domain"]]
    assert imported(db, write(tmp_path / "gsc.csv", header, first)).exit_code == 0
    moz = write(tmp_path / "moz.csv", header, [[r, t, "exact"] for r, t, _ in first])
    result = imported(db, moz)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].endswith("added 0, updated 0, unchanged 2, duplicates 0, bad rows 0")
    assert "warning: kept the match mode of 2 backlinks the file would change (pass --update-match" in result.stderr
    assert "line 2: https://a.test/p -> https://me.test/: match domain -> exact" in result.stderr
    assert {m for m, _ in stored(db).values()} == {"domain"}
    result = imported(db, moz, "--update-match")
    assert result.stdout.splitlines()[1].endswith("updated 2, unchanged 0, duplicates 0, bad rows 0")
    assert "  changed: match 2" in result.stdout
    assert result.stderr == ""
    assert {m for m, _ in stored(db).values()} == {"exact"}


def test_a_file_with_only_a_header_warns_and_fails(db: str, tmp_path: Path) -> None:
    result = imported(db, write(tmp_path / "empty.csv", ["referring_url", "target_url", "match"], []))
    assert result.exit_code == 1
    assert "empty.csv has no backlink rows (only a header?): nothing imported" in result.stderr


def test_map_reads_any_layout(db: str, tmp_path: Path) -> None:
    path = write(tmp_path / "crm.csv", ["Client", "Source URL", "Link To", "Kind", "Comment"], [
        ["acme", "https://blog.test/x", "https://me.test/", "exact", "bought in May"],
        ["acme", "https://news.test/y", "https://me.test/pricing", "prefix", ""],
    ])
    unknown = imported(db, path)
    assert unknown.exit_code == 2
    assert "cannot tell the format of crm.csv" in unknown.stderr
    result = imported(db, path, "--map", "Source URL=referring_url,link_to=target_url", "--map", "kind=match,COMMENT=notes")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith("read as csv (UTF-8, comma-separated)")
    assert stored(db) == {"https://blog.test/x": ("exact", "bought in May"), "https://news.test/y": ("prefix", None)}
    refused = imported(db, path, "--map", "Source URL=referring_url", "--format", "ahrefs")
    assert refused.exit_code == 2
    assert "--map reads a file as our csv format, not as ahrefs" in refused.stderr
