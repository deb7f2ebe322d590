"""Importers: every format and its awkward variants, from sample files in tests/fixtures/imports/."""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.core.importers import FORMATS, ImportFormatError, ImportRow, detect_format, ours, read_backlinks
from crawler.core.importers.text import MAX_LINE_CHARS, sniff_encoding
from crawler.core.items import BacklinkIn, MatchMode

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
ME = "https://me.example/"


def rows(name: str | Path, **kwargs: object) -> list[ImportRow]:
    path = name if isinstance(name, Path) else FIXTURES / name
    return list(read_backlinks(path, **kwargs))  # type: ignore[arg-type]


def summary(row: ImportRow) -> tuple[object, ...]:
    """``(line, referring, target, anchor, rel)`` for a backlink, ``(line, error)`` for a rejection."""
    if row.backlink is None:
        return (row.line, row.error)
    b = row.backlink
    return (row.line, b.referring_url, b.target_url, b.expected_anchor, b.expected_rel)


AHREFS_EXPECTED = [
    (2, "https://blog.example/widgets", ME, "Widget Co", ""),
    # The left context spans two lines, so the next record starts on line 5.
    (3, "https://news.example/sp", "https://me.example/buy", 'the "best" shop', "nofollow sponsored"),
    (5, "https://forum.example/t/9", ME, None, "ugc"),
    (6, "referring_url: unsupported scheme 'javascript' (only http and https)"),
    (7, "Nofollow: expected true/false or 1/0, got 'maybe'"),
]

FIXTURE_CASES = {
    "ours.csv": (
        {},
        [
            (2, "https://blog.example/post", ME, "Best widgets", None),
            (3, "https://news.example/a", "https://me.example/docs/", None, "nofollow ugc"),
            (4, "https://forum.example/t/1", ME, None, ""),
            (5, "referring_url: unsupported scheme 'ftp' (only http and https)"),
            (6, "referring_url: URL carries credentials (user:password@); remove them"),
            (7, "match: 'fuzzy' is not one of exact, prefix, domain"),
            (8, "referring_url: missing"),
            (9, "target_url: unsupported scheme 'javascript' (only http and https)"),
            (10, "https://blog.example/d", ME, None, None),  # trailing optional cells left out
            (11, 'https://blog.example/"quoted"', ME, "anchor, with comma", None),
            (13, "https://blog.example/e", ME, None, None),
        ],
    ),
    "ours_semicolon.csv": (
        {},
        [
            (2, "https://a.example/1", ME, None, None),
            (3, "https://a.example/2", "https://me.example/x", None, None),
            (5, "https://a.example/3", "https://me.example/y", None, None),
        ],
    ),
    "ours_cp1252.csv": ({}, [(2, "https://a.example/caf\u00e9", ME, None, None)]),
    "ours.json": (
        {},
        [
            (2, "https://a.example/1", ME, "Widgets", None),
            (4, "referring_url: unsupported scheme 'mailto' (only http and https)"),
            (8, "https://a.example/2", ME, None, None),
            (9, "expected a JSON object, got str"),
            (10, "target_url: expected a string, got int"),
        ],
    ),
    "ours.jsonl": (
        {},
        [
            (1, "https://a.example/1", ME, None, "nofollow sponsored"),
            (3, "https://a.example/2", ME, None, None),
            (4, "invalid JSON: Expecting value"),
            (5, "https://a.example/4", ME, None, None),
        ],
    ),
    "links.txt": (
        {"target": ME},
        [
            (2, "https://a.example/1", ME, None, None),
            (4, "https://a.example/2", ME, None, None),
            (5, "referring_url: unsupported scheme 'mailto' (only http and https)"),
            (6, "https://a.example/3", ME, None, None),
            (7, "referring_url: unsupported scheme 'javascript' (only http and https)"),
            (8, "referring_url: 'not a url' is not an absolute URL: expected http:// or https:// and a host"),
        ],
    ),
    "gsc_latest_en.csv": (
        {"target": ME},
        [
            (2, "https://a.example/post", ME, None, None),
            (3, "https://b.example/page?x=1", ME, None, None),
            (4, "referring_url: unsupported scheme 'ftp' (only http and https)"),
        ],
    ),
    "gsc_latest_de.csv": (
        {"target": ME},
        [
            (2, "https://a.example/beitrag", ME, None, None),
            (3, "https://b.example/seite", ME, None, None),
        ],
    ),
    "gsc_latest_fr.csv": (
        {"target": ME},
        [
            (2, "https://a.example/article", ME, None, None),
            (3, "https://b.example/page", ME, None, None),
        ],
    ),
    "ahrefs_utf16.csv": ({}, AHREFS_EXPECTED),
    "ahrefs_utf8.csv": ({}, AHREFS_EXPECTED),
    "ahrefs_old.csv": (
        {},
        [
            (2, "https://blog.example/old", ME, "Widgets", ""),
            (3, "https://news.example/old", "https://me.example/x", "click here", "nofollow"),
            (4, "https://blog.example/none", ME, None, None),  # no Dofollow value: rel unknown
        ],
    ),
    "semrush.csv": (
        {},
        [
            (2, "https://blog.example/review", ME, "Widget Co", ""),
            (3, "https://deals.example/d", "https://me.example/shop", "buy now", "nofollow sponsored"),
            (4, "target_url: missing"),
        ],
    ),
    "semrush_v2.csv": (
        {},
        [
            (2, "https://blog.example/v2", ME, "Widgets", "nofollow"),
            (3, "https://blog.example/v2b", "https://me.example/a", None, ""),
        ],
    ),
    "majestic.csv": (
        {},
        [
            (2, "https://blog.example/m1", ME, "Widget Co", ""),
            (3, "https://blog.example/m2", ME, "nofollowed", "nofollow"),
            (4, "broken quoting: ',' expected after '\"'"),
            (5, "expected 14 columns, found 15 (an unquoted delimiter in a field?)"),
            (6, "unclosed quote"),
            (7, "https://blog.example/m6", ME, "after the broken rows", ""),
            (8, "https://blog.example/m7", ME, "Image", ""),
        ],
    ),
    "moz.csv": (
        {},
        [
            (8, "https://blog.example/moz1", ME, "Widget Co", ""),
            (9, "https://blog.example/moz2", "https://me.example/x", "click here", "nofollow"),
            (10, "https://blog.example/moz3", ME, None, None),
        ],
    ),
}


