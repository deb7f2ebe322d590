"""The reporting views (migrations 0006 and 0007, docs/reporting.md) as the read side sees them.

Their columns are declared here with their types, so that a read gives the same Python values on
SQLite (where days and timestamps are text) and PostgreSQL. They live in a MetaData of their own:
the models' metadata describes tables, which autogenerate compares and tests empty; views are
neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from sqlalchemy import Column, Date, Float, Integer, MetaData, Select, String, Table, Text, select
from sqlalchemy.orm import Session

from crawler.core.scope import Scope
from pipelines.models import Backlink, UTCDateTime
from pipelines.queries import scoped  # the one scoping of every export

views = MetaData()



def _backlink() -> tuple[Column[Any], ...]:
    """The columns every view names its backlink with."""
    return (
        Column("backlink_id", Integer), Column("referring_url", Text), Column("referring_domain", String),
        Column("target_url", Text),
    )


report_links = Table(
    "report_links", views,
    *_backlink(),
    Column("match", String), Column("tags", Text), Column("status", String), Column("reason", String),
    Column("verdict", String), Column("is_live", Integer), Column("is_followed", Integer),
    Column("anchors", Text), Column("rel", Text), Column("link_count", Integer), Column("http_status", Integer),
    Column("final_url", Text), Column("noindex", Integer), Column("canonical", Text), Column("found_in", String),
    Column("first_seen", UTCDateTime), Column("last_seen", UTCDateTime), Column("last_checked", UTCDateTime),
    Column("since", UTCDateTime), Column("consecutive_misses", Integer),
)

report_daily = Table(
    "report_daily", views,
    Column("day", Date), *_backlink(), Column("tags", Text),
    Column("status", String), Column("verdict", String), Column("is_live", Integer), Column("is_followed", Integer),
    Column("checked_that_day", Integer), Column("check_id", Integer), Column("verdict_check_id", Integer),
)

report_events = Table(
    "report_events", views,
    Column("event_id", Integer), Column("day", Date), Column("at", UTCDateTime), Column("run_id", Integer),
    Column("kind", String), Column("before", Text), Column("after", Text),
    *_backlink(), Column("tags", Text), Column("reason", String),
    Column("last_seen", UTCDateTime),
    *(Column(f"{side}_{name}", Text) for side in ("before", "after") for name in ("anchors", "rel", "position", "context")),
    Column("check_id", Integer), Column("before_check_id", Integer),
)

report_domains_daily = Table(
    "report_domains_daily", views,
    Column("day", Date), Column("referring_domain", String),
    *(Column(name, Integer) for name in ("backlinks", "live", "followed", "lost", "new", "lost_that_day", "recovered")),
)

report_runs = Table(
    "report_runs", views,
    Column("run_id", Integer), Column("key", String), Column("day", Date), Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime), Column("status", String), Column("finish_reason", String),
    *(Column(name, Integer) for name in (
        "degraded", "pages", "checks", "live", "missing_unconfirmed", "lost", "inconclusive", "held_back", "errors",
        "events",
    )),
)

report_metrics = Table(  # migration 0007
    "report_metrics", views,
    *_backlink(), Column("name", String), Column("number", Float), Column("text", Text), Column("source", String),
    Column("as_of", Date),
)

DAILY_FIELDS = tuple(c.name for c in report_daily.columns)

_YIELD = 1000


def daily_query(session: Session, scope: Scope = Scope()) -> Select:
    """The rows of report_daily in ``scope``, by day then backlink. ``since``: days on or after its
    UTC day. A run is not a day's unit (a day's row carries what every run until then saw): a scope
    with a run is refused."""
    scope.require_no_kinds("the daily grain")
    scope.require_no_run("the daily grain")
    daily = report_daily
    stmt = scoped(session, select(daily).join(Backlink, Backlink.id == daily.c.backlink_id), scope)
    if scope.since:
        stmt = stmt.where(daily.c.day >= scope.since.astimezone(UTC).date())
    return stmt.order_by(daily.c.day, daily.c.backlink_id)


def iter_daily(session: Session, stmt: Select) -> Iterator[dict[str, Any]]:
    """Rows of ``stmt`` (:func:`daily_query`) as export rows: the day as 'YYYY-MM-DD'."""
    for row in session.execute(stmt).yield_per(_YIELD).mappings():
        yield {**row, "day": row["day"].isoformat()}
