"""Bad input through the real entry points: `backlinks import` and `scrapy crawl verify`.

Every bad row is named with its line and the fix; a file is never half-imported (not with
--strict, not when the import is killed); bad spider arguments and settings stop the crawl before
it records a run, with a message that names the setting or argument.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.demo.run import crawl
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines.imports import MAX_ERRORS, import_rows
from pipelines.models import Backlink, Run
from crawler.core.importers import read_backlinks

BACKLINKS = str(Path(sys.executable).parent / "backlinks")
ME = "https://client.example/"

MESSY = [
    "referring_url,target_url,match,notes",
    f"https://good.example/a,{ME},exact,fine",  # line 2
    f"javascript:alert(1),{ME},exact,",  # 3
    f"mailto:someone@example.com,{ME},exact,",  # 4
    f"file:///etc/passwd,{ME},exact,",  # 5
    f"ftp://files.example/x,{ME},exact,",  # 6
    f"https://user:pw@creds.example/,{ME},exact,",  # 7
    f"https://ctrl.example/\x07bell,{ME},exact,",  # 8
    f"http://[::1/broken,{ME},exact,",  # 9
    f"https://good.example/b,{ME},sideways,",  # 10: bad match mode
    f"https://good.example/a,{ME},exact,a duplicate of line 2",  # 11
    f"https://good.example/c,{ME},exact,fine",  # 12
    "https://good.example/d",  # 13: no target column value
    f'https://good.example/e,{ME},exact,"truncated here',  # 14: cut off mid-field
]
EXPECTED_ERRORS = [
    (3, "referring_url: unsupported scheme 'javascript' (only http and https)"),
    (4, "referring_url: unsupported scheme 'mailto' (only http and https)"),
    (5, "referring_url: unsupported scheme 'file' (only http and https)"),
    (6, "referring_url: unsupported scheme 'ftp' (only http and https)"),
    (7, "referring_url: URL carries credentials (user:password@); remove them"),
    (8, "referring_url: control character in URL"),
    (9, "referring_url: unparseable URL"),
    (10, "match: 'sideways' is not one of exact, prefix, domain"),
    (13, "target_url: missing"),
    (14, "unclosed quote"),
]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'backlinks.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


def _count(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        count = session.scalar(select(func.count()).select_from(Backlink)) or 0
    engine.dispose()
    return count


def _import(url: str, path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BACKLINKS, "--database", url, "import", str(path), *options], capture_output=True, text=True)


def test_messy_file_names_every_bad_line(database: str, tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text("\n".join(MESSY) + "\n", encoding="utf-8")
    result = _import(database, path)
    assert result.returncode == 0, result.stderr
    for line, message in EXPECTED_ERRORS:
        assert f"{path}:{line}: {message}" in result.stderr, result.stderr
    assert "\x07" not in result.stderr  # the control character is not echoed to the terminal
    assert "added 2, updated 0, unchanged 0, duplicates 1, bad rows 10" in result.stdout
    assert _count(database) == 2


def test_strict_imports_nothing_when_any_row_is_bad(database: str, tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text("\n".join(MESSY) + "\n", encoding="utf-8")
    result = _import(database, path, "--strict")
    assert result.returncode == 2
    assert "--strict: nothing imported" in result.stderr
    assert _count(database) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("referring_url,notes\nhttps://a.example/,x\n", "target"),  # a required column is missing
        ("", "is empty"),
        ("Domain,Backlinks\nexample.org,12\n", "cannot tell the format"),
    ],
)
def test_whole_file_problems_import_nothing(database: str, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    result = _import(database, path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert _count(database) == 0


def test_killed_import_leaves_nothing_half_imported(database: str, tmp_path: Path) -> None:
    path, wal = tmp_path / "big.csv", tmp_path / "backlinks.sqlite-wal"
    with path.open("w", encoding="utf-8") as out:
        out.write("referring_url,target_url,match\n")
        for i in range(100_000):
            out.write(f"https://site{i}.example/post,{ME},exact\n")
    process = subprocess.Popen([BACKLINKS, "--database", database, "import", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_until_rows_are_written(process, wal, deadline=time.monotonic() + 120)
        # Stopped, it can neither commit nor roll back while we look: its rows are in the database's
        # write-ahead log, and not committed.
        process.send_signal(signal.SIGSTOP)
        assert wal.stat().st_size > _WAL_HEADER and _count(database) == 0
    finally:
        process.kill()
        process.communicate()
    assert _count(database) == 0


_WAL_HEADER = 32  # bytes; each page written after it is one frame


def _wait_until_rows_are_written(process: subprocess.Popen[bytes], wal: Path, deadline: float) -> None:
    """Until the import's applying transaction has written rows. Nothing else writes the database:
    staging fills a temporary table, and the transaction's pages reach the WAL as they spill from
    SQLite's page cache, batch after batch."""
    while not (wal.exists() and wal.stat().st_size > _WAL_HEADER + 2**20):
        assert process.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline, "the import wrote no rows in time"
        time.sleep(0.01)


def test_a_flood_of_bad_rows_keeps_memory_bounded(database: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    rows = 20_000
    engine = make_engine(database)
    sessions = make_sessionmaker(engine)
    with path.open("w", encoding="utf-8") as out:
        out.write("referring_url,target_url,match\n")
        for i in range(rows):
            out.write(f"javascript:void({i}),{ME},exact\n")
    tracemalloc.start()
    try:
        report = import_rows(sessions, read_backlinks(path), datetime.now(UTC))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        engine.dispose()
    assert report.error_count == rows and len(report.errors) == MAX_ERRORS
    assert report.errors[0][0] == 2 and report.rows == rows
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


# --- spider arguments and settings: fail before the run is recorded ---------------------------------


@pytest.mark.parametrize(
    ("arguments", "settings", "messages"),
    [
        (["limit=ten", "only=gone"], {}, ["bad spider argument: -a limit", "-a only: Value error, unknown status 'gone'"]),
        (
            [],
            {"BACKLINKS_BATCH_SIZE": "1O", "BACKLINKS_CONFIRM_MISSES": "0", "BACKLINKS_RECHECK_HOURS": "soon"},
            [
                "BACKLINKS_BATCH_SIZE must be a whole number of at least 1 (got '1O')",
                "BACKLINKS_CONFIRM_MISSES must be a whole number of at least 1 (got '0')",
                "BACKLINKS_RECHECK_HOURS must be a number of at least 0 (got 'soon')",
            ],
        ),
        ([], {"BACKLINKS_ALLOWED_NETWORKS": "127.0.0.1/8,locahost"}, ["BACKLINKS_ALLOWED_NETWORKS: 'locahost' is not a network"]),
        ([], {"BACKLINKS_RESOLVE": "*.test"}, ["BACKLINKS_RESOLVE rule '*.test' is not PATTERN=ADDRESS"]),
    ],
    ids=["arguments", "numbers", "networks", "resolve"],
)
def test_bad_arguments_and_settings_fail_fast(
    database: str, arguments: list[str], settings: dict[str, str], messages: list[str]
) -> None:
    result = crawl(database, arguments, settings)
    assert result.returncode != 0
    for message in messages:
        assert message in result.stderr, result.stderr[-2000:]
    engine = make_engine(database)
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0
    engine.dispose()
