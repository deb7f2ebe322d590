"""The client report as one self-contained HTML file (`backlinks report`).

Jinja2 with autoescaping renders :class:`pipelines.report_data.ReportData`; charts are inline SVG
(:mod:`crawler.reports.charts`). The file loads nothing when opened: no script, font, image or style
sheet from anywhere, and a Content-Security-Policy that forbids them should one slip in. Every
crawled string (anchors, URLs, reasons, context) goes through the ``text`` filter (no control or
bidi characters, bounded) and then autoescaping, and sits in a ``<bdi>`` so right-to-left text
cannot reorder the columns around it.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from crawler.core.changes import EventKind
from crawler.reports.charts import COLOURS, movement_chart, runs_chart, standing_chart
from crawler.reports.evidence import facts, snapshot_command, snapshot_summary
from crawler.reports.tables import safe
from pipelines.report_data import CHANGES_LIMIT, Change, ReportData

TEXT_CHARS = 300  # a crawled string shown in a table cell; the export has it whole
# Why a backlink whose last check was inconclusive is not counted as lost: what the check met.
INCONCLUSIVE_MEANING = {
    "timeout": "the page did not answer in time",
    "server_error": "the site answered with a server error (5xx)",
    "network_error": "the site could not be reached (DNS, refused or reset connection, TLS)",
    "blocked_bot": "the site turned the crawler away (403, 429 or a bot challenge)",
    "blocked_robots": "the site's robots.txt forbids fetching the page",
    "not_html": "the page is not HTML (a PDF, an image, ...)",
    "too_large": "the page is larger than the download limit",
    "store_error": "the result could not be stored",
}
_LINKABLE = re.compile(r"https?://[!-~]+", re.IGNORECASE)
KIND_LABELS = {EventKind.FIRST_SEEN.value: "new link"}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "–"


def _text(value: Any, limit: int = TEXT_CHARS) -> str:
    if isinstance(value, (list, tuple)):
        value = " | ".join(str(item) for item in value)
    return safe(value, limit)


def _web_url(value: str | None) -> str | None:
    """``value`` if the report may link to it, else None (shown as text only): an http(s) URL of
    printable ASCII, as the crawler normalises them; no space, control or bidi character."""
    return value if value and _LINKABLE.fullmatch(value) else None


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("crawler.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        text=_text, when=_when, web_url=_web_url, facts=facts, snapshot_summary=snapshot_summary,
        snapshot_command=snapshot_command,
    )
    return env


_ENV = _environment()


def render_report(data: ReportData, title: str) -> str:
    return _ENV.get_template("report.html.j2").render(
        title=title,
        data=data,
        charts={
            "standing": standing_chart(data.days),
            "movement": movement_chart(data.days),
            "runs": runs_chart(data.runs),
        },
        colours=COLOURS,
        meaning=INCONCLUSIVE_MEANING,
        kind_labels=KIND_LABELS,
        changes_limit=CHANGES_LIMIT,
        proofs=_by_check(data.changes),
    )


def _by_check(changes: list[Change]) -> list[list[Change]]:
    """The changes grouped by the check they happened on, newest first: one evidence block per
    check (an anchor and a rel change on one check share the same proof)."""
    groups: dict[int, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.check_id, []).append(change)
    return list(groups.values())


def write_report(data: ReportData, title: str, path: Path) -> None:
    """Render and write the report; the file is whole or not replaced (written beside, then renamed)."""
    html = render_report(data, title)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)