@pytest.mark.parametrize("name", FIXTURE_CASES)
def test_fixture_rows(name: str) -> None:
    kwargs, expected = FIXTURE_CASES[name]
    assert [summary(r) for r in rows(name, **kwargs)] == expected


DETECTION = {
    "ours.csv": "csv",
    "ours_semicolon.csv": "csv",
    "ours_cp1252.csv": "csv",
    "ours.json": "json",
    "ours.jsonl": "json",
    "links.txt": "list",
    "gsc_latest_en.csv": "gsc",
    "gsc_latest_de.csv": "gsc",
    "gsc_latest_fr.csv": "gsc",
    "gsc_top_sites.csv": "gsc",
    "gsc_top_pages.csv": "gsc",
    "ahrefs_utf16.csv": "ahrefs",
    "ahrefs_utf8.csv": "ahrefs",
    "ahrefs_old.csv": "ahrefs",
    "semrush.csv": "semrush",
    "semrush_v2.csv": "semrush",
    "majestic.csv": "majestic",
    "moz.csv": "moz",
}


def test_every_fixture_has_a_detection_case() -> None:
    assert sorted(DETECTION) == sorted(p.name for p in FIXTURES.iterdir())
    assert set(DETECTION.values()) == set(FORMATS)


@pytest.mark.parametrize(("name", "expected"), DETECTION.items())
def test_detect_format(name: str, expected: str) -> None:
    assert detect_format(FIXTURES / name) == expected


@pytest.mark.parametrize("name", FIXTURE_CASES)
def test_explicit_format_reads_like_detection(name: str) -> None:
    kwargs, _ = FIXTURE_CASES[name]
    expected = DETECTION[name]
    detected = [summary(r) for r in rows(name, **kwargs)]
    assert [summary(r) for r in rows(name, format=expected, **kwargs)] == detected


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("links", "https://a.example/\n", "list"),
        ("links.csv", "# my links\nhttps://a.example/\n", "list"),
        ("links.txt", "a.example/page\n", "list"),  # rejected per row, not per file
        ("export", '[{"referring_url": "https://a.example/"}]', "json"),
        ("export", '\n  {"referring_url": "https://a.example/"}\n', "json"),
        ("export.json", "", None),
        ("export.ndjson", "   \n", None),
        ("x.csv", "REFERRING URL , Target URL\n", "csv"),
        ("x.csv", '\ufeff"Target URL"\t"URL From"\n', "ahrefs"),
    ],
)
def test_detection_table(tmp_path: Path, filename: str, content: str, expected: str | None) -> None:
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    if expected is None:
        with pytest.raises(ImportFormatError, match="is empty"):
            detect_format(path)
    else:
        assert detect_format(path) == expected


