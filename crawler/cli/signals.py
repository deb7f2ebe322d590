"""`backlinks signals`: each backlink's link quality signals (crawler/core/signals.py)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from crawler.cli.common import (
    ReferringDomainOption, SinceOption, TableFormat, TableFormatOption, TagOption, TargetOption, console, scope_of, sessions,
)
from crawler.reports.export import write_rows
from crawler.reports.tables import tsv
from pipelines import signals as signal_rows


def signals(
    tag: TagOption = None,
    since: SinceOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="only backlinks with at least one signal")] = False,
    format: TableFormatOption = TableFormat.table,
) -> None:
    """Signals that weigh a link (not verdicts): template placement (nav, header, footer, sidebar),
    site-wide, a crowded page, a page of mostly sponsored links, a reciprocal link (your own pages
    link back), and referring domains sharing a server address or a template with others of yours."""
    scope = scope_of(tag=tag, since=since, run=None, referring_domain=referring_domain, target=target, kind=None, events=False)
    with sessions()() as session:
        rows = [row for row in signal_rows.iter_signals(session, scope) if row["signals"] or not flagged]
    if format is not TableFormat.table:
        write_rows(iter(rows), signal_rows.SIGNAL_FIELDS, format.value, sys.stdout, terminal=True)
        return
    if not rows:
        console.print("No backlinks match.", markup=False)
        return
    columns = ("referring_url", "target_url", "position", "external_links", "sponsored_share", "signals")
    typer.echo(tsv(columns, ([*(row[c] for c in columns[:-1]), ", ".join(row["signals"]) or "-"] for row in rows)))


def register(app: typer.Typer) -> None:
    app.command()(signals)
