"""Two nights of checks written straight through the store, as two real runs would leave them:
every backlink seen with its link on night 1, missing on night 2 (lost: one miss confirms)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crawler.core.changes import ChangePolicy
from crawler.core.items import LinkRecord, Observation, PageFacts
from crawler.core.outcome import Status
from pipelines import batches, runs
from pipelines.db import make_engine, make_sessionmaker
from pipelines.due import DueFilter
from pipelines.models import Backlink

NIGHT = datetime(2026, 11, 1, 2, tzinfo=UTC)  # night 1; night 2 is a day later


def live_then_missing(url: str, link: Callable[[str], LinkRecord], *, follow: bool) -> None:
    """Runs 1 and 2 over every backlink at ``url``: ``link(target_url)`` seen with effective
    ``follow``, then no link ("link_removed")."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        backlinks = list(session.execute(select(Backlink.id, Backlink.referring_url, Backlink.target_url)))
    policy, lease = ChangePolicy(confirm_misses=1), timedelta(minutes=5)
    for night, status in enumerate((Status.LIVE, Status.MISSING_UNCONFIRMED)):
        at = NIGHT + timedelta(days=night)
        ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=at), {}), at)
        seen = status is Status.LIVE
        batch = [
            Observation(
                backlink_id=i, referring_url=r, target_url=t, checked_at=at, status=status,
                reason=None if seen else "link_removed",
                page=PageFacts(url=r, final_url=r, http_status=200),
                links=[link(t)] if seen else [],
                follow=follow if seen else None,
            )
            for i, r, t in backlinks
        ]
        tally = batches.RunTally(worker_id=ticket.worker_id)
        batches.write_batch(sessions, ticket.run_id, batch, policy, tally)
        runs.claim(sessions, ticket, len(batch), lease, at)  # so that leaving settles its domains
        runs.leave(sessions, ticket, at + timedelta(minutes=5), "finished", tally, policy, lease)
    engine.dispose()
