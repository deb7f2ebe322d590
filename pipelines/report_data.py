"""What a client report shows (`backlinks report`), read from the reporting views of migration 0006
(pipelines/reporting.py, docs/reporting.md) and kept to one scope, as a typed model: crawler/reports/html.py renders it.

Every count rests on the verdict (the last conclusive status, carried over inconclusive checks), so
an outage night (timeouts, server errors, blocked pages) leaves live links live and is reported in
its own section, and a first miss (``missing_unconfirmed``) is reported as unconfirmed, not lost.

``report_domains_daily`` and ``report_runs`` count every backlink; a report for one tag must not
carry another client's numbers, so the per-day and per-run figures are counted here from the
per-backlink rows, kept to the scope's backlinks. No clock inside: ``generated_at`` is passed in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crawler.core.changes import EventKind
from crawler.core.outcome import INCONCLUSIVE, Status
from crawler.core.scope import Scope
from crawler.core.targets import PROBLEMS, Verdict
from pipelines import queries, reporting, snapshots, targets
from pipelines.evidence import Evidence, evidence_of
from pipelines.models import Backlink, Check, Event

CHANGES_LIMIT = 500  # rows of the changes table; the rest is counted ("and N more") and exportable
LIST_LIMIT = 200  # rows of the inconclusive and unconfirmed lists, and of the mix tables
_INCONCLUSIVE = sorted(status.value for status in INCONCLUSIVE)

_daily, _links, _events, _runs = reporting.report_daily, reporting.report_links, reporting.report_events, reporting.report_runs


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Day(_Model):
    """One calendar day (UTC) of the backlinks in scope, each counted by its verdict that day."""

    day: date
    backlinks: int
    live: int
    followed: int
    lost: int
    unconfirmed: int  # verdict missing_unconfirmed: missed once, not (yet) lost
    inconclusive: int  # checked that day with an inconclusive result; still counted by their verdict
    new: int  # first_seen events that day
    lost_that_day: int  # lost events that day
    recovered: int  # recovered events that day


class RunTally(_Model):
    """One run's checks of the backlinks in scope, by outcome."""

    run_id: int
    started_at: datetime
    live: int
    unconfirmed: int
    lost: int
    inconclusive: int


class Domain(_Model):
    referring_domain: str
    backlinks: int
    live: int
    followed: int
    lost: int
    unconfirmed: int
    inconclusive: int  # last check inconclusive (counted under live, lost, ... by verdict)


class Share(_Model):
    """One value of a mix (an anchor text, a rel) and the live links that have it."""

    label: str
    links: int


class Change(_Model):
    """An event of the period, with the link before and after it (pipelines.queries.EVENT_FIELDS)."""

    at: datetime
    kind: str
    referring_url: str
    referring_domain: str | None
    target_url: str
    tags: list[str]
    before: str | None
    after: str | None
    reason: str | None
    last_seen: datetime | None
    before_anchors: list[str]
    before_rel: list[str]
    before_context: str | None
    after_anchors: list[str]
    after_rel: list[str]
    after_context: str | None
    check_id: int  # the check it happened on: its evidence block's anchor
    evidence: Evidence


class Pending(_Model):
    """A backlink whose last check settled nothing: inconclusive, or a first miss (unconfirmed)."""

    referring_url: str
    target_url: str
    status: str
    reason: str | None
    verdict: str | None  # what it is counted as meanwhile
    last_checked: datetime | None
    last_seen: datetime | None
    since: datetime | None
    consecutive_misses: int


class TargetHealth(_Model):
    """One of your pages that backlinks point to, as its last check found it (crawler/core/targets.py)."""

    target_url: str
    verdict: str
    detail: str | None
    final_url: str | None
    redirects: int
    checked_at: datetime | None
    backlinks: int
    live_backlinks: int


class LastRun(_Model):
    run_id: int
    key: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    finish_reason: str | None
    degraded: bool


class Totals(_Model):
    """The backlinks in scope now, by verdict."""

    backlinks: int
    live: int
    followed: int
    lost: int
    unconfirmed: int
    unknown: int  # never conclusively checked
    inconclusive: int  # last check inconclusive