def test_unknown_file_names_the_candidates(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Domain,Backlinks\nexample.org,12\n", encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        detect_format(path)
    message = str(info.value)
    assert "first line 'Domain,Backlinks'" in message
    assert "--format" in message and all(f in message for f in FORMATS)


def test_ambiguous_header_names_both_formats(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Source URL,Target URL,Page ascore,FlagNoFollow\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="could be semrush or majestic; pass --format"):
        detect_format(path)
    assert rows(path, format="majestic") == []


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("gsc_latest_en.csv", {}, "pass --target https://your-site.com/"),
        ("gsc_latest_de.csv", {}, "pass --target https://your-site.com/"),
        ("links.txt", {}, "pass --target https://your-site.com/"),
        ("links.txt", {"format": "list"}, "pass --target https://your-site.com/"),
        ("semrush.csv", {"format": "ahrefs"}, "ahrefs: no 'referring page url' column"),
        ("ahrefs_utf8.csv", {"format": "majestic"}, "majestic: no 'source url' column"),
        ("moz.csv", {"format": "csv"}, "csv: no 'referring url' column"),
        ("ours.csv", {"format": "xlsx"}, "unknown format 'xlsx'; choose one of csv, json"),
        ("ours.csv", {"target": "ftp://me.example/"}, "--target: unsupported scheme 'ftp'"),
        ("ours.csv", {"match": "fuzzy"}, "--match: 'fuzzy' is not one of exact, prefix, domain"),
    ],
)
def test_whole_file_errors(name: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ImportFormatError, match=message.replace("?", r"\?")):
        read_backlinks(FIXTURES / name, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "export"),
    [("gsc_top_sites.csv", "Top linking sites"), ("gsc_top_pages.csv", "Top linked pages")],
)
def test_gsc_summaries_are_refused(name: str, export: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        read_backlinks(FIXTURES / name, target=ME)
    assert f"Search Console's {export!r} export" in str(info.value)
    assert "'Latest links'" in str(info.value)


def test_whole_file_errors_come_before_any_row() -> None:
    # Raised by the call itself, so a caller never starts a transaction for a doomed file.
    with pytest.raises(ImportFormatError):
        read_backlinks(FIXTURES / "gsc_latest_en.csv")
    assert isinstance(read_backlinks(FIXTURES / "gsc_latest_en.csv", target=ME), Iterator)


@pytest.mark.parametrize("name", [n for n in DETECTION if not n.startswith("gsc_top")])
def test_target_and_match_arguments_override_every_row(name: str) -> None:
    target = "https://other.example/landing"
    imported = [r.backlink for r in rows(name, target=target, match=MatchMode.DOMAIN) if r.backlink]
    assert imported
    assert {(b.target_url, b.match) for b in imported} == {(target, MatchMode.DOMAIN)}


@pytest.mark.parametrize("name", [n for n in DETECTION if not n.startswith("gsc_top")])
def test_rows_carry_source_and_default_fields(name: str) -> None:
    kwargs = {"target": ME} if DETECTION[name] in ("gsc", "list") else {}
    for row in rows(name, **kwargs):
        assert (row.backlink is None) != (row.error is None)
        if row.backlink is not None and DETECTION[name] not in ("csv", "json"):
            assert row.backlink.source == DETECTION[name]
            assert row.backlink.tags == [] and row.backlink.notes is None
            # Exports that name no target page match the whole site by default.
            site_only = DETECTION[name] in ("gsc", "list")
            assert row.backlink.match is (MatchMode.DOMAIN if site_only else MatchMode.EXACT)


def test_our_csv_fields() -> None:
    first, second, third = (r.backlink for r in rows("ours.csv")[:3])
    assert first == BacklinkIn(
        referring_url="https://blog.example/post",
        target_url=ME,
        match=MatchMode.EXACT,
        expected_anchor="Best widgets",
        tags=["partner", "2024"],
        notes="from outreach",
        source="csv",
    )
    assert second is not None and second.match is MatchMode.PREFIX and second.tags == ["pr", "news"]
    assert third is not None and third.match is MatchMode.DOMAIN  # case-insensitive
    assert rows("ours.csv")[9].backlink.notes == "multi\nline note"  # type: ignore[union-attr]


def test_our_json_fields() -> None:
    first = rows("ours.json")[0].backlink
    assert first is not None and first.source == "json"
    assert (first.match, first.tags) == (MatchMode.PREFIX, ["x", "y"])
    assert rows("ours.json")[2].backlink.tags == ["a", "b"]  # type: ignore[union-attr]
    assert rows("ours.jsonl")[1].backlink.match is MatchMode.DOMAIN  # type: ignore[union-attr]


def test_cp1252_fallback_decodes_the_whole_row() -> None:
    (row,) = rows("ours_cp1252.csv")
    assert row.backlink is not None and row.backlink.notes == "r\u00e9sum\u00e9 \u2013 \u20ac5"


def test_error_rows_print_with_their_line_numbers() -> None:
    assert str(rows("ours.csv")[3]) == "line 5: referring_url: unsupported scheme 'ftp' (only http and https)"


def test_import_row_holds_exactly_one_outcome() -> None:
    with pytest.raises(ValueError):
        ImportRow(1)
    with pytest.raises(ValueError):
        ImportRow(1, backlink=BacklinkIn(referring_url=ME, target_url=ME), error="both")


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "complete", "expected"),
    [
        (codecs.BOM_UTF8 + b"a,b", True, "utf-8-sig"),
        (codecs.BOM_UTF16_LE + "a,b".encode("utf-16-le"), True, "utf-16"),
        (codecs.BOM_UTF16_BE + "a,b".encode("utf-16-be"), True, "utf-16"),
        ("referring_url,target_url".encode("utf-16-le"), True, "utf-16-le"),
        ("referring_url,target_url".encode("utf-16-be"), True, "utf-16-be"),
        ("caf\u00e9".encode(), True, "utf-8"),
        ("caf\u00e9".encode()[:-1], False, "utf-8"),  # cut mid-character by the head size
        ("caf\u00e9".encode()[:-1], True, "cp1252"),
        ("caf\u00e9".encode("cp1252"), True, "cp1252"),
        (b"", True, "utf-8"),
    ],
)
def test_sniff_encoding(data: bytes, complete: bool, expected: str) -> None:
    assert sniff_encoding(data, complete=complete) == expected


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-8-sig", "cp1252"])
def test_our_csv_in_any_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "links.csv"
    path.write_bytes(
        "referring_url,target_url,notes\nhttps://a.example/,https://me.example/,\u00e9t\u00e9\n".encode(
            encoding
        )
    )
    (row,) = rows(path)
    assert row.backlink is not None and row.backlink.notes == "\u00e9t\u00e9"


