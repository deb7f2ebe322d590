"""Nights of checks written through the real storage code (runs, batches, the end-of-run loss
confirmation), each backlink with the outcome a test gives it: the history a crawl leaves behind,
without crawling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from crawler.core.changes import ChangePolicy
from crawler.core.items import LinkRecord, Observation, PageFacts
from crawler.core.outcome import Status
from pipelines import batches, runs
from pipelines.due import DueFilter
from pipelines.models import Backlink

# As a crawl stores (crawler/shell/runservice.py): losses held back to the end of a healthy run.
POLICY = ChangePolicy(confirm_misses=2, hold_losses=True)


@dataclass(frozen=True)
class Outcome:
    """What one check of one backlink saw."""

    status: Status
    follow: bool = True
    anchor: str = "a link"
    reason: str | None = None


LIVE = Outcome(Status.LIVE)
NOFOLLOW = Outcome(Status.LIVE, follow=False)
MISSING = Outcome(Status.MISSING_UNCONFIRMED, reason="link_removed")
TIMEOUT = Outcome(Status.TIMEOUT, reason="TimeoutError")
SERVER_ERROR = Outcome(Status.SERVER_ERROR, reason="503")


def backlink_ids(sessions: sessionmaker) -> dict[str, int]:
    """Backlink id by referring URL."""
    with sessions() as session:
        return {url: i for i, url in session.execute(select(Backlink.id, Backlink.referring_url))}


def night(
    sessions: sessionmaker, at: datetime, outcomes: Mapping[int, Outcome], policy: ChangePolicy = POLICY
) -> int:
    """One run at ``at`` checking the backlinks of ``outcomes`` (by id); returns the run's id."""
    with sessions() as session:
        known = {i: (r, t) for i, r, t in session.execute(select(Backlink.id, Backlink.referring_url, Backlink.target_url))}
    lease = timedelta(minutes=5)
    ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=at + timedelta(seconds=1)), {}), at)
    batch = []
    for backlink_id, outcome in outcomes.items():
        referring, target = known[backlink_id]
        seen = outcome.status is Status.LIVE
        page = None if outcome.status.inconclusive else PageFacts(url=referring, final_url=referring, http_status=200)
        link = LinkRecord(href=target, url=target, tag="a", anchor=outcome.anchor, left="read the", right="review",
                          rel=() if outcome.follow else ("nofollow",))
        batch.append(Observation(
            backlink_id=backlink_id, referring_url=referring, target_url=target, checked_at=at,
            status=outcome.status, reason=outcome.reason, page=page,
            links=[link] if seen else [], follow=outcome.follow if seen else None,
        ))
    tally = batches.RunTally(worker_id=ticket.worker_id)
    batches.write_batch(sessions, ticket.run_id, batch, policy, tally)
    runs.claim(sessions, ticket, len(known), lease, at)  # so that leaving settles its domains
    runs.leave(sessions, ticket, at + timedelta(minutes=5), "finished", tally, policy, lease)
    return ticket.run_id
