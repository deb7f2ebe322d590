"""`backlinks list`, `show`, `tag add|remove` and `delete`: the inventory of known backlinks.

Every command selects backlinks the same way (:func:`selection`): the export filters, ``--url``
(a referring page or a target), ``--file`` (the backlinks of an import file), ``--status``. The
commands that change or remove backlinks refuse an empty selection and say what they touch.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import (
    ReferringDomainOption, TableFormat, TableFormatOption, TagOption, TargetOption, console, errors, fail, scope_of, sessions,
)
from crawler.core.changes import EventKind
from crawler.core.importers import ImportFormatError, read_backlinks
from crawler.core.scope import ScopeError
from crawler.core.selection import STATUSES, Selection, build_selection, check_tag
from crawler.core.urls import InvalidURL, normalise
from crawler.reports.export import write_rows
from crawler.reports.evidence import evidence_lines
from crawler.reports.tables import safe, tsv
from pipelines import inventory
from pipelines.imports import backlink_key
from pipelines.queries import link_context
from pipelines.models import TargetCheckRow
from pipelines.targets import latest_checks

tags_app = typer.Typer(help="Add or remove a tag on the selected backlinks.", no_args_is_help=True)

UrlOption = Annotated[
    list[str] | None, typer.Option("--url", help="backlinks of this referring page or to this target (repeatable)")
]
FileOption = Annotated[
    Path | None,
    typer.Option("--file", exists=True, dir_okay=False, readable=True, help="the backlinks of this import file"),
]
FileFormatOption = Annotated[str | None, typer.Option("--file-format", help="--file's format; default: detected")]
FileTargetOption = Annotated[
    str | None, typer.Option("--file-target", help="--file's target, for files that name none (GSC, URL lists)")
]
StatusOption = Annotated[list[str] | None, typer.Option("--status", help=f"of this status (repeatable): {', '.join(STATUSES)}")]


def selection(
    *, tag: str | None = None, referring_domain: str | None = None, target: str | None = None,
    url: list[str] | None = None, file: Path | None = None, file_format: str | None = None,
    file_target: str | None = None, status: list[str] | None = None, archived: bool | None = False,
) -> Selection:
    """The selection the options describe, checked before anything is changed; ``archived`` as
    :class:`~crawler.core.scope.Scope` means it (False: active backlinks only)."""
    scope = scope_of(tag=tag, since=None, run=None, referring_domain=referring_domain, target=target, kind=None, events=False)
    scope = scope.model_copy(update={"archived": archived})
    pairs = _file_pairs(file, file_format, file_target) if file is not None else None
    try:
        return build_selection(scope=scope, urls=url or (), pairs=pairs, statuses=status or ())
    except ScopeError as exc:
        fail(str(exc))


def _file_pairs(file: Path, file_format: str | None, file_target: str | None) -> set[tuple[str, str]]:
    """(referring, target) keys of the file's rows, as the import stored them; a bad row is an error:
    a selection that silently skipped it would leave backlinks behind."""
    pairs = set()
    try:
        for row in read_backlinks(file, format=file_format, target=file_target):
            if row.backlink is None:
                fail(f"{file}:{row.line}: {row.error}")
            try:
                pairs.add(backlink_key(row.backlink))
            except InvalidURL as exc:
                fail(f"{file}:{row.line}: {exc}")
    except ImportFormatError as exc:
        fail(f"{file}: {exc}")
    return pairs


def list_(
    tag: TagOption = None,
    status: StatusOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    file_format: FileFormatOption = None,
    file_target: FileTargetOption = None,
    format: TableFormatOption = TableFormat.table,
    archived: Annotated[bool, typer.Option("--archived", help="the archived backlinks instead")] = False,
) -> None:
    """The known backlinks: status, verdict, tags, expectations; every filter of `delete` too."""
    chosen = selection(tag=tag, referring_domain=referring_domain, target=target, url=url, file=file,
                       file_format=file_format, file_target=file_target, status=status, archived=archived)
    with sessions()() as session:
        rows = inventory.iter_backlinks(session, chosen)
        if format is not TableFormat.table:
            write_rows(rows, inventory.LIST_FIELDS, format.value, sys.stdout, terminal=True)
            return
        columns = ("id", "status", "verdict", "referring_url", "target_url", "tags", "last_checked")
        # Lines, not a rich table: a wrapped table cuts URLs, and users grep this.
        lines = [[row[c] if c != "tags" else ", ".join(row[c]) for c in columns] for row in rows]
    if not lines:
        console.print("No backlinks match.", markup=False)
    else:
        typer.echo(tsv(columns, lines))
        errors.print(f"{len(lines)} backlinks", markup=False)


def show(
    url: Annotated[str, typer.Argument(help="a referring page or a target URL")],
    limit: Annotated[int, typer.Option(min=1, help="show at most this many checks per backlink")] = 50,
) -> None:
    """One referring page's (or target's) backlinks: every check and every event, newest first."""
    try:
        key = normalise(url.strip())
    except InvalidURL as exc:
        fail(f"{url!r}: {exc}")
    with sessions()() as session:
        found = inventory.histories(session, key, limit)
        if not found:
            fail(f"no backlink from or to {url}: `backlinks list` shows what is known")
        targets = latest_checks(session, {history.backlink.target_url for history in found})
        typer.echo("\n\n".join(_history(history, targets.get(history.backlink.target_url)) for history in found))


def _history(history: inventory.History, target: TargetCheckRow | None) -> str:
    backlink, state = history.backlink, history.state
    lines = [
        f"{safe(backlink.referring_url, None)} -> {safe(backlink.target_url, None)}  (match {backlink.match})",
        f"  tags: {safe(', '.join(sorted(t.tag for t in backlink.tags))) or '-'}"
        f"; expected anchor: {safe(backlink.expected_anchor) or '-'}; expected rel: {_rule(backlink.expected_rel)}"
        + (f"; landing page: {safe(backlink.expected_target, None)}" if backlink.expected_target else ""),
    ]
    if backlink.archived_at:
        lines.append(f"  archived since {safe(backlink.archived_at)}: not crawled, not in reports (`backlinks unarchive`)")
    if backlink.notes:
        lines.append(f"  notes: {safe(backlink.notes, 500)}")
    if backlink.cost is not None or backlink.placed_on or backlink.expires_on:
        cost = f"{backlink.cost:,.2f} {backlink.currency or ''}".rstrip() if backlink.cost is not None else "-"
        lines.append(f"  placed: cost {cost}; placed on {backlink.placed_on or '-'}; paid until {backlink.expires_on or '-'}")
    if backlink.metrics:
        shown = ", ".join(
            f"{m.name} {safe(m.text, 80) if m.number is None else f'{m.number:g}'} ({m.source}, {m.as_of})"
            for m in sorted(backlink.metrics, key=lambda m: m.name)
        )
        lines.append(f"  metrics: {shown}")
    if target is not None:
        lines.append(f"  target: {target.verdict} ({safe(target.detail)})"
                     + (f" -> {safe(target.final_url, None)}" if target.redirects else "")
                     + f", checked {safe(target.checked_at)} (`backlinks targets`)")
    if state is None:
        lines.append("  never checked")
    else:
        lines.append(
            f"  now: {state.status} {safe(state.reason)} (verdict {state.verdict or '-'}) since {safe(state.since)}; "
            f"first seen {safe(state.first_seen) or '-'}, last seen {safe(state.last_seen) or '-'}"
        )
    shown = f"{len(history.checks)} of {history.total_checks}" if history.total_checks > len(history.checks) else str(history.total_checks)
    lines.append(f"  checks ({shown}, newest first):")
    confirmed = {event.check_id for event, _ in history.events if event.kind == EventKind.LOST.value}
    for check in history.checks:
        link = ((check.details or {}).get("links") or [None])[0]
        facts = ", ".join(part for part in (
            f"HTTP {check.http_status}" if check.http_status is not None else "",
            f"final {safe(check.final_url, None)}" if check.final_url else "",
            "noindex" if check.noindex else "",
            f"run {check.run_id}" if check.run_id else "",
        ) if part)
        # A loss held back to the end of a healthy run is confirmed after the check was stored:
        # the check keeps missing_unconfirmed, the lost event on it says what it became.
        status = f"{check.status} -> lost" if check.id in confirmed else check.status
        lines.append(f"    {safe(check.checked_at)}  {status} {safe(check.reason)}  ({facts})")
        if check.link_count:
            lines.append(f"      anchors {safe(' | '.join(check.anchors), 300)}; rel {' '.join(check.rel) or '-'}; "
                         f"position {check.position or '-'}; links {check.link_count}")
        if link:
            lines.append(f"      context: {safe(link_context(link), 300)}")
    lines.append(f"  events ({len(history.events)}, newest first):" if history.events else "  no events")
    for event, proof in history.events:
        change = f"{safe(event.before) or '-'} -> {safe(event.after) or '-'}" if event.before or event.after else ""
        lines.append(f"    {safe(event.at)}  {event.kind}  {change}".rstrip())
        lines.extend(f"      {line}" for line in evidence_lines(proof))
    return "\n".join(lines)


def _rule(rel: str | None) -> str:
    """A stored rel rule as the user wrote it: "" is a followed link, "!ugc" is "not ugc"."""
    if rel is None:
        return "-"
    return ", ".join(token.replace("!", "not ") for token in rel.split()) or "follow"


def _changing(tag: str | None, referring_domain: str | None, target: str | None, url: list[str] | None,
              file: Path | None, file_format: str | None, file_target: str | None,
              status: list[str] | None, archived: bool | None = None) -> Selection:
    """A selection for a command that changes backlinks: never empty; archived ones included
    unless ``archived`` says otherwise."""
    chosen = selection(tag=tag, referring_domain=referring_domain, target=target, url=url, file=file,
                       file_format=file_format, file_target=file_target, status=status, archived=archived)
    if chosen.empty:
        fail("select the backlinks: --tag, --referring-domain, --target, --url, --file or --status")
    return chosen


def delete(
    tag: TagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    file_format: FileFormatOption = None,
    file_target: FileTargetOption = None,
    status: StatusOption = None,
    dry_run: Annotated[bool, typer.Option(help="say what would be removed, remove nothing")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask (for scripts)")] = False,
) -> None:
    """Remove the selected backlinks with their whole history (checks, events, deliveries)."""
    chosen = _changing(tag, referring_domain, target, url, file, file_format, file_target, status)
    with sessions()() as session, session.begin():
        ids = inventory.selected_ids(session, chosen)
        if not ids:
            console.print("No backlinks match: nothing to delete.", markup=False)
            return
        counted = inventory.delete_backlinks(session, ids, dry_run=True)
        what = (f"{counted.backlinks} backlinks with {counted.checks} checks, {counted.events} events "
                f"and {counted.deliveries} notification deliveries")
        if dry_run:
            console.print(f"would delete {what}", markup=False)
            return
        if not yes:
            if not sys.stdin.isatty():
                fail(f"would delete {what}: confirm with --yes (no terminal to ask)")
            typer.confirm(f"Delete {what}?", abort=True, err=True)
        inventory.delete_backlinks(session, ids)
    console.print(f"deleted {what}", markup=False)


def _retag(tag: str, add: bool, selected: Selection) -> None:
    try:
        tag = check_tag(tag)
    except ScopeError as exc:
        fail(str(exc))
    with sessions()() as session, session.begin():
        ids = inventory.selected_ids(session, selected)
        changed = inventory.retag(session, ids, tag, add=add)
    verb = "tagged" if add else "untagged"
    console.print(f"{verb} {changed} of {len(ids)} selected backlinks {safe(tag)!r}", markup=False, highlight=False)


def archive(
    tag: TagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    file_format: FileFormatOption = None,
    file_target: FileTargetOption = None,
    status: StatusOption = None,
) -> None:
    """Archive the selected backlinks: kept with their history, no longer crawled or reported."""
    chosen = _changing(tag, referring_domain, target, url, file, file_format, file_target, status, archived=False)
    _set_archived(chosen, datetime.now(UTC), "archived")


def unarchive(
    tag: TagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    file_format: FileFormatOption = None,
    file_target: FileTargetOption = None,
    status: StatusOption = None,
) -> None:
    """Bring archived backlinks back: crawled again from the next run, in the reports again."""
    chosen = _changing(tag, referring_domain, target, url, file, file_format, file_target, status, archived=True)
    _set_archived(chosen, None, "unarchived")


def _set_archived(chosen: Selection, at: datetime | None, verb: str) -> None:
    with sessions()() as session, session.begin():
        changed = inventory.set_archived(session, inventory.selected_ids(session, chosen), at)
    console.print(f"{verb} {changed} backlinks", markup=False)


TagArgument = Annotated[str, typer.Argument(help="the tag")]
SelectTagOption = Annotated[str | None, typer.Option("--tag", help="only backlinks that already have this tag")]


@tags_app.command("add")
def tag_add(
    name: TagArgument,
    tag: SelectTagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    file_format: FileFormatOption = None,
    file_target: FileTargetOption = None,
    status: StatusOption = None,
) -> None:
    """Add a tag to the selected backlinks."""
    _retag(name, True, _changing(tag, referring_domain, target, url, file, file_format, file_target, status))


@tags_app.command("remove")
def tag_remove(
    name: TagArgument,
    tag: SelectTagOption = None,
    referring_domain: ReferringDomainOption = None,
    target: TargetOption = None,
    url: UrlOption = None,
    file: FileOption = None,
    file_format: FileFormatOption = None,
    file_target: FileTargetOption = None,
    status: StatusOption = None,
) -> None:
    """Remove a tag from the selected backlinks (by default: from every backlink that has it)."""
    selected = selection(tag=tag or name, referring_domain=referring_domain, target=target, url=url, file=file,
                         file_format=file_format, file_target=file_target, status=status, archived=None)
    _retag(name, False, selected)


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
    app.command()(show)
    app.command()(delete)
    app.command()(archive)
    app.command()(unarchive)
    app.add_typer(tags_app, name="tag")
