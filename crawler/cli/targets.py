"""`backlinks targets`: the health of your pages that backlinks point to (crawler/core/targets.py)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from crawler.cli.common import ReferringDomainOption, TableFormat, TableFormatOption, TagOption, console, scope_of, sessions
from crawler.reports.export import write_rows
from crawler.reports.tables import tsv
from pipelines.targets import target_health

FIELDS = ("target_url", "verdict", "detail", "http_status", "final_url", "redirects", "noindex", "canonical",
          "checked_at", "backlinks", "live_backlinks")


def targets(
    tag: TagOption = None,
    referring_domain: ReferringDomainOption = None,
    problems: Annotated[bool, typer.Option("--problems", help="only targets that waste their links")] = False,
    format: TableFormatOption = TableFormat.table,
) -> None:
    """Each target URL as its last run found it, and the backlinks it affects: a 4xx, a redirect, a
    noindex or a canonical elsewhere wastes every link to it. Worst first."""
    scope = scope_of(tag=tag, since=None, run=None, referring_domain=referring_domain, target=None, kind=None, events=False)
    with sessions()() as session:
        rows = target_health(session, scope, problems_only=problems)
    if format is not TableFormat.table:
        write_rows(iter(rows), FIELDS, format.value, sys.stdout, terminal=True)
        return
    if not rows:
        console.print("No targets match." if problems or tag or referring_domain else "No backlinks yet.", markup=False)
        return
    columns = ("target_url", "verdict", "detail", "final_url", "backlinks", "live")
    typer.echo(tsv(columns, (
        [row["target_url"], row["verdict"], row["detail"] or "-", row["final_url"] if row["redirects"] else "-",
         row["backlinks"], row["live_backlinks"]]
        for row in rows
    )))


def register(app: typer.Typer) -> None:
    app.command()(targets)
