"""`backlinks snapshot CHECK_ID`: the page a check judged, as kept with it (``BACKLINKS_SNAPSHOTS``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import errors, fail, sessions
from crawler.reports.evidence import snapshot_summary
from crawler.reports.tables import safe
from pipelines.snapshots import page


def snapshot(
    check_id: Annotated[int, typer.Argument(help="the check, as `backlinks show` names it under an event")],
    out: Annotated[Path | None, typer.Option("--out", "-o", dir_okay=False, help="the file to write; default stdout")] = None,
) -> None:
    """Write the HTML of the page as check CHECK_ID fetched it (its bytes, in the page's own
    encoding); exit 1 when that check kept no snapshot."""
    with sessions()() as session:
        found = page(session, check_id)
    if found is None:
        errors.print(
            f"check {check_id} has no snapshot: only checks that changed something keep one, with "
            "BACKLINKS_SNAPSHOTS on, for BACKLINKS_SNAPSHOT_DAYS", markup=False, highlight=False,
        )
        raise typer.Exit(1)
    info, html = found
    if out is None:
        typer.echo(html, nl=False)  # bytes: the page's own encoding, untouched
    else:
        try:
            out.write_bytes(html)
        except OSError as exc:
            fail(f"--out {out}: {exc.strerror or exc}")
    # On stderr, so that stdout is the page alone.
    errors.print(f"snapshot: {snapshot_summary(info)}, of {safe(info.url, None)} at {info.taken_at:%Y-%m-%d %H:%M} UTC",
                 markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(snapshot)
