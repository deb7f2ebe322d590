"""`backlinks notify`: send a run's alerts by hand (docs/alerts.md), or show what would go.

The end of every run sends them by itself; this is for a delivery that failed (the receiver was
down), or a run that ended without sending (a crash). Exit 0: everything due was delivered (or
there was nothing to send); 1: a delivery failed (one line each; it stays due); 2: the settings
or the run asked for are wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from scrapy.settings import Settings

import settings as project
from crawler.cli.common import errors, fail, sessions
from crawler.reports.notify import deliver
from crawler.reports.tables import safe
from crawler.shell.config import BacklinksSettings, SettingsError
from pipelines import deliveries


def notify(
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
        fail(" ".join(str(exc).split("\n  ")))
    if not config.enabled:
        fail("no alert channel: set BACKLINKS_WEBHOOK_URL (and BACKLINKS_WEBHOOK_SECRET) or BACKLINKS_NOTIFY_URLS")
    database = sessions()
    with database() as session:
        latest = deliveries.latest_run_id(session)
        if latest is None:
            fail("no run yet: `scrapy crawl verify` makes one")
        chosen = None if run is None else latest if run == "last" else _run_id(run)
        if chosen is not None and deliveries.run_facts(session, chosen) is None:
            fail(f"no run {chosen}")
    outcomes = deliver(database, config, now=datetime.now(UTC), upto=latest, run=chosen, dry_run=dry_run)
    if not outcomes:
        typer.echo("Nothing to send.")
    failed = 0
    for outcome in outcomes:
        what = f"{outcome.channel.label}: run {outcome.run_id}, {outcome.events} changes"
        if dry_run:  # the digest's text is inert and the webhook's JSON is ASCII: nothing drives a terminal
            typer.echo(f"--- would send to {what}\n{outcome.preview}")
        elif outcome.ok:
            typer.echo(f"sent to {what}")
        else:
            failed += 1
            errors.print(f"error: {safe(what, 300)} not delivered: {safe(outcome.error, 300)}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)


def _run_id(text: str) -> int:
    if not text.isdigit():
        fail(f"--run {text!r}: a run id (a number) or `last`")
    return int(text)


def register(app: typer.Typer) -> None:
    app.command()(notify)
