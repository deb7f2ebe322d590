"""Terminal and log summaries: page-derived text is shown inert, counts add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.core.items import Observation
from crawler.core.outcome import Status
from crawler.shell.progress import progress_line
from crawler.reports.tables import events_table, render, run_summary, safe
from pipelines import batches, runs
from crawler.core.changes import ChangePolicy
from pipelines.due import DueFilter
from pipelines.imports import import_rows
from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        ("plain", "plain"),
        ("\x1b[31mred\x1b[0m", "?[31mred?[0m"),  # no escape sequence reaches the terminal
        ("line\nbreak\tand\x00nul", "line?break?and?nul"),
        ("\x9b2J", "?2J"),  # C1 control (CSI) too
        ("\x1b]0;TITLE\x07", "?]0;TITLE?"),  # no window title set by a page
        ("https://a.example/\u202efdp.exe", "https://a.example/?fdp.exe"),  # no right-to-left override
        ("\u2066x\u2069\u200f\u061c\u2028", "?x????"),  # isolates, marks, line separator
        (datetime(2026, 1, 2, 3, 4, 5, 123, tzinfo=UTC), "2026-01-02T03:04:05+00:00"),
        ("x" * 200, "x" * 119 + "…"),
    ],
)
def test_safe(value: object, shown: str) -> None:
    assert safe(value) == shown


def test_rich_markup_in_page_text_is_not_interpreted() -> None:
    row = {"at": None, "kind": "anchor_changed", "referring_url": "https://a.test/", "target_url": "https://b.test/",
           "before": "[bold red]boo[/]", "after": "[link=https://evil.test]click[/link]"}
    text = render(events_table([row]), width=200)
    assert "[bold red]boo[/]" in text and "[link=https://evil.test]click[/link]" in text


def test_progress_line() -> None:
    stats = {"backlinks/stored": 12, "response_received_count": 9, "backlinks/status/live": 10,
             "backlinks/status/timeout": 2, "other": 5}
    assert progress_line(stats) == "12 backlinks stored, 9 responses: live 10, timeout 2"
    assert progress_line({}) == "0 backlinks stored, 0 responses"


def test_run_summary_counts_and_changes(sessions) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 2, tzinfo=UTC)
    import_rows(sessions, [ImportRow(line=2, backlink=BacklinkIn(referring_url=f"https://s{i}.test/", target_url="https://me.test/"))
                           for i in range(3)], now)
    ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=now), {"all": True}), now)
    run = ticket.run_id
    tally = batches.RunTally(worker_id=ticket.worker_id)
    observations = [
        Observation(backlink_id=1, referring_url="https://s0.test/", target_url="https://me.test/", checked_at=now,
                    status=Status.MISSING_UNCONFIRMED, reason="link_removed"),
        Observation(backlink_id=2, referring_url="https://s1.test/", target_url="https://me.test/", checked_at=now,
                    status=Status.TIMEOUT, reason="timeout"),
        Observation(backlink_id=3, referring_url="https://s2.test/", target_url="https://me.test/", checked_at=now,
                    status=Status.MISSING_UNCONFIRMED, reason="page_not_found"),
    ]
    policy = ChangePolicy(confirm_misses=1)
    batches.write_batch(sessions, run, observations, policy, tally)
    runs.leave(sessions, ticket, now, "finished", tally, policy, timedelta(minutes=5))
    text = run_summary(sessions, run)
    assert "Run 1: 3 backlinks checked" in text
    for needle in ("lost", "link_removed", "page_not_found", "timeout", "Changes in run 1 (2)", "https://s2.test/"):
        assert needle in text
