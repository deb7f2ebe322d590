"""What every `backlinks` command shares: the consoles, the database it opens, failing in one line,
and the filters that mean the same on every command (``--since``, ``--tag``, ...)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.scope import Scope, ScopeError, build_scope
from crawler.reports.tables import safe
from pipelines.db import SchemaError, make_engine, make_sessionmaker, require_schema

console = Console(soft_wrap=True)  # plain lines stay whole: users grep them
errors = Console(stderr=True, soft_wrap=True)


class TableFormat(str, Enum):
    """What a listing command prints: lines for a reader (TSV when piped), or rows for a tool."""

    table = "table"
    csv = "csv"
    jsonl = "jsonl"


TableFormatOption = Annotated[TableFormat, typer.Option("--format", "-f")]

# The database URL the callback settled, for the command that runs.
state: dict[str, str] = {}
_opened: list[Engine] = []

# The filters of `changes` and every `export --what`: the same names, the same meaning.
SinceOption = Annotated[
    str | None, typer.Option(help="since: 7d, 12h, 30m or an ISO date (current: last checked since; daily: from its UTC day)")
]
RunOption = Annotated[int | None, typer.Option(help="of this run (current: last checked in it)")]
TagOption = Annotated[str | None, typer.Option(help="only backlinks with this tag")]
ReferringDomainOption = Annotated[
    str | None, typer.Option("--referring-domain", help="only backlinks from this registrable domain")
]
TargetOption = Annotated[
    str | None, typer.Option(help="only backlinks to this target: a URL (exactly it) or a domain (any URL on it)")
]
KindOption = Annotated[list[str] | None, typer.Option(help="events only: of this kind (repeatable)")]


def sessions(check_schema: bool = True) -> sessionmaker[Session]:
    """Sessions on the command's database; its connections close when the command ends."""
    engine = make_engine(state["url"])
    _opened.append(engine)
    if check_schema:
        try:
            require_schema(engine)
        except SchemaError as exc:
            fail(str(exc))
        except OperationalError as exc:
            # The driver's message names host and port, never the password; the URL is shown masked.
            fail(f"cannot reach database {engine.url.render_as_string(hide_password=True)}: {exc.orig}")
    return make_sessionmaker(engine)


def close() -> None:
    """Dispose of the engines the command opened: one called from code (tests, the demo) shares the
    process, and its pooled connections would outlive it."""
    while _opened:
        _opened.pop().dispose()


def fail(message: str) -> NoReturn:
    errors.print(f"error: {safe(message, 2000)}", markup=False, highlight=False)
    raise typer.Exit(2)


def parse_since(text: str, now: datetime) -> datetime:
    """`7d`, `12h`, `30m`, or an ISO date/datetime (UTC unless it says otherwise)."""
    relative = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text)
    if relative:
        amount, unit = int(relative[1]), relative[2]
        return now - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use 7d, 12h, 30m or an ISO date like 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def scope_of(
    *, tag: str | None, since: str | None, run: int | None, referring_domain: str | None, target: str | None,
    kind: list[str] | None, events: bool, runs: bool = True, what: str = "",
) -> Scope:
    """The filters of `changes` and `export`, checked before the database is opened; ``events``:
    whether what is asked for is events (the only rows --kind applies to); ``runs``: whether --run
    applies (not to days)."""
    try:
        scope = build_scope(
            tag=tag, since=parse_since(since, datetime.now(UTC)) if since else None, run=run,
            referring_domain=referring_domain, target=target, kinds=tuple(kind or ()),
        )
        if not events:
            scope.require_no_kinds(what)
        if not runs:
            scope.require_no_run(what)
        return scope
    except ScopeError as exc:
        fail(str(exc))
