"""Human-readable summaries for the terminal and the crawl log.

Everything shown may come from crawled pages (anchors, URLs), so it goes through :func:`safe`
and into rich ``Text`` objects: no markup, escape sequence or control character is interpreted.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import sessionmaker

from crawler.core.changes import EventKind
from crawler.core.scope import Scope
from pipelines.deliveries import run_deliveries
from pipelines.queries import events_query, get_run, iter_events

# What a terminal would act on instead of showing: C0 and C1 controls (escape sequences clear the
# screen, set the window title, move the cursor) and the bidirectional controls that reorder what
# follows (U+202E shows "moc.elpmaxe" as "example.com"), with the Unicode line separators.
BIDI_CHARACTERS = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"  # a regex class's body
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CHARACTERS}]")
SUMMARY_EVENTS = 40


def safe(value: Any, limit: int | None = 120) -> str:
    """``value`` as text a terminal shows as it is, cut to ``limit`` characters (None: whole)."""
    if value is None:
        return ""
    text = value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
    text = _CONTROL.sub("?", text)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def tsv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Tab-separated lines for a pipe or a cron log: nothing wrapped or cut, so ``grep URL`` finds
    the whole URL. Tabs and line breaks in a value cannot split it: :func:`safe` replaces them."""
    lines = ["\t".join(columns), *("\t".join(safe(value, None) for value in row) for row in rows)]
    return "\n".join(lines)


def status_table(rows: Iterable[tuple[str, str | None, int]], title: str = "Backlinks by status") -> Table:
    table = Table(title=title)
    table.add_column("status")
    table.add_column("reason")
    table.add_column("backlinks", justify="right")
    total = 0
    for status, reason, count in rows:
        table.add_row(Text(safe(status)), Text(safe(reason)), str(count))
        total += count
    table.add_section()
    table.add_row("total", "", str(total))
    return table


EVENT_COLUMNS = ("at", "kind", "referring_url", "target_url", "before", "after")


def events_table(rows: Iterable[dict[str, Any]], title: str = "Changes", *, with_time: bool = True) -> Table:
    columns = EVENT_COLUMNS if with_time else EVENT_COLUMNS[1:]
    table = Table(title=title)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(name, row[name]) for name in columns))
    return table


def _cell(name: str, value: Any) -> Text:
    if name in ("before", "after") and value == "":
        return Text("(none)")  # e.g. a link that had no rel at all
    return Text(safe(value, 80))  # Text: a "[bold]" in an anchor stays literal, never markup


def render(*renderables: Any, width: int = 140) -> str:
    """Plain text, for the crawl log (which may be a file under Scrapyd)."""
    out = io.StringIO()
    console = Console(width=width, file=out, color_system=None)
    for item in renderables:
        console.print(item)
    return out.getvalue()


def run_report(sessions: sessionmaker, run_id: int) -> list[Any]:
    """Counts per status and reason, then the changes this run made (first sightings counted)."""
    with sessions() as session:
        run = get_run(session, run_id)
        assert run is not None
        counts = run.counts or {}
        reasons = counts.get("reason", {})
        rows = []
        for status, number in sorted(counts.get("status", {}).items()):
            detailed = {k.split("/", 1)[1]: v for k, v in reasons.items() if k.split("/", 1)[0] == status}
            rows += [(status, reason, n) for reason, n in sorted(detailed.items())]
            if number > sum(detailed.values()):
                rows.append((status, None, number - sum(detailed.values())))
        kinds = tuple(EventKind(k) for k in (run.events or {}) if k != EventKind.FIRST_SEEN.value)
        stmt = events_query(session, Scope(run=run_id, kinds=kinds)).limit(SUMMARY_EVENTS) if kinds else None
        events = list(iter_events(session, stmt)) if stmt is not None else []
        alerts = run_deliveries(session, run_id)
    changed = sum(n for k, n in (run.events or {}).items() if k != EventKind.FIRST_SEEN.value)
    first_seen = (run.events or {}).get(EventKind.FIRST_SEEN.value, 0)
    parts: list[Any] = [status_table(rows, title=f"Run {run_id}: {counts.get('checked', 0)} backlinks checked")]
    if run.degraded:
        parts.append(
            f"Degraded: most results were inconclusive (an outage? blocked?); no backlink was moved to lost, "
            f"{counts.get('held_back', 0)} losses are held back until a healthy run sees them again."
        )
    if first_seen:
        parts.append(f"{first_seen} backlinks seen live for the first time.")
    if events:
        parts.append(events_table(events, title=f"Changes in run {run_id} ({changed})", with_time=False))
        if changed > SUMMARY_EVENTS:
            parts.append(f"... and {changed - SUMMARY_EVENTS} more: backlinks changes --run {run_id}")
    elif not first_seen:
        parts.append("No changes in this run.")
    for tally in alerts:  # docs/alerts.md: one line per channel the run's changes went to (or failed to)
        scope = f" for tag {safe(tally.tag, 60)}" if tally.tag else ""
        said = ", ".join(f"{n} {status}" for status, n in sorted(tally.counts.items()))
        failed = f" ({safe(tally.last_error, 200)}); `backlinks notify --run {run_id}` tries again" if tally.last_error else ""
        parts.append(f"Alerts: {safe(tally.channel, 64)}{scope}: {said}{failed}")
    return parts


def run_summary(sessions: sessionmaker, run_id: int) -> str:
    return render(*run_report(sessions, run_id))
