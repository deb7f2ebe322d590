"""Vendors' metrics kept at import, a paid link's terms, and its events (expired, lost before expiry)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.changes import Change, EventKind, term_changes
from crawler.core.importers import read_backlinks
from crawler.core.metrics import METRICS, MetricError, parse_date, parse_metric, parse_number
from pipelines.models import Event, Metric
from tests.support.history import LIVE, MISSING, night

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures" / "imports"


@pytest.mark.parametrize(
    ("cell", "value"),
    [("45", 45.0), ("1,204", 1204.0), ("1.204.000", 1204000.0), ("0,5", 0.5), ("0.5", 0.5), ("1.234,5", 1234.5),
     ("1,234.5", 1234.5), ("1 234", 1234.0), ("1\u00a0234,75", 1234.75), ("1'234", 1234.0), ("45%", 45.0),
     ("-3", -3.0), ("12.5 ", 12.5)],
)
def test_numbers_in_every_locale(cell: str, value: float) -> None:
    assert parse_number(cell) == value


@pytest.mark.parametrize("cell", ["abc", "1,2,3x", "", "%", "--5"])
def test_what_is_not_a_number(cell: str) -> None:
    with pytest.raises(MetricError, match="is not a number"):
        parse_number(cell)


@pytest.mark.parametrize(
    ("cell", "day"),
    [("2024-03-01", "2024-03-01"), ("2024-03-01 10:11:12", "2024-03-01"), ("2024-03-01T10:11:12Z", "2024-03-01"),
     ("01.03.2024", "2024-03-01"), ("01/03/2024", "2024-03-01"), ("1 Mar 2024", "2024-03-01"), ("Mar 1, 2024", "2024-03-01")],
)
def test_dates(cell: str, day: str) -> None:
    assert parse_date(cell) == day


@pytest.mark.parametrize(("name", "cell", "value"), [
    ("domain_rating", " - ", None), ("domain_rating", "n/a", None), ("domain_rating", "", None),
    ("source_title", "  Best widgets ", "Best widgets"), ("vendor_first_seen", "2023-05-01", "2023-05-01"),
])
def test_parse_metric(name: str, cell: str, value: object) -> None:
    assert parse_metric(name, cell) == value


@pytest.mark.parametrize(("fixture", "metrics"), [
    ("ahrefs_utf16.csv", {"domain_rating": 45.0, "domain_traffic": 1200.0, "page_traffic": 30.0, "referring_domains": 300.0,
                          "linked_domains": 40.0, "external_links": 55.0, "source_title": "Best widgets",
                          "vendor_first_seen": "2023-01-02", "vendor_last_seen": "2024-03-01"}),
    ("ahrefs_old.csv", {"domain_rating": 70.0, "url_rating": 30.0, "source_title": "Post", "vendor_first_seen": "2019-05-01"}),
    ("semrush.csv", {"page_ascore": 45.0, "source_title": "Widgets review", "external_links": 12.0, "internal_links": 40.0,
                     "vendor_first_seen": "2023-05-01", "vendor_last_seen": "2024-03-01"}),
    ("majestic.csv", {"trust_flow": 20.0, "citation_flow": 30.0, "vendor_first_seen": "2020-01-01", "vendor_last_seen": "2024-03-01"}),
    ("moz.csv", {"domain_authority": 50.0, "page_authority": 40.0, "spam_score": 1.0, "source_title": "Post"}),
])
def test_every_importer_keeps_its_formats_metrics(fixture: str, metrics: dict[str, object]) -> None:
    first = next(row for row in read_backlinks(FIXTURES / fixture) if row.backlink is not None)
    assert first.backlink is not None and first.backlink.metrics == metrics
    assert set(metrics) <= set(METRICS)


def test_a_bad_metric_cell_is_the_rows_error(tmp_path: Path) -> None:
    lines = (FIXTURES / "moz.csv").read_text().splitlines()
    header = lines.index(next(line for line in lines if line.startswith("URL,")))
    lines[header + 1] = lines[header + 1].replace(",1,40,50,", ",lots,40,50,", 1)
    bad = tmp_path / "moz.csv"
    bad.write_text("\n".join(lines) + "\n")
    rows = list(read_backlinks(bad))
    assert rows[0].error == "Spam Score: 'lots' is not a number"
    assert rows[1].backlink is not None


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


PLACED = ["referring_url", "target_url", "match", "cost", "currency", "placed_on", "expires_on", "tags"]


@pytest.mark.parametrize(("cells", "placement", "error"), [
    (["1.234,50", "eur", "01.05.2026", "2027-04-30"],
     {"cost": 1234.5, "currency": "EUR", "placed_on": date(2026, 5, 1), "expires_on": date(2027, 4, 30)}, None),
    (["", "", "", ""], {"cost": None, "currency": None, "placed_on": None, "expires_on": None}, None),
    (["cheap", "", "", ""], None, "cost: 'cheap' is not a number"),
    (["10", "euro", "", ""], None, "currency: 'euro' is not an ISO 4217 code like EUR or USD"),
    (["", "", "2026-05-01", "2026-04-01"], None, "expires_on: before placed_on"),
    (["", "", "", "next year"], None, "expires_on: 'next year' is not a date"),
])
def test_our_csv_carries_a_paid_links_terms(tmp_path: Path, cells: list[str], placement: dict[str, object] | None, error: str | None) -> None:
    path = write(tmp_path / "placed.csv", PLACED, [["https://blog.test/p", "https://me.test/", "exact", *cells, "paid"]])
    [row] = read_backlinks(path)
    assert row.error == error
    if placement is not None:
        assert row.backlink is not None
        assert {name: getattr(row.backlink, name) for name in placement} == placement


@pytest.mark.parametrize(("expires", "previous", "at", "changes", "kinds"), [
    (None, "2026-11-01", "2026-12-01", [EventKind.LOST], []),
    ("2026-11-30", "2026-11-30", "2026-12-01", [], [EventKind.EXPIRED]),  # the first check after the last paid day
    ("2026-11-30", "2026-12-01", "2026-12-02", [], []),  # told once
    ("2026-11-30", None, "2026-12-01", [], [EventKind.EXPIRED]),
    ("2026-11-30", "2026-11-29", "2026-11-30", [], []),  # still paid on its last day
    ("2026-11-30", "2026-11-29", "2026-11-30", [EventKind.LOST], [EventKind.LOST_BEFORE_EXPIRY]),
    ("2026-11-30", "2026-11-30", "2026-12-01", [EventKind.LOST], [EventKind.EXPIRED]),  # lost after: no refund due
])
def test_term_changes(expires: str | None, previous: str | None, at: str, changes: list[EventKind], kinds: list[EventKind]) -> None:
    def moment(day: str) -> datetime:
        return datetime.fromisoformat(day).replace(hour=2, tzinfo=UTC)

    made = [Change(kind=kind, before="live", after="link_removed") for kind in changes]
    found = term_changes(date.fromisoformat(expires) if expires else None, moment(previous) if previous else None, moment(at), made)
    assert [change.kind for change in found] == kinds


def invoke(db: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database", db, *args])


def test_metrics_are_stored_replaced_exported_and_shown(db_url: str, sessions: sessionmaker, tmp_path: Path) -> None:
    assert invoke(db_url, "import", str(FIXTURES / "ahrefs_utf8.csv")).exit_code == 0
    with sessions() as session:
        rows = {(m.name, m.number, m.text, m.source) for m in session.scalars(select(Metric).where(Metric.backlink_id == 1))}
    assert ("domain_rating", 45.0, None, "ahrefs") in rows
    assert ("source_title", None, "Best widgets", "ahrefs") in rows
    # A later export with another value: replaced, and it is not an "update" of the backlink.
    newer = tmp_path / "ahrefs_newer.csv"
    newer.write_text((FIXTURES / "ahrefs_utf8.csv").read_text(encoding="utf-8-sig").replace('"45","1200"', '"52","1300"', 1),
                     encoding="utf-8")
    again = invoke(db_url, "import", str(newer))
    assert again.exit_code == 0, again.output
    assert ", updated 0, " in again.stdout
    with sessions() as session:
        assert session.scalar(select(Metric.number).where(Metric.backlink_id == 1, Metric.name == "domain_rating")) == 52.0
        view = session.execute(text("SELECT referring_url, name, number, source FROM report_metrics "
                                    "WHERE backlink_id = 1 AND name = 'domain_traffic'")).one()
    assert tuple(view) == ("https://blog.example/widgets", "domain_traffic", 1300.0, "ahrefs")
    export = invoke(db_url, "export", "--what", "current", "--format", "jsonl")
    first = json.loads(export.stdout.splitlines()[0])
    assert (first["metric_domain_rating"], first["metric_source_title"], first["metric_trust_flow"]) == (52.0, "Best widgets", None)
    assert first["cost"] is None
    shown = invoke(db_url, "show", "https://blog.example/widgets").stdout
    assert "metrics: domain_rating 52 (ahrefs, " in shown
    assert "source_title Best widgets (ahrefs" in shown


def test_a_paid_link_expires_and_one_lost_before_expiry_says_so(db_url: str, sessions: sessionmaker, tmp_path: Path) -> None:
    path = write(tmp_path / "placed.csv", PLACED, [
        ["https://blog.test/a", "https://me.test/", "exact", "120", "EUR", "2026-10-01", "2026-11-02", "paid"],
        ["https://blog.test/b", "https://me.test/", "exact", "80", "EUR", "2026-10-01", "2026-12-31", "paid"],
    ])
    assert invoke(db_url, "import", str(path)).exit_code == 0
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    # a: live every night, paid until Nov 2. b: removed on night 2; the second miss (night 3) confirms it.
    for day, b in enumerate((LIVE, MISSING, MISSING, MISSING)):
        night(sessions, start + timedelta(days=day), {1: LIVE, 2: b})
    with sessions() as session:
        events = [(e.backlink_id, e.kind, e.before, e.after, e.at.date()) for e in session.scalars(select(Event).order_by(Event.id))
                  if e.kind not in ("first_seen",)]
    assert events[0] == (1, "expired", None, "2026-11-02", date(2026, 11, 3))
    assert [(i, k) for i, k, *_ in events] == [(1, "expired"), (2, "lost"), (2, "lost_before_expiry")]
    assert events[1][4] == events[2][4] == date(2026, 11, 3)  # the loss confirmed on night 3, still paid
    assert events[2][2:4] == ("paid until 2026-12-31", "link_removed")
    shown = invoke(db_url, "show", "https://blog.test/b").stdout
    assert "placed: cost 80.00 EUR; placed on 2026-10-01; paid until 2026-12-31" in shown
    assert "lost_before_expiry  paid until 2026-12-31 -> link_removed" in shown


def test_a_loss_decided_on_its_check_is_told_before_expiry_too(db_url: str, sessions: sessionmaker, tmp_path: Path) -> None:
    """Without holding losses to the run's end (one miss confirms): the batch itself tells it."""
    from crawler.core.changes import ChangePolicy

    path = write(tmp_path / "placed.csv", PLACED, [["https://blog.test/b", "https://me.test/", "exact", "", "", "", "2026-12-31", ""]])
    assert invoke(db_url, "import", str(path)).exit_code == 0
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for day, outcome in enumerate((LIVE, MISSING)):
        night(sessions, start + timedelta(days=day), {1: outcome}, policy=ChangePolicy(confirm_misses=1))
    with sessions() as session:
        kinds = list(session.scalars(select(Event.kind).order_by(Event.id)))
    assert kinds == ["first_seen", "lost", "lost_before_expiry"]
