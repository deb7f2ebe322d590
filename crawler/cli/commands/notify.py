"""`backlinks notify`: send a run's alerts by hand (docs/alerts.md), or show what would go.

The end of every run sends them by itself; this is for a delivery that failed (the receiver was
down), or a run that ended without sending (a crash). Exit 0: everything due was delivered (or
there was nothing to send); 1: a delivery failed (one line each; it stays due); 2: the settings
or the run asked for are wrong. (Lives among Scrapy's command modules but is no Scrapy command:
`backlinks` registers it.)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from scrapy.settings import Settings
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

import settings as project
from crawler.reports.notify import NotifyConfig, Outcome, deliver
from crawler.reports.tables import safe
from crawler.shell.config import BacklinksSettings, SettingsError
from pipelines import deliveries
from pipelines.db import SchemaError, database_url, make_engine, make_sessionmaker, require_schema


def notify(
    context: typer.Context,
    run: Annotated[
        str | None,
        typer.Option(help="a run's id or `last`: its changes not sent yet; default: everything due (failed, never sent)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="print what would be sent (no secret), send and record nothing")] = False,
) -> None:
    """Send the alerts of a run (webhook, Apprise digests) that failed or never went."""
    try:
        values = Settings()
        values.setmodule(project, priority="project")
        config = BacklinksSettings.from_settings(values).notify_config()
    except SettingsError as exc:
        _fail(" ".join(str(exc).split("\n  ")))
    if not config.enabled:
        _fail("no alert channel: set BACKLINKS_WEBHOOK_URL (and BACKLINKS_WEBHOOK_SECRET) or BACKLINKS_NOTIFY_URLS")
    engine = make_engine(database_url((context.parent.params if context.parent else {}).get("database")))
    try:
        outcomes = _deliver(engine, config, run, dry_run)
    finally:
        engine.dispose()
    if not outcomes:
        typer.echo("Nothing to send.")
    failed = 0
    for outcome in outcomes:
        what = f"{outcome.channel.label}: run {outcome.run_id}, {outcome.events} changes"
        if dry_run:
            typer.echo(f"--- would send to {what}\n{outcome.preview}")
        elif outcome.ok:
            typer.echo(f"sent to {what}")
        else:
            failed += 1
            print(f"error: {safe(what, 300)} not delivered: {safe(outcome.error, 300)}", file=sys.stderr)
    if failed:
        raise typer.Exit(1)


def _deliver(engine: Engine, config: NotifyConfig, run: str | None, dry_run: bool) -> list[Outcome]:
    try:
        require_schema(engine)
    except SchemaError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"cannot reach database {engine.url.render_as_string(hide_password=True)}: {exc.orig}")
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        latest = deliveries.latest_run_id(session)
        if latest is None:
            _fail("no run yet: `scrapy crawl verify` makes one")
        chosen = None if run is None else latest if run == "last" else _run_id(run)
        if chosen is not None and deliveries.run_facts(session, chosen) is None:
            _fail(f"no run {chosen}")
    return deliver(sessions, config, now=datetime.now(UTC), upto=latest, run=chosen, dry_run=dry_run)


def _run_id(text: str) -> int:
    if not text.isdigit():
        _fail(f"--run {text!r}: a run id (a number) or `last`")
    return int(text)


def _fail(message: str) -> NoReturn:
    print(f"error: {safe(message, 2000)}", file=sys.stderr)
    raise typer.Exit(2)
