"""Secrets stay out of logs, messages and exports; page-derived text is inert wherever it is shown."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL
from crawler.demo.run import crawl
from crawler.cli.exitcode import ExitCode
from crawler.reports.export import csv_cell
from crawler.reports.tables import events_table, safe, status_table
from pipelines.db import SchemaError, make_engine, require_schema

SECRET = "S3cret-Pw-7f1d"
BACKLINKS = str(Path(sys.executable).parent / "backlinks")


def _with_password(url: str) -> str:
    # The local server trusts loopback: any password connects, so the secret can travel everywhere.
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


@pytest.mark.postgres
def test_database_password_never_printed_by_a_crawl_or_the_cli(postgres_url: str, tmp_path: Path) -> None:
    url = _with_password(postgres_url)
    subprocess.run([BACKLINKS, "--database", url, "init"], check=True, capture_output=True)
    result = crawl(url, ["all=1"], log_level="DEBUG", cwd=tmp_path)
    # It ran (on what earlier tests left in the shared database: often a degraded run, exit 5).
    assert result.returncode not in (ExitCode.CRASHED, ExitCode.STARTUP), result.stderr[-2000:]
    assert "Run " in result.stderr  # the DEBUG log really was written
    outputs = [result.stdout, result.stderr]
    for command in (["status"], ["export", "--what", "checks", "--format", "jsonl"]):
        done = subprocess.run([BACKLINKS, "--database", url, *command], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout, done.stderr]
    assert not [out for out in outputs if SECRET in out]


@pytest.mark.postgres
def test_schema_and_connection_errors_hide_the_password(postgres_url: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"backlinks_noschema_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = _with_password(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
        engine = make_engine(url)
        with pytest.raises(SchemaError) as caught:
            require_schema(engine)
        engine.dispose()
        assert SECRET not in str(caught.value) and "***" in str(caught.value)
        refused = make_url(url).set(port=1).render_as_string(hide_password=False)  # nothing listens on port 1
        done = subprocess.run([BACKLINKS, "--database", refused, "status"], capture_output=True, text=True)
        assert done.returncode == 2 and SECRET not in done.stdout + done.stderr
        assert done.stderr.startswith("error: cannot reach database postgresql+psycopg://postgres:***@") and "Traceback" not in done.stderr
        done = subprocess.run([BACKLINKS, "--database", url, "status"], capture_output=True, text=True)
        assert "run `backlinks init` first" in done.stderr and SECRET not in done.stderr
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_bad_database_url_setting_is_not_echoed(tmp_path: Path) -> None:
    result = crawl(f"sqlite:///{tmp_path / 'x.sqlite'}", settings={"BACKLINKS_DATABASE_URL": f"postgresql://u:{SECRET}@h:notaport/db"})
    assert result.returncode != 0
    assert "BACKLINKS_DATABASE_URL is not an SQLAlchemy URL" in result.stderr
    assert SECRET not in result.stderr + result.stdout


# --- page-derived text on the terminal and in spreadsheets -----------------------------------------

TOKENS = list("[]/=:@+-\t\r\n\x1b\x07\x9b;\\ab0") + ["link=http://x", "bold", "]8;;", "\x1b]0;title\x07"]
HOSTILE = st.lists(st.sampled_from(TOKENS), max_size=20).map("".join)


def _terminal(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="truecolor", width=300).print(renderable)
    return out.getvalue()


@given(HOSTILE, HOSTILE)
def test_page_text_cannot_inject_markup_or_escape_sequences(anchor: str, url: str) -> None:
    row = {"at": None, "kind": "anchor_changed", "referring_url": url, "target_url": "https://t.example/",
           "before": anchor, "after": f"[link=http://evil.example]{anchor}[/link]"}
    shown = _terminal(events_table([row])) + _terminal(status_table([(anchor, url, 1)]))
    assert "\x1b]" not in shown  # no OSC sequence (hyperlinks, window titles)
    assert "\x07" not in shown and "\x9b" not in shown
    # Every escape that is there is rich's own styling (CSI ... m), never one from the page.
    for part in shown.split("\x1b")[1:]:
        assert part.startswith("[") and "m" in part[:20]
    assert "evil.example" in shown  # the markup is shown as text, not turned into a hyperlink


def test_safe_strips_every_control_character() -> None:
    assert safe("a\x1b[31mb\x07c\x9bd\r\ne") == "a?[31mb?c?d??e"


@given(st.text(max_size=30))
def test_csv_cells_never_start_a_formula(value: str) -> None:
    cell = csv_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell.startswith("'")
    assert csv_cell(f"={value}").startswith("'=")
