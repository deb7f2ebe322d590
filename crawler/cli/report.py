"""`backlinks report -o report.html`: the client report, one self-contained HTML file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import ReferringDomainOption, TargetOption, fail, scope_of, sessions
from crawler.reports.html import write_report
from pipelines.report_data import gather

DEFAULT_SINCE = "30d"


def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="the HTML file to write", dir_okay=False)],
    tag: Annotated[str | None, typer.Option(help="only backlinks with this tag: one client's report")] = None,
    since: Annotated[str, typer.Option(help="the period: 30d, 12h or an ISO date")] = DEFAULT_SINCE,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    title: Annotated[str | None, typer.Option(help="the report's title; default: Backlink report [tag]")] = None,
) -> None:
    """A client report as one HTML file that loads nothing when opened: trends per day, referring
    domains, anchor and rel mix, the period's changes with their context, and what was
    inconclusive (never counted as lost)."""
    chosen = scope_of(tag=tag, since=since, run=None, referring_domain=referring_domain, target=target, kind=None, events=True)
    if not output.parent.is_dir():
        fail(f"--output {output}: no folder {output.parent}")
    assert chosen.since is not None  # --since always has a value
    with sessions()() as session, session.begin():  # one read: a crawl writing meanwhile cannot skew it
        data = gather(session, chosen, chosen.since, datetime.now(UTC))
    try:
        write_report(data, title or f"Backlink report{f': {tag}' if tag else ''}", output)
    except OSError as exc:
        fail(f"--output {output}: {exc.strerror or exc}")
    typer.echo(
        f"wrote the report of {data.totals.backlinks} backlinks ({data.totals.live} live, "
        f"{len(data.changes)} changes since {chosen.since:%Y-%m-%d}) to {output}"
    )


def register(app: typer.Typer) -> None:
    app.command()(report)
