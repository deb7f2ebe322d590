"""`backlinks disavow`: a Google disavow file of the backlinks the user selects (crawler/core/disavow.py)."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import ReferringDomainOption, TagOption, TargetOption, errors, fail, sessions
from crawler.cli.inventory import FileFormatOption, FileOption, FileTargetOption, StatusOption, UrlOption, selection
from crawler.core import disavow as files
from crawler.core.disavow import DisavowError, Listed
from pipelines import inventory

ExistingOption = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, readable=True, help="a disavow file to keep and add to (it may be -o's file)"),
]


def disavow(
    tag: TagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    file_format: FileFormatOption = None,
    file_target: FileTargetOption = None,
    status: StatusOption = None,
    domains: Annotated[bool, typer.Option("--domains", help="disavow whole referring domains (domain: lines), not pages")] = False,
    merge: ExistingOption = None,
    exclude: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="domains or URLs never to disavow, one per line"),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write; default stdout")] = None,
) -> None:
    """Write a Google disavow file of the selected backlinks' referring pages (or domains)."""
    chosen = selection(tag=tag, referring_domain=referring_domain, target=target, url=url, file=file,
                       file_format=file_format, file_target=file_target, status=status)
    if chosen.empty or chosen.model_copy(update={"statuses": ()}).empty:
        # A lost or broken link is not a harmful one: what to disavow is the user's judgement.
        fail("choose what to disavow with --tag, --file, --url, --referring-domain or --target; "
             "a status alone is no reason to disavow a link")
    try:
        merged, kept = files.read_listed(_read(merge), source=str(merge)) if merge else (Listed(), [])
        excluded = files.read_listed(_read(exclude), source=str(exclude))[0] if exclude else Listed()
        with sessions()() as session:
            pages = [row["referring_url"] for row in inventory.iter_backlinks(session, chosen)]
        result = files.build(pages, domains=domains, reason=_described(
            tag=tag, referring_domain=referring_domain, target=target, url=url, file=file and file.name,
            status=status, domains=domains),
                             today=datetime.now(UTC).date(), merge=kept, merged=merged, exclude=excluded)
    except DisavowError as exc:
        fail(str(exc))
    if output is None:
        sys.stdout.write(result.text())
    else:
        # Written whole, then moved into place: -o may be the merged file, which must survive a failure.
        partial = output.with_name(output.name + ".partial")
        partial.write_text(result.text(), encoding="utf-8", newline="\n")
        os.replace(partial, output)
    unit = "domains" if domains else "URLs"
    parts = [f"{result.added} {unit} added"]
    if merge:
        parts.append(f"{result.already} already in {merge}")
    if result.excluded:
        parts.append(f"{result.excluded} excluded")
    errors.print(f"disavow: {', '.join(parts)} ({len(pages)} backlinks selected)", markup=False, highlight=False)
    for page in result.too_long[:5]:
        errors.print(f"warning: left out a URL of {len(page):,} characters (Google takes 2,048): {page[:100]}...", markup=False)
    if result.too_long:
        errors.print(f"warning: {len(result.too_long)} URLs too long for a disavow file: use --domains", markup=False)


def _described(**options: object) -> str:
    """The selection, for the file's comment: "selected by --tag toxic --referring-domain spam.example"."""
    words = []
    for name, value in options.items():
        for one in value if isinstance(value, list) else [value]:
            if one not in (None, False):
                words.append(f"--{name.replace('_', '-')}" + ("" if one is True else f" {one}"))
    return "selected by " + " ".join(words)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text (a disavow file is UTF-8)")


def register(app: typer.Typer) -> None:
    app.command()(disavow)
