"""`backlinks mentions`: referring pages that lost their link but still name the brand."""

from __future__ import annotations

import sys

import typer

from crawler.cli.common import (
    ReferringDomainOption, SinceOption, TableFormat, TableFormatOption, TagOption, TargetOption, console, errors, scope_of,
    sessions,
)
from crawler.reports.export import write_rows
from crawler.reports.tables import tsv
from pipelines import queries


def mentions(
    tag: TagOption = None,
    since: SinceOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    format: TableFormatOption = TableFormat.table,
) -> None:
    """Pages that name your brand (BACKLINKS_BRAND_TERMS) but no longer link to you: the links to
    reclaim, with the sentences that name you."""
    scope = scope_of(tag=tag, since=since, run=None, referring_domain=referring_domain, target=target, kind=None, events=False)
    with sessions()() as session:
        rows = list(queries.iter_mentions(session, scope))
    if format is not TableFormat.table:
        write_rows(iter(rows), queries.MENTION_FIELDS, format.value, sys.stdout, terminal=True)
        return
    if not rows:
        console.print("No unlinked mentions (is BACKLINKS_BRAND_TERMS set for the crawl?).", markup=False)
        return
    columns = ("referring_url", "target_url", "status", "last_checked", "mentions")
    typer.echo(tsv(columns, ([*(row[c] for c in columns[:-1]), " | ".join(row["mentions"])] for row in rows)))
    errors.print(f"{len(rows)} page{'s name' if len(rows) != 1 else ' names'} you without linking", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(mentions)
