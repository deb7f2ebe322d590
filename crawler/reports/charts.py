"""The client report's trend charts: inline SVG drawn by pygal, made inert for a self-contained file.

pygal always writes a ``<script>`` (its tooltip configuration) and comments naming its web site
into the SVG; both are removed from the tree before it is serialised, so the report has no script
at all and references nothing outside itself (``js=[]``: no tooltip bundle from a CDN). Every label
goes through :func:`crawler.reports.tables.safe` (no control or bidi characters, bounded) and lxml
escapes it as XML text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pygal
from lxml import etree
from markupsafe import Markup
from pygal.style import Style

from crawler.reports.tables import safe
from pipelines.report_data import Day, RunTally

# One colour per meaning, the same in every chart and in the page's legend boxes (report.html.j2).
COLOURS = {
    "live": "#1b7f3b",
    "followed": "#2360a5",
    "lost": "#c0392b",
    "unconfirmed": "#d68910",
    "inconclusive": "#7f8c8d",
    "new": "#7d3c98",
    "recovered": "#17a589",
}
_LABEL_CHARS = 60


def _style(*names: str) -> Style:
    return Style(
        background="transparent",
        plot_background="transparent",
        foreground="#333",
        foreground_strong="#111",
        foreground_subtle="#bbb",
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        colors=tuple(COLOURS[name] for name in names),
        title_font_size=16,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
    )


def _inert(root: etree._Element) -> etree._Element:
    """pygal's tree without its script and comments (an xml_filter, applied before serialising)."""
    for node in list(root.iter()):
        if node.tag == "script" or node.tag is etree.Comment:
            node.getparent().remove(node)
    return root


def _counts_axis(series: Sequence[list[int]], stacked: bool) -> list[int]:
    """Whole numbers up the y axis, about eight of them: these are counts of backlinks."""
    columns = [sum(column) for column in zip(*series, strict=True)] if stacked else [v for values in series for v in values]
    top = max(columns, default=0)
    step = max(1, math.ceil(top / 8))
    return list(range(0, top + step + 1, step))


def _chart(kind: type[pygal.graph.graph.Graph], title: str, labels: Sequence[str], series: dict[str, list[int]]) -> Markup:
    chart = kind(
        js=[],
        disable_xml_declaration=True,
        style=_style(*series),
        title=safe(title, _LABEL_CHARS),
        width=860,
        height=320,
        explicit_size=False,
        legend_at_bottom=True,
        legend_at_bottom_columns=len(series),
        x_label_rotation=-30 if len(labels) > 8 else 0,
        show_minor_x_labels=len(labels) <= 16,
        x_labels_major_every=max(1, len(labels) // 8),
        truncate_label=-1,
        y_labels=_counts_axis(list(series.values()), stacked=kind is pygal.StackedBar),
        print_values=False,
        no_data_text="No data in this period",
        margin=12,
        margin_right=48,  # room for the last day's label
    )
    chart.x_labels = [safe(label, _LABEL_CHARS) for label in labels]
    for name, values in series.items():
        chart.add(safe(name, _LABEL_CHARS), values)
    chart.add_xml_filter(_inert)
    # lxml serialised it from text nodes and attributes it escaped itself: safe to insert as markup.
    return Markup(chart.render(is_unicode=True))


def standing_chart(days: Sequence[Day]) -> Markup:
    """Backlinks per day by verdict: live, followed, lost, unconfirmed."""
    return _chart(
        pygal.Line,
        "Backlinks per day",
        [day.day.isoformat() for day in days],
        {
            "live": [day.live for day in days],
            "followed": [day.followed for day in days],
            "lost": [day.lost for day in days],
            "unconfirmed": [day.unconfirmed for day in days],
        },
    )


def movement_chart(days: Sequence[Day]) -> Markup:
    """What happened each day: new links, losses, recoveries, and inconclusive checks (not losses)."""
    return _chart(
        pygal.Bar,
        "New, lost and recovered links; inconclusive checks",
        [day.day.isoformat() for day in days],
        {
            "new": [day.new for day in days],
            "lost": [day.lost_that_day for day in days],
            "recovered": [day.recovered for day in days],
            "inconclusive": [day.inconclusive for day in days],
        },
    )


def runs_chart(runs: Sequence[RunTally]) -> Markup:
    """Each run's checks by outcome: two runs on one day are two bars here."""
    return _chart(
        pygal.StackedBar,
        "Checks per run",
        [f"run {run.run_id} · {run.started_at:%m-%d %H:%M}" for run in runs],
        {
            "live": [run.live for run in runs],
            "unconfirmed": [run.unconfirmed for run in runs],
            "lost": [run.lost for run in runs],
            "inconclusive": [run.inconclusive for run in runs],
        },
    )