class ReportData(_Model):
    scope: Scope
    since: datetime
    generated_at: datetime
    last_run: LastRun | None
    totals: Totals
    days: list[Day]
    runs: list[RunTally]
    domains: list[Domain]
    anchors: list[Share]  # of links the last check saw live
    rels: list[Share]
    changes: list[Change]
    changes_total: int
    inconclusive: list[Pending]
    inconclusive_total: int
    unconfirmed: list[Pending]
    unconfirmed_total: int
    targets: list[TargetHealth]  # those that waste their links, worst first
    targets_unchecked: int  # targets no run could judge (unreachable, or never checked)


def gather(session: Session, scope: Scope, since: datetime, generated_at: datetime) -> ReportData:
    """The report of the backlinks in ``scope`` (its tag, referring domain and target), over the days
    and events from ``since`` on. One read: call it inside one transaction for a consistent report."""
    scope = scope.model_copy(update={"since": since})
    ids = queries.scoped(session, select(Backlink.id), scope)  # the one scoping of every export
    return ReportData(
        scope=scope,
        since=since,
        generated_at=generated_at,
        last_run=_last_run(session),
        totals=_totals(session, ids),
        days=_days(session, ids, since.astimezone(UTC).date()),
        runs=_runs_of(session, ids, since),
        domains=_domains(session, ids),
        anchors=_mix(session, ids, _links.c.anchors),
        rels=_mix(session, ids, _links.c.rel),
        changes=_changes(session, scope),
        changes_total=session.scalar(select(func.count()).select_from(queries.events_query(session, scope).subquery())) or 0,
        **_pending(session, ids),
        **_targets(session, scope),
    )


def _targets(session: Session, scope: Scope) -> dict[str, Any]:
    rows = targets.target_health(session, scope)
    return {
        "targets": [TargetHealth.model_validate(row) for row in rows if row["verdict"] in _PROBLEMS],
        "targets_unchecked": sum(1 for row in rows if row["verdict"] in (Verdict.UNREACHABLE.value, "unchecked")),
    }


_PROBLEMS = frozenset(v.value for v in PROBLEMS)


