"""Target health in the database: claiming each of the user's own pages once per run, storing its
check, and reading the latest verdicts with the backlinks they affect (crawler/core/targets.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.outcome import Status
from crawler.core.scope import Scope
from crawler.core.targets import PROBLEMS, TargetCheck, Verdict
from pipelines.db import native_insert, writing
from pipelines.models import Backlink, State, TargetCheckRow
from pipelines.queries import scoped

_RANK = {verdict.value: rank for rank, verdict in enumerate(Verdict)}


def claim_targets(sessions: sessionmaker, run_id: int, urls: Sequence[str], now: datetime) -> list[str]:
    """Those of ``urls`` no process of the run has claimed yet, now claimed by this one."""
    if not urls:
        return []
    with writing(sessions) as session:
        rows = [{"run_id": run_id, "url": url, "claimed_at": now} for url in dict.fromkeys(urls)]
        claimed = set(session.scalars(
            native_insert(session, TargetCheckRow).values(rows)
            .on_conflict_do_nothing(index_elements=["run_id", "url"]).returning(TargetCheckRow.url)
        ))
    return [url for url in dict.fromkeys(urls) if url in claimed]


def store_targets(sessions: sessionmaker, run_id: int, checks: Sequence[TargetCheck]) -> None:
    """The judged checks of ``run_id``'s claimed URLs, in one transaction."""
    rows = [{"b_url": check.url, "checked_at": check.checked_at, **check.model_dump(mode="json", exclude={"url", "checked_at"})}
            for check in checks]
    values = {name: bindparam(name) for name in rows[0] if name != "b_url"} if rows else {}
    with writing(sessions) as session:
        session.connection().execute(
            update(TargetCheckRow.__table__)
            .where(TargetCheckRow.__table__.c.run_id == run_id, TargetCheckRow.__table__.c.url == bindparam("b_url"))
            .values(values),
            rows,
        )


def latest_checks(session: Session, urls: Iterable[str] | None = None) -> dict[str, TargetCheckRow]:
    """Each URL's last judged check, of any run."""
    newest = (
        select(func.max(TargetCheckRow.id).label("id")).where(TargetCheckRow.verdict.is_not(None))
        .group_by(TargetCheckRow.url)
    )
    if urls is not None:
        newest = newest.where(TargetCheckRow.url.in_(list(urls)))
    rows = session.scalars(select(TargetCheckRow).where(TargetCheckRow.id.in_(newest.scalar_subquery())))
    return {row.url: row for row in rows}


def reciprocal_domains(session: Session) -> dict[str, list[str]]:
    """Registrable domain -> the own pages (targets and listed pages) that link to it, as last checked."""
    linked: dict[str, list[str]] = {}
    for row in latest_checks(session).values():
        for domain in row.linked_domains or ():
            linked.setdefault(domain, []).append(row.url)
    return linked


def target_health(session: Session, scope: Scope = Scope(), *, problems_only: bool = False) -> list[dict[str, Any]]:
    """Each target URL of the selected backlinks with its last verdict and the backlinks it affects:
    the worst verdicts first, then the most backlinks."""
    counts = session.execute(
        scoped(
            session,
            select(Backlink.target_url, func.count(Backlink.id),
                   func.sum(case((State.verdict == Status.LIVE.value, 1), else_=0)))
            .select_from(Backlink).outerjoin(State, State.backlink_id == Backlink.id),
            scope,
        ).group_by(Backlink.target_url)
    ).all()
    checks = latest_checks(session, [url for url, *_ in counts])
    rows = []
    for url, backlinks, live in counts:
        check = checks.get(url)
        verdict = check.verdict if check is not None else None
        if problems_only and verdict not in {v.value for v in PROBLEMS}:
            continue
        rows.append({
            "target_url": url, "verdict": verdict or "unchecked", "detail": check.detail if check else None,
            "http_status": check.http_status if check else None, "final_url": check.final_url if check else None,
            "redirects": len(check.redirects or ()) if check else 0, "noindex": check.noindex if check else None,
            "canonical": check.canonical if check else None, "checked_at": check.checked_at if check else None,
            "backlinks": backlinks, "live_backlinks": int(live or 0),
        })
    rows.sort(key=lambda r: (_RANK.get(r["verdict"], len(_RANK)), -r["backlinks"], r["target_url"]))
    return rows

