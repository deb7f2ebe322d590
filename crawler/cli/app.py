"""The `backlinks` command: set up the database, import known backlinks, read results.

The crawl itself is `scrapy crawl verify`; this CLI only wires the importers, queries and
exporters to the database.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import (
    KindOption, ReferringDomainOption, RunOption, SinceOption, TableFormat, TableFormatOption, TagOption, TargetOption, close,
    console, errors, state,
)
from crawler.cli.common import fail as _fail, scope_of as _scope, sessions as _sessions
from crawler.reports.export import write_rows
from crawler.core.changes import EventKind
from crawler.core.outcome import RunStatus
from crawler.reports.tables import EVENT_COLUMNS, events_table, run_summary, safe, status_table, tsv
from crawler.cli import disavow, importing, inventory, mentions, notify, report, signals, snapshot, targets
from crawler.cli.schedule import ENV_NODES, ScheduleError, parse_pairs, run_key, schedule_jobs
from pipelines import queries, reporting
from pipelines.db import database_url, make_engine, upgrade

# No locals in tracebacks: they would print database URLs and credentials.
app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)


class What(str, Enum):
    current = "current"
    checks = "checks"
    events = "events"
    daily = "daily"


class ExportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", "-d", help="SQLAlchemy URL; default $BACKLINKS_DATABASE_URL, else ./backlinks.sqlite"),
]


@app.callback()
def main(context: typer.Context, database: DatabaseOption = None) -> None:
    state["url"] = database_url(database)
    context.call_on_close(close)


@app.command()
def init() -> None:
    """Create the database schema, or upgrade it to this version."""
    engine = make_engine(state["url"])
    revision = upgrade(engine)
    console.print(f"Database {engine.url.render_as_string(hide_password=True)} is at schema {revision}.", markup=False)


# What `status --run ... --fail-on` can test a run for.
FAIL_ON = {
    "degraded": lambda run: bool(run.degraded),
    "lost": lambda run: (run.events or {}).get(EventKind.LOST.value, 0) > 0,
    "incomplete": lambda run: run.status != RunStatus.FINISHED,
    "changed": lambda run: any(n for k, n in (run.events or {}).items() if k != EventKind.FIRST_SEEN.value),
}


@app.command()
def status(
    tag: Annotated[str | None, typer.Option(help="only backlinks with this tag")] = None,
    run: Annotated[
        str | None, typer.Option(help="a run's summary instead: its id or `last` (counts, changes, health)")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(help=f"with --run: exit 1 if the run is any of {', '.join(FAIL_ON)} (comma-separated), for cron"),
    ] = None,
) -> None:
    """Backlinks per status and reason, and the latest runs; or one run's summary."""
    conditions = _fail_on(fail_on)
    if run is None:
        if conditions:
            _fail("--fail-on needs --run N or --run last")
        _status(tag)
        return
    if tag:
        _fail("--tag shows the backlinks' status; a run's summary (--run) covers the whole run")
    sessions = _sessions()
    with sessions() as session:
        found = queries.get_run(session, None if run == "last" else _run_id(run))
    if found is None:
        _fail(f"no run {run}" if run != "last" else "no run yet: `scrapy crawl verify` makes one")
    typer.echo(run_summary(sessions, found.id).rstrip())
    held = [name for name in conditions if FAIL_ON[name](found)]
    if held:
        errors.print(f"run {found.id}: {', '.join(held)}", markup=False, highlight=False)
        raise typer.Exit(1)


def _fail_on(text: str | None) -> list[str]:
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in FAIL_ON]
    if unknown:
        _fail(f"--fail-on {', '.join(unknown)}: choose from {', '.join(FAIL_ON)}")
    return names


def _run_id(text: str) -> int:
    if not text.isdigit():
        _fail(f"--run {text!r}: a run id (a number) or `last`")
    return int(text)


def _status(tag: str | None) -> None:
    sessions = _sessions()
    with sessions() as session:
        counts = queries.status_counts(session, tag)
        verdicts = queries.verdict_counts(session, tag)
        archived = queries.archived_count(session, tag)
        runs = queries.recent_runs(session, 5)
    if console.is_terminal:
        console.print(status_table(counts))
    else:  # a pipe or a cron log: whole lines, nothing wrapped
        typer.echo(tsv(("status", "reason", "backlinks"), counts))  # not rich: it would expand the tabs
    # What is live, whatever the last check could see: a timeout leaves a live link live.
    console.print("Verdicts: " + ", ".join(f"{safe(v)} {n}" for v, n in verdicts), markup=False, highlight=False)
    if archived:
        console.print(f"Archived: {archived} (not crawled, not counted above; `backlinks list --archived`)", markup=False)
    for run in runs:
        checked = (run.counts or {}).get("checked", 0)
        ended = safe(run.finished_at) or "-"
        name = f"run {run.id} ({safe(run.key)})" if run.key else f"run {run.id}"
        # A degraded run (too many inconclusive results) moved nothing to lost: say so.
        degraded = f", degraded: {run.counts.get('held_back', 0)} losses held back" if run.degraded else ""
        console.print(f"{name}: {run.status} {safe(run.finish_reason)} started {safe(run.started_at)} "
                      f"ended {ended}, {checked} checked, {sum((run.events or {}).values())} changes{degraded}",
                      markup=False)


