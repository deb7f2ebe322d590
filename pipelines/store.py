"""Database side of a run: open it, write batches of observations, close it. No Scrapy here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from crawler.items import Observation
from crawler.outcome import Status
from pipelines.changes import Change, Policy, Snapshot, detect
from pipelines.models import Backlink, Check, Event, Run, State

_SNAPSHOT_FIELDS = tuple(Snapshot.model_fields)


def open_run(sessions: sessionmaker, started_at: datetime, arguments: dict[str, Any]) -> int:
    with sessions.begin() as session:
        run = Run(
            started_at=started_at, status="running", arguments=arguments, counts={}, events={}
        )
        session.add(run)
        session.flush()
        return run.id


def close_run(
    sessions: sessionmaker, run_id: int, finished_at: datetime, reason: str, tally: RunTally
) -> None:
    with sessions.begin() as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(finished_at=finished_at, status="finished", finish_reason=reason, **tally.as_row())
        )


def snapshot(state: State | None) -> Snapshot | None:
    if state is None:
        return None
    return Snapshot.model_validate({name: getattr(state, name) for name in _SNAPSHOT_FIELDS})


def write_batch(
    sessions: sessionmaker,
    run_id: int | None,
    observations: Sequence[Observation],
    policy: Policy,
    tally: RunTally | None = None,
) -> list[tuple[Observation, Snapshot, list[Change]]]:
    """Store one batch in ONE transaction: checks appended, states replaced, events added.

    A crash mid-batch rolls all of it back, so the backlinks stay due and the re-run checks them
    once; nothing half-written is ever seen. ``tally``, when given, takes the batch and is saved on
    the run in the same transaction, so the run record always agrees with its checks.
    """
    results = []
    with sessions.begin() as session:
        ids = {obs.backlink_id for obs in observations}
        existing = set(session.scalars(select(Backlink.id).where(Backlink.id.in_(ids))))
        states = {
            state.backlink_id: state
            for state in session.scalars(
                select(State).where(State.backlink_id.in_(existing)).with_for_update()
            )
        }
        pending: list[tuple[Check, list[Change]]] = []
        for obs in observations:
            if obs.backlink_id not in existing:  # deleted while the run was on: nothing to store
                continue
            state_row = states.get(obs.backlink_id)
            new, changes = detect(snapshot(state_row), obs, policy)
            check = _check_row(run_id, obs, new)
            session.add(check)
            pending.append((check, changes))
            if state_row is None:
                state_row = states[obs.backlink_id] = State(backlink_id=obs.backlink_id)
                session.add(state_row)
            for name in _SNAPSHOT_FIELDS:
                setattr(state_row, name, getattr(new, name))
            results.append((obs, new, changes))
        session.flush()  # assigns check ids for the events and the states
        for check, changes in pending:
            states[check.backlink_id].last_check_id = check.id
            session.add_all(
                Event(
                    backlink_id=check.backlink_id,
                    run_id=run_id,
                    check_id=check.id,
                    kind=change.kind.value,
                    before=change.before,
                    after=change.after,
                    at=check.checked_at,
                )
                for change in changes
            )
        if tally is not None:
            combined = tally.copy()
            combined.add(results)
            session.execute(update(Run).where(Run.id == run_id).values(**combined.as_row()))
    if tally is not None:  # only once committed: a failed batch must not count
        tally.add(results)
    return results


def _check_row(run_id: int | None, obs: Observation, new: Snapshot) -> Check:
    page = obs.page
    found = obs.status is Status.LIVE
    return Check(
        backlink_id=obs.backlink_id,
        run_id=run_id,
        checked_at=obs.checked_at,
        observed=obs.status.value,
        status=new.status.value,
        reason=obs.reason,
        http_status=page.http_status if page else None,
        final_url=page.final_url if page else None,
        anchors=new.anchors if found else [],
        rel=new.rel if found else [],
        follow=obs.follow,
        position=new.position if found else None,
        link_count=len(obs.links),
        noindex=page.noindex if page else None,
        canonical=page.canonical if page else None,
        found_in=obs.found_in,
        details=obs.model_dump(mode="json", include={"page", "links", "retargeted_to", "mismatch"}),
    )


@dataclass
class RunTally:
    """A run's counters: per status, per status/reason and per event kind."""

    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)

    def add(self, results: Sequence[tuple[Observation, Snapshot, list[Change]]]) -> None:
        for _obs, new, changes in results:
            self.statuses[new.status.value] += 1
            if new.reason:
                self.reasons[f"{new.status.value}/{new.reason}"] += 1
            self.events.update(change.kind.value for change in changes)

    def copy(self) -> RunTally:
        return RunTally(Counter(self.statuses), Counter(self.reasons), Counter(self.events))

    def as_row(self) -> dict[str, Any]:
        """The values of the run's ``counts`` and ``events`` columns."""
        counts = {
            "checked": sum(self.statuses.values()),
            "status": dict(self.statuses),
            "reason": dict(self.reasons),
        }
        return {"counts": counts, "events": dict(self.events)}
