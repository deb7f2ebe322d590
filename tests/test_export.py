"""Export formats: CSV cells (lists, booleans, dates, formula injection) and JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from crawler.reports.export import csv_cell, write_rows


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (["nofollow", "ugc"], "nofollow|ugc"),
        ([], ""),
        (datetime(2026, 11, 1, 3, 4, 5, tzinfo=UTC), "2026-11-01T03:04:05+00:00"),
        ("plain anchor", "plain anchor"),
        ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
        ("+1 great", "'+1 great"),
        ("-5%", "'-5%"),
        ("@SUM(A1)", "'@SUM(A1)"),
        (["=cmd", "ok"], "'=cmd|ok"),
    ],
)
def test_csv_cell(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


ROWS = [
    {"url": "https://a.test/", "anchors": ["x, y", "z"], "follow": True, "at": datetime(2026, 1, 2, tzinfo=UTC)},
    {"url": "https://b.test/", "anchors": [], "follow": None, "at": None},
]


def test_csv_round_trip_keeps_commas_and_quotes() -> None:
    out = io.StringIO()
    assert write_rows(iter(ROWS), ("url", "anchors", "follow", "at"), "csv", out) == 2
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert parsed[0] == {"url": "https://a.test/", "anchors": "x, y|z", "follow": "true", "at": "2026-01-02T00:00:00+00:00"}
    assert parsed[1]["follow"] == "" and parsed[1]["anchors"] == ""


def test_jsonl_keeps_types() -> None:
    out = io.StringIO()
    write_rows(iter(ROWS), ("url", "anchors", "follow", "at"), "jsonl", out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {"url": "https://a.test/", "anchors": ["x, y", "z"], "follow": True, "at": "2026-01-02T00:00:00+00:00"}
    assert lines[1]["follow"] is None


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="csv or jsonl"):
        write_rows(iter(ROWS), ("url",), "xml", io.StringIO())


# Clear screen, set the window title, CSI as one C1 byte, a carriage return that overwrites the line,
# right-to-left override.
HOSTILE = "\x1b[2J\x1b]0;TITLE\x07 \x9b31m \rfake \u202etxt.exe"
TERMINAL_ACTS_ON = ("\x1b", "\x07", "\x9b", "\r", "\u202e")
HOSTILE_ROWS = [{"url": "https://a.test/\u202ep", "anchors": [HOSTILE, "two\nlines\tok"]}]


def test_csv_for_a_terminal_is_inert() -> None:
    out = io.StringIO()
    write_rows(iter(HOSTILE_ROWS), ("url", "anchors"), "csv", out, terminal=True)
    assert not [c for c in TERMINAL_ACTS_ON if c in out.getvalue()]
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["anchors"] == "\ufffd[2J\ufffd]0;TITLE\ufffd \ufffd31m \ufffdfake \ufffdtxt.exe|two\nlines\tok"


def test_csv_to_a_file_keeps_the_data() -> None:
    out = io.StringIO()
    write_rows(iter(HOSTILE_ROWS), ("url", "anchors"), "csv", out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["anchors"] == f"{HOSTILE}|two\nlines\tok" and row["url"] == "https://a.test/\u202ep"


def test_jsonl_escapes_what_a_terminal_would_act_on_and_keeps_the_data() -> None:
    out = io.StringIO()
    write_rows(iter(HOSTILE_ROWS), ("url", "anchors"), "jsonl", out)
    assert not [c for c in TERMINAL_ACTS_ON if c in out.getvalue()]
    assert json.loads(out.getvalue()) == HOSTILE_ROWS[0]
