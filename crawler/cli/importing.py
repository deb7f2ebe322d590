"""`backlinks import`: known backlinks in, and a report that says what the file was and what it changed."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from crawler.cli.common import console, errors, fail, sessions
from crawler.core.importers import FORMATS, ImportFormatError, ImportRow, open_backlinks, parse_column_map
from crawler.core.items import MatchMode
from crawler.core.urls import InvalidURL, check_url, site_url
from crawler.reports.tables import safe
from pipelines.imports import FieldChange, ImportReport, import_rows

SHOWN_ERRORS = 50
_DELIMITERS = {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated", "|": "pipe-separated"}
_ENCODINGS = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16 LE",
              "utf-16-be": "UTF-16 BE", "cp1252": "Windows-1252"}
REPORT_FIELDS = ("line", "referring_url", "target_url", "field", "before", "after", "applied")


def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    format: Annotated[str | None, typer.Option("--format", "-f", help=f"one of {', '.join(FORMATS)}; default: detected")] = None,
    target: Annotated[str | None, typer.Option(help="your site's URL, for exports that name no target (GSC, plain lists)")] = None,
    match: Annotated[MatchMode | None, typer.Option(help="override the match mode of every row")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="add this tag to every row (repeatable)")] = None,
    map: Annotated[
        list[str] | None,
        typer.Option("--map", help="read an unknown layout as our CSV: 'Source URL=referring_url,Link To=target_url' (repeatable)"),
    ] = None,
    update_match: Annotated[
        bool, typer.Option("--update-match", help="let the file change the match mode of backlinks already known")
    ] = False,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="write every change to this CSV (line, backlink, field, before, after)")
    ] = None,
    strict: Annotated[bool, typer.Option(help="import nothing if any row is bad")] = False,
    dry_run: Annotated[bool, typer.Option(help="report what would change, change nothing")] = False,
) -> None:
    """Import known backlinks from our CSV/JSON, a URL list, GSC, Ahrefs, Semrush, Majestic or Moz."""
    if format is not None and format not in FORMATS:
        raise typer.BadParameter(f"{format!r}: choose one of {', '.join(FORMATS)}", param_hint="--format")
    if target is not None and match is not None:  # else the format's default mode decides, on reading
        try:
            target = site_url(target) if match is MatchMode.DOMAIN else check_url(target)
        except InvalidURL as exc:
            raise typer.BadParameter(str(exc), param_hint="--target") from None
    database = sessions()
    extra_tags = list(dict.fromkeys(tag or []))
    try:
        opened = open_backlinks(file, format=format, target=target, match=match, columns=parse_column_map(map or []))
    except ImportFormatError as exc:
        fail(f"{file}: {exc}")
    console.print(f"{file}: {describe(opened.format, opened.encoding, opened.delimiter)}", markup=False, highlight=False)
    rows = _with_tags(opened.rows, extra_tags) if extra_tags else opened.rows
    sink = report_file.open("w", encoding="utf-8", newline="") if report_file else nullcontext()
    try:
        with sink as out:
            write_change = _change_writer(out) if out is not None else None
            report = _run(database, file, rows, strict=strict, dry_run=dry_run, update_match=update_match,
                          on_change=write_change)
    except ImportFormatError as exc:
        fail(f"{file}: {exc}")
    _tell(file, report, dry_run=dry_run)
    if report_file:
        console.print(f"wrote every change to {report_file}", markup=False)
    if strict and report.error_count:
        fail("--strict: nothing imported because of the bad rows above")
    if report.rows == 0:
        # A vendor export that came out empty (only a header): the cron job that imports it must notice.
        errors.print(f"warning: {file} has no backlink rows (only a header?): nothing imported", markup=False)
        raise typer.Exit(1)


def describe(fmt: str, encoding: str, delimiter: str | None) -> str:
    """``"read as ahrefs (UTF-16, tab-separated)"``."""
    parts = [_ENCODINGS.get(encoding, encoding)]
    if delimiter is not None:
        parts.append(_DELIMITERS.get(delimiter, f"{delimiter!r}-separated"))
    return f"read as {fmt} ({', '.join(parts)})"


def _run(database, file: Path, rows: Iterator[ImportRow], **options) -> ImportReport:  # type: ignore[no-untyped-def]
    # Rows stream through, so the total is unknown up front: show the line reached.
    progress = Progress(TextColumn("importing"), BarColumn(), TextColumn("line {task.fields[line]}"),
                        TimeElapsedColumn(), console=errors, transient=True, disable=not errors.is_terminal)
    with progress:
        task = progress.add_task("import", total=None, line=0)

        def advance(line: int) -> None:
            if line % 1000 == 0:
                progress.update(task, line=line)

        return import_rows(database, rows, datetime.now(UTC), progress=advance,
                           waiting=lambda message: errors.print(f"{file}: {message}", markup=False), **options)


def _change_writer(out):  # type: ignore[no-untyped-def]
    writer = csv.writer(out)
    writer.writerow(REPORT_FIELDS)

    def write(change: FieldChange, applied: bool) -> None:
        writer.writerow([change.line, change.referring_url, change.target_url, change.field,
                         change.before, change.after, "yes" if applied else "no"])

    return write


def _tell(file: Path, report: ImportReport, *, dry_run: bool) -> None:
    for line, reason in report.errors[:SHOWN_ERRORS]:
        errors.print(f"{file}:{line}: {safe(reason, 300)}", markup=False, highlight=False)
    if report.error_count > SHOWN_ERRORS:
        errors.print(f"... {report.error_count - SHOWN_ERRORS} more bad rows", markup=False)
    verb = "would add" if dry_run else ("added" if report.committed else "rolled back; would have added")
    console.print(
        f"{file}: {verb} {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"duplicates {report.duplicates}, bad rows {report.error_count}",
        markup=False,
    )
    if report.changed_fields:
        fields = ", ".join(f"{name} {count}" for name, count in sorted(report.changed_fields.items()))
        console.print(f"  changed: {fields}", markup=False)
        for change in report.samples:
            console.print(f"  {_shown(change)}", markup=False, highlight=False)
    if report.kept_match:
        errors.print(
            f"warning: kept the match mode of {report.kept_match} backlinks the file would change "
            "(pass --update-match to change it):", markup=False,
        )
        for change in report.kept_match_samples:
            errors.print(f"  {_shown(change)}", markup=False, highlight=False)


def _shown(change: FieldChange) -> str:
    before, after = (safe(v, 80) if v else "-" for v in (change.before, change.after))
    return (f"line {change.line}: {safe(change.referring_url)} -> {safe(change.target_url)}: "
            f"{change.field} {before} -> {after}")


def _with_tags(rows: Iterator[ImportRow], tags: list[str]) -> Iterator[ImportRow]:
    for row in rows:
        if row.backlink is not None:
            row.backlink.tags = list(dict.fromkeys([*row.backlink.tags, *tags]))
        yield row


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