@app.command()
def changes(
    since: SinceOption = None,
    run: RunOption = None,
    last_run: Annotated[bool, typer.Option("--last-run", help="only the latest run's changes")] = False,
    kind: KindOption = None,
    tag: TagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    format: TableFormatOption = TableFormat.table,
    limit: Annotated[int, typer.Option(help="show at most this many")] = 200,
) -> None:
    """What changed: first seen, lost (with reason), recovered, anchor/rel/position/target changes."""
    scope = _scope(tag=tag, since=since, run=run, referring_domain=referring_domain, target=target, kind=kind, events=True)
    sessions = _sessions()
    with sessions() as session:
        if last_run:
            latest = queries.get_run(session, None)
            scope = scope.model_copy(update={"run": latest.id if latest else -1})
        rows = list(queries.iter_events(session, queries.events_query(session, scope).limit(limit)))
    if format is not TableFormat.table:
        write_rows(iter(rows), queries.EVENT_FIELDS, format.value, sys.stdout, terminal=True)
    elif not rows:
        console.print("No changes.")
    elif console.is_terminal:
        console.print(events_table(rows))
    else:  # a pipe or a cron log: whole URLs, nothing wrapped or cut
        typer.echo(tsv(EVENT_COLUMNS, ([row[c] for c in EVENT_COLUMNS] for row in rows)))


@app.command()
def export(
    what: Annotated[What, typer.Option(help="current state, every check, change events, or one row per backlink per day (report_daily)")] = What.current,
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write; default stdout")] = None,
    since: SinceOption = None,
    run: RunOption = None,
    tag: TagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    kind: KindOption = None,
    excel: Annotated[
        bool, typer.Option(help="CSV that Excel opens right: UTF-8 with a byte-order mark (pair with --delimiter ';' in European locales)")
    ] = False,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter: , ; or a tab")] = ",",
) -> None:
    """Export for reporting tools; the fields are documented in README.md and stable. Every filter
    means the same for every --what (current: backlinks last checked since / in that run)."""
    scope = _scope(
        tag=tag, since=since, run=run, referring_domain=referring_domain, target=target, kind=kind,
        events=what is What.events, runs=what is not What.daily, what=f"--what {what.value}",
    )
    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    if delimiter not in (",", ";", "\t"):
        _fail(f"--delimiter {delimiter!r}: use , ; or tab")
    if (excel or delimiter != ",") and format is not ExportFormat.csv:
        _fail("--excel and --delimiter are for --format csv")
    sessions = _sessions()
    # utf-8-sig: the byte-order mark that tells Excel the file is UTF-8 (else it reads cp1252: "Ã©").
    encoding = "utf-8-sig" if excel else "utf-8"
    sink = output.open("w", encoding=encoding, newline="") if output else nullcontext(sys.stdout)
    with sessions() as session, session.begin(), sink as out:
        if excel and output is None:
            out.write("\ufeff")
        # One read transaction: a crawl writing meanwhile cannot make the export inconsistent.
        if what is What.current:
            rows, fields = queries.iter_current(session, scope), queries.CURRENT_FIELDS
        elif what is What.checks:
            rows, fields = queries.iter_checks(session, scope), queries.CHECK_FIELDS
        elif what is What.daily:
            rows, fields = reporting.iter_daily(session, reporting.daily_query(session, scope)), reporting.DAILY_FIELDS
        else:
            rows, fields = queries.iter_events(session, queries.events_query(session, scope)), queries.EVENT_FIELDS
        count = write_rows(rows, fields, format.value, out, terminal=output is None, delimiter=delimiter)
    if output:
        console.print(f"wrote {count} rows to {output}", markup=False)


@app.command()
def schedule(
    node: Annotated[list[str] | None, typer.Option("--node", "-n", help=f"Scrapyd URL (repeatable); default ${ENV_NODES} (comma-separated)")] = None,
    project: Annotated[str, typer.Option(help="the project's name on the nodes, as deployed by scrapyd-deploy")] = "backlinks",
    jobs: Annotated[int, typer.Option(min=1, help="verify processes per node, all in one run")] = 1,
    run: Annotated[str | None, typer.Option(help="run key shared by every process; default run-<UTC time>")] = None,
    setting: Annotated[list[str] | None, typer.Option("--setting", "-s", help="Scrapy setting NAME=VALUE (repeatable)")] = None,
    arg: Annotated[list[str] | None, typer.Option("--arg", "-a", help="spider argument NAME=VALUE (repeatable): all, tag, only, limit, render")] = None,
) -> None:
    """Start one verify run on Scrapyd nodes (for cron or a systemd timer); see docs/production.md.

    Credentials: $BACKLINKS_SCRAPYD_USERNAME and $BACKLINKS_SCRAPYD_PASSWORD (never printed).
    """
    nodes = node or [n.strip() for n in os.environ.get(ENV_NODES, "").split(",") if n.strip()]
    if not nodes:
        raise typer.BadParameter(f"give --node URL or set ${ENV_NODES}", param_hint="--node")
    try:
        settings = parse_pairs(setting or [], "--setting")
        arguments = parse_pairs(arg or [], "--arg")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    key = run or run_key(datetime.now(UTC))
    try:
        scheduled = schedule_jobs(nodes, project, settings, {**arguments, "run": key}, jobs_per_node=jobs)
        failure = None
    except ScheduleError as exc:
        scheduled, failure = exc.scheduled, str(exc)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    for where, job in scheduled:
        # The job id is the node's answer: shown inert like page text.
        console.print(f"run {safe(key)}: job {safe(job)} on {safe(where)}", markup=False, highlight=False)
    if failure:
        _fail(f"scheduling failed: {failure}")


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="where the demo database and CSV go")] = Path("demo-run"),
) -> None:
    """Two nights of real verification against the bundled demo web on 127.0.0.1."""
    from crawler.demo.run import run_demo  # starts a web server: only load it when asked

    run_demo(directory.resolve(), say=lambda *parts: console.print(*parts, markup=False, highlight=False))


disavow.register(app)
importing.register(app)
inventory.register(app)
mentions.register(app)
notify.register(app)
report.register(app)
signals.register(app)
targets.register(app)
snapshot.register(app)