def test_undecodable_bytes_reject_only_their_row(tmp_path: Path) -> None:
    # The head is valid UTF-8, so UTF-8 is chosen; a later Latin-1 byte breaks one row only.
    path = tmp_path / "links.csv"
    good = "https://a.example/{},https://me.example/\n"
    body = "referring_url,target_url\n" + "".join(good.format(i) for i in range(3000))
    bad = b"https://a.example/caf\xe9,https://me.example/\n"
    path.write_bytes(body.encode() + bad + good.format("z").encode())
    result = rows(path)
    assert len(result) == 3002
    assert [summary(r) for r in result if r.error] == [
        (3002, "bytes that are not valid utf-8; save the file as UTF-8")
    ]
    last = result[-1].backlink  # the row after the bad bytes is read
    assert last is not None and last.referring_url == "https://a.example/z"


def test_undecodable_bytes_in_a_list_and_in_json(tmp_path: Path) -> None:
    listing = tmp_path / "links.txt"
    listing.write_bytes(b"https://a.example/1\n" * 5000 + b"https://a.example/\xff\n")
    assert rows(listing, target=ME)[-1].error == "bytes that are not valid utf-8; save the file as UTF-8"
    lines = tmp_path / "links.jsonl"
    line = b'{"referring_url": "https://a.example/", "target_url": "https://me.example/"}\n'
    lines.write_bytes(line * 1000 + line.replace(b"a.example", b"\xff.example"))
    assert rows(lines)[-1].error == "bytes that are not valid utf-8; save the file as UTF-8"