def _sum(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _last_run(session: Session) -> LastRun | None:
    row = session.execute(select(_runs).order_by(_runs.c.run_id.desc()).limit(1)).mappings().first()
    return LastRun.model_validate({**row, "degraded": bool(row["degraded"])}) if row else None


def _totals(session: Session, ids: Any) -> Totals:
    links = _links.c
    row = session.execute(
        select(
            func.count().label("backlinks"),
            _sum(links.is_live == 1).label("live"),
            _sum(links.is_followed == 1).label("followed"),
            _sum(links.verdict == Status.LOST.value).label("lost"),
            _sum(links.verdict == Status.MISSING_UNCONFIRMED.value).label("unconfirmed"),
            _sum(links.verdict.is_(None)).label("unknown"),
            _sum(links.status.in_(_INCONCLUSIVE)).label("inconclusive"),
        ).where(links.backlink_id.in_(ids))
    ).mappings().one()
    return Totals.model_validate(row)


def _days(session: Session, ids: Any, first: date) -> list[Day]:
    daily = _daily.c
    rows = session.execute(
        select(
            daily.day,
            func.count().label("backlinks"),
            _sum(daily.is_live == 1).label("live"),
            _sum(daily.is_followed == 1).label("followed"),
            _sum(daily.verdict == Status.LOST.value).label("lost"),
            _sum(daily.verdict == Status.MISSING_UNCONFIRMED.value).label("unconfirmed"),
            _sum((daily.checked_that_day == 1) & daily.status.in_(_INCONCLUSIVE)).label("inconclusive"),
        )
        .where(daily.backlink_id.in_(ids), daily.day >= first)
        .group_by(daily.day)
        .order_by(daily.day)
    ).mappings()
    events = _events.c
    counted = {
        (day, kind): n
        for day, kind, n in session.execute(
            select(events.day, events.kind, func.count())
            .where(events.backlink_id.in_(ids), events.day >= first)
            .group_by(events.day, events.kind)
        )
    }
    return [
        Day(
            **row,
            new=counted.get((row["day"], EventKind.FIRST_SEEN.value), 0),
            lost_that_day=counted.get((row["day"], EventKind.LOST.value), 0),
            recovered=counted.get((row["day"], EventKind.RECOVERED.value), 0),
        )
        for row in rows
    ]


def _runs_of(session: Session, ids: Any, since: datetime) -> list[RunTally]:
    """The period's runs, each with its checks of the scope's backlinks by outcome: two nights on one
    day (the demo, a re-run) are two points here and one day above."""
    # A loss held back to the end of a healthy run is confirmed on the state, not on its check (which
    # says missing_unconfirmed): the check a lost event rests on counts as lost.
    confirmed = Check.id.in_(select(Event.check_id).where(Event.kind == EventKind.LOST.value))
    rows = session.execute(
        select(
            Check.run_id,
            _runs.c.started_at,
            _sum(Check.status == Status.LIVE.value).label("live"),
            _sum((Check.status == Status.MISSING_UNCONFIRMED.value) & ~confirmed).label("unconfirmed"),
            _sum((Check.status == Status.LOST.value) | confirmed).label("lost"),
            _sum(Check.status.in_(_INCONCLUSIVE)).label("inconclusive"),
        )
        .join(_runs, _runs.c.run_id == Check.run_id)
        .where(Check.backlink_id.in_(ids), _runs.c.started_at >= since)
        .group_by(Check.run_id, _runs.c.started_at)
        .order_by(Check.run_id)
    ).mappings()
    return [RunTally.model_validate(row) for row in rows]


def _domains(session: Session, ids: Any) -> list[Domain]:
    links = _links.c
    domain = func.coalesce(links.referring_domain, "")
    rows = session.execute(
        select(
            domain.label("referring_domain"),
            func.count().label("backlinks"),
            _sum(links.is_live == 1).label("live"),
            _sum(links.is_followed == 1).label("followed"),
            _sum(links.verdict == Status.LOST.value).label("lost"),
            _sum(links.verdict == Status.MISSING_UNCONFIRMED.value).label("unconfirmed"),
            _sum(links.status.in_(_INCONCLUSIVE)).label("inconclusive"),
        )
        .where(links.backlink_id.in_(ids))
        .group_by(domain)
        .order_by(func.count().desc(), domain)
    ).mappings()
    return [Domain.model_validate(row) for row in rows]


def _mix(session: Session, ids: Any, field: Any) -> list[Share]:
    """Live links by ``field`` (the anchors or the rel tokens of each backlink, as the view joins them),
    of the backlinks whose last check saw the link: an inconclusive last check saw nothing to count."""
    links = _links.c
    value = func.coalesce(field, "")
    rows = session.execute(
        select(value, func.count())
        .where(links.backlink_id.in_(ids), links.status == Status.LIVE.value)
        .group_by(value)
        .order_by(func.count().desc(), value)
        .limit(LIST_LIMIT)
    )
    return [Share(label=label, links=n) for label, n in rows]


def _changes(session: Session, scope: Scope) -> list[Change]:
    # Newest first: when there are more than CHANGES_LIMIT, the latest are the ones shown.
    stmt = queries.events_query(session, scope).order_by(None).order_by(Event.id.desc()).limit(CHANGES_LIMIT)
    rows = list(queries.iter_events(session, stmt))
    # Two checks per change at most: a bounded parameter list on every backend.
    wanted = {row["check_id"] for row in rows} | {row["before_check_id"] for row in rows if row["before_check_id"]}
    checks = {check.id: check for check in session.scalars(select(Check).where(Check.id.in_(wanted)))} if rows else {}
    kept = snapshots.infos(session, (row["check_id"] for row in rows))
    return [
        Change.model_validate({
            **row,
            "evidence": evidence_of(checks.get(row["before_check_id"]), checks[row["check_id"]], kept.get(row["check_id"])),
        })
        for row in rows
    ]


def _pending(session: Session, ids: Any) -> dict[str, Any]:
    links = _links.c
    out: dict[str, Any] = {}
    for name, condition in (
        ("inconclusive", links.status.in_(_INCONCLUSIVE)),
        ("unconfirmed", links.status == Status.MISSING_UNCONFIRMED.value),
    ):
        where = (links.backlink_id.in_(ids), condition)
        rows = session.execute(
            select(links).where(*where).order_by(links.referring_domain, links.referring_url, links.backlink_id).limit(LIST_LIMIT)
        ).mappings()
        out[name] = [_pending_row(row) for row in rows]
        out[f"{name}_total"] = session.scalar(select(func.count()).select_from(_links).where(*where)) or 0
    return out


def _pending_row(row: Any) -> Pending:
    return Pending.model_validate({**row, "consecutive_misses": row["consecutive_misses"] or 0})