def test_escaped_lone_surrogate_in_json_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "links.jsonl"
    item = '{"referring_url": "https://a.example/", "target_url": "https://me.example/", "notes": "\\udc80"}'
    path.write_text(item + "\n", encoding="utf-8")
    assert rows(path)[0].error == "notes: invalid character (lone surrogate)"


# --- record splitting ----------------------------------------------------------------------------


def test_control_characters_and_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_bytes(
        b"referring_url,target_url\r"  # old Mac line endings
        b"https://a.example/,https://me.example/\r"
        b'"https://a.example/\x07bell",https://me.example/\r'
        b"https://a.example/\x00,https://me.example/\r"
    )
    assert [summary(r) for r in rows(path)] == [
        (2, "https://a.example/", ME, None, None),
        (3, "referring_url: control character in URL"),
        (4, "referring_url: control character in URL"),
    ]


def test_unclosed_quote_gives_up_after_a_bounded_number_of_lines(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    good = "https://a.example/{},https://me.example/\n"
    path.write_text(
        "referring_url,target_url\n"
        + '"https://a.example/x,https://me.example/\n'
        + "".join(good.format(i) for i in range(100)),
        encoding="utf-8",
    )
    result = rows(path)
    assert summary(result[0]) == (2, "unclosed quote")
    assert [r.line for r in result[1:]] == list(range(3, 103))  # every later row still imports
    assert all(r.backlink for r in result[1:])


def test_over_long_line_is_one_row_error(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text(
        "referring_url,target_url\n"
        f"https://a.example/{'x' * MAX_LINE_CHARS},https://me.example/\n"
        "https://a.example/ok,https://me.example/\n",
        encoding="utf-8",
    )
    assert [summary(r)[:2] for r in rows(path)] == [
        (2, "line longer than 1 MiB"),
        (3, "https://a.example/ok"),
    ]


def test_row_padding_and_extra_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text(
        "referring_url,target_url,expected_anchor\n"
        "https://a.example/1,https://me.example/\n"  # short: padded
        "https://a.example/2,https://me.example/,a,,\n"  # spreadsheet padding: tolerated
        "https://a.example/3,https://me.example/,a,b\n",  # a shifted value: rejected
        encoding="utf-8",
    )
    assert [summary(r) for r in rows(path)] == [
        (2, "https://a.example/1", ME, None, None),
        (3, "https://a.example/2", ME, "a", None),
        (4, "expected 3 columns, found 4 (an unquoted delimiter in a field?)"),
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([",", "\t", ";"]),
)
def test_our_csv_round_trips_any_text(fields: list[tuple[str, str]], delimiter: str) -> None:
    """Whatever a CSV writer produces (quotes, newlines, delimiters in anchors), each row comes back."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["referring_url", "target_url", "expected_anchor", "notes"])
    for i, (anchor, notes) in enumerate(fields):
        writer.writerow([f"https://a.example/{i}", ME, anchor, notes])
    path = _temp_file(buffer.getvalue().encode())
    try:
        imported = rows(path, format="csv")
    finally:
        path.unlink()
    assert [r.error for r in imported] == [None] * len(fields)
    assert [(r.backlink.expected_anchor, r.backlink.notes) for r in imported] == [  # type: ignore[union-attr]
        (anchor.strip() or None, notes.strip() or None) for anchor, notes in fields
    ]


def _temp_file(data: bytes) -> Path:
    # Hypothesis runs many examples per test, so pytest's per-test tmp_path cannot be used.
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as handle:
        handle.write(data)
    return Path(handle.name)


# --- JSON arrays are streamed --------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 7, 64, ours.JSON_CHUNK_CHARS])
def test_json_array_reads_the_same_with_any_chunk_size(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(ours, "JSON_CHUNK_CHARS", chunk)
    assert [summary(r) for r in rows("ours.json")] == FIXTURE_CASES["ours.json"][1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", []),
        (
            '[{"referring_url": "https://a.example/", "target_url": "https://me.example/"}',
            [(1, "https://a.example/", ME, None, None), (1, "invalid JSON: the array is not closed")],
        ),
        (
            '[\n{"referring_url": "https://a.example/"\n\n "target_url": "x"}]',
            [(2, "invalid JSON: Expecting ',' delimiter")],
        ),
        (
            '[\n{"referring_url": "https://a.example/", "target_url": "https://me.example/"} {}]',
            [(2, "https://a.example/", ME, None, None), (2, "invalid JSON: expected ',' or ']'")],
        ),
        ("[1,\n\n2]", [(1, "expected a JSON object, got int"), (3, "expected a JSON object, got int")]),
        ("[{}] trailing", [(1, "referring_url: missing"), (1, "invalid JSON: text after the closing ']'")]),
        ("[,]", [(1, "invalid JSON: Expecting value")]),
    ],
)
def test_json_array_errors(tmp_path: Path, text: str, expected: list[tuple[object, ...]]) -> None:
    path = tmp_path / "links.json"
    path.write_text(text, encoding="utf-8")
    assert [summary(r) for r in rows(path)] == expected


# --- bounded memory ------------------------------------------------------------------------------

ROWS = 10_000
FILLER = "x" * 2000  # fat rows: the file is ~20 MiB, far above the memory allowed below


def _write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("referring_url,target_url,match,expected_anchor,notes\n")
        for i in range(ROWS):
            out.write(f'https://site{i}.example/post,{ME},exact,"Anchor, {i}",{FILLER}\n')


def _write_json(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for i in range(ROWS):
            item = {"referring_url": f"https://site{i}.example/post", "target_url": ME, "notes": FILLER}
            out.write(("," if i else "") + json.dumps(item) + "\n")
        out.write("]\n")


def _write_ahrefs(path: Path) -> None:
    with path.open("w", encoding="utf-16", newline="") as out:  # UTF-16LE with BOM, like Ahrefs
        out.write('"Referring page URL"\t"Target URL"\t"Anchor"\t"Left context"\r\n')
        for i in range(ROWS):
            out.write(f'"https://site{i}.example/"\t"{ME}"\t"a"\t"{FILLER}"\r\n')


@pytest.mark.parametrize(
    ("writer", "name"),
    [(_write_csv, "big.csv"), (_write_json, "big.json"), (_write_ahrefs, "big-ahrefs.csv")],
)
def test_large_files_import_in_bounded_memory(tmp_path: Path, writer: object, name: str) -> None:
    path = tmp_path / name
    writer(path)  # type: ignore[operator]
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = sum(1 for row in read_backlinks(path) if row.backlink is not None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == ROWS
    assert size > 19 * 2**20
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB file"


def test_german_top_linking_sites_with_dotted_thousands(tmp_path: Path) -> None:
    path = tmp_path / "Top-Verweis-Websites.csv"
    path.write_text(
        "Website;Verweisende Seiten;Zielseiten\na.example;1.234;12\nb.example;987;3\n", "utf-8-sig"
    )
    assert detect_format(path) == "gsc"
    with pytest.raises(ImportFormatError, match="'Top linking sites' export"):
        read_backlinks(path, target=ME)


def test_our_csv_without_a_target_column_needs_the_target_argument(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text("referring_url,tags\nhttps://a.example/,x|y\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="csv: no 'target url' column"):
        read_backlinks(path)
    (row,) = rows(path, target=ME)
    assert row.backlink is not None and (row.backlink.target_url, row.backlink.tags) == (ME, ["x", "y"])


def test_domain_targets_as_users_write_them(tmp_path: Path) -> None:
    """match=domain takes a bare host, with or without www. and a path; elsewhere a value that is
    not a URL is told what is expected."""
    path = tmp_path / "links.csv"
    path.write_text(
        "referring_url,target_url,match\n"
        "https://a.example/p,example.com,domain\n"
        "https://b.example/p,www.example.com/blog,domain\n"
        "https://c.example/p,https://example.com/,domain\n"
        "https://d.example/p,example.com,exact\n"
        "https://e.example/p,not a host,domain\n"
        "https://f.example/p,mailto:me@example.com,domain\n"
    )
    assert [summary(row) for row in rows(path)] == [
        (2, "https://a.example/p", "https://example.com", None, None),
        (3, "https://b.example/p", "https://www.example.com/blog", None, None),
        (4, "https://c.example/p", "https://example.com/", None, None),
        (5, "target_url: 'example.com' is not an absolute URL: expected http:// or https:// and a host"
            " (a bare host will do with match=domain)"),
        (6, "target_url: 'not a host' is neither a URL nor a host name: expected example.com or https://example.com/"),
        (7, "target_url: unsupported scheme 'mailto' (only http and https)"),
    ]
    listing = tmp_path / "pages.txt"
    listing.write_text("https://a.example/p\n")
    (row,) = rows(listing, target="www.example.com")  # a list's rows are domain mode
    assert row.backlink is not None and row.backlink.target_url == "https://www.example.com"
