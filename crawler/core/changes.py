"""Change detection: a pure function from (previous state, new observation) to (new state, events).

No clock and no database: the pipeline loads the previous :class:`Snapshot`, calls :func:`detect`
and writes what it returns, so every transition is tested as a row of a table.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crawler.core.items import Observation
from crawler.core.outcome import Status
from crawler.core.urls import canonical_link


class EventKind(str, Enum):
    FIRST_SEEN = "first_seen"
    LOST = "lost"
    RECOVERED = "recovered"
    ANCHOR_CHANGED = "anchor_changed"
    REL_CHANGED = "rel_changed"
    FOLLOW_CHANGED = "follow_changed"
    POSITION_CHANGED = "position_changed"
    TARGET_CHANGED = "target_changed"
    HIDDEN_CHANGED = "hidden_changed"
    PAGE_BECAME_NOINDEX = "page_became_noindex"
    PAGE_BECAME_INDEXABLE = "page_became_indexable"
    PAGE_CANONICAL_CHANGED = "page_canonical_changed"
    # A placed or paid link's term (our CSV's expires_on): reached, or a loss before it.
    EXPIRED = "expired"
    LOST_BEFORE_EXPIRY = "lost_before_expiry"
    # An expectation (crawler.core.expect: anchor, rel, target, sponsored_without_rel) stopped
    # being met, or is met again.
    EXPECTATION_UNMET = "expectation_unmet"
    EXPECTATION_MET = "expectation_met"
    # The page lost the link but names the brand (crawler.core.mentions: one to reclaim), and a
    # mentioning page that links again.
    MENTION_FOUND = "mention_found"
    MENTION_LINKED = "mention_linked"


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: EventKind
    before: str | None = None
    after: str | None = None


class ChangePolicy(BaseModel):
    """When misses make a backlink lost, and when a run is too unhealthy to conclude any loss."""

    # Consecutive conclusive misses before a backlink is called lost: one miss is too often a
    # rotated feed, an A/B test or a CDN hiccup (see docs/architecture.md).
    confirm_misses: int = Field(default=2, ge=1)
    # Hold back every move to lost until the run is over and known healthy (see `degraded`): the
    # confirming miss leaves the backlink missing_unconfirmed with its misses counted, and
    # `confirm_loss` makes it lost at the end of a healthy run. A crawl stores with this on.
    hold_losses: bool = False
    # A run whose share of inconclusive results is above this is degraded (network outage, a
    # crawler blocked everywhere): it moves no backlink to lost.
    degraded_share: float = Field(default=0.5, gt=0, le=1)

    def degraded(self, statuses: Mapping[str, int]) -> bool:
        """Whether a run with these results per status (as its tally counts them) is degraded."""
        checked = sum(statuses.values())
        inconclusive = sum(n for status, n in statuses.items() if Status(status).inconclusive)
        return checked > 0 and inconclusive / checked > self.degraded_share

    def pending_loss(self, state: Snapshot) -> bool:
        """A held-back loss: misses enough to be lost, but not moved there yet."""
        return state.status is Status.MISSING_UNCONFIRMED and state.consecutive_misses >= self.confirm_misses


@dataclass(slots=True)
class Snapshot:
    """The current state of one backlink, as change detection sees it (mirrors ``states``).

    A plain dataclass, not a pydantic model: it never crosses a boundary unchecked (it is built
    from our own rows by :meth:`from_row`), and detection copies it once per check.
    """

    status: Status
    since: datetime
    last_checked: datetime
    reason: str | None = None
    verdict: Status | None = None  # last conclusive status: live, missing_unconfirmed or lost
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    consecutive_misses: int = 0
    anchors: list[str] = field(default_factory=list)
    rel: list[str] = field(default_factory=list)
    follow: bool | None = None
    position: str | None = None
    link_count: int = 0
    linked_url: str | None = None
    found_in: str | None = None
    hidden: bool | None = None
    mismatch: list[str] = field(default_factory=list)
    http_status: int | None = None
    final_url: str | None = None
    noindex: bool | None = None
    canonical: str | None = None
    miss_run_id: int | None = None  # the run of the last counted miss
    mentioned: bool | None = None  # the last conclusive check found the brand named without the link

    @classmethod
    def from_row(cls, row: Any) -> Snapshot:
        """From a ``states`` row (ORM object or result row): statuses back to :class:`Status`."""
        return cls.from_values([getattr(row, name) for name in SNAPSHOT_FIELDS])

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Snapshot:
        """From the ``states`` values of :data:`SNAPSHOT_FIELDS`, in that order: a result row of
        those columns gives them without a lookup by name per field, which costs more than the rest."""
        state = cls(*values)
        state.status = Status(state.status)
        state.verdict = Status(state.verdict) if state.verdict else None
        return state


SNAPSHOT_FIELDS = tuple(f.name for f in fields(Snapshot))


def detect(
    previous: Snapshot | None,
    observation: Observation,
    policy: ChangePolicy = ChangePolicy(),
    *,
    run_id: int | None = None,
    overlapping: Container[int] = frozenset(),
) -> tuple[Snapshot, list[Change]]:
    """Fold one observation into the state of its backlink and explain what changed.

    ``run_id`` is the observation's run and ``overlapping`` every run whose time overlaps it (itself
    included): a miss counts towards lost only when the last counted miss came from a run that
    did not overlap this one. Two crawls at once saw the page at the same moment; the loss needs
    another night.
    """
    obs, at = observation, observation.checked_at
    prev = previous or Snapshot(status=obs.status, since=at, last_checked=at)
    state = replace(prev, last_checked=at, reason=obs.reason)
    changes: list[Change] = []

    if obs.page is not None:
        state.http_status = obs.page.http_status
        state.final_url = obs.page.final_url
        # Only a page that was served and read says anything about noindex or its canonical;
        # an error page's missing canonical is not a change.
        if 200 <= obs.page.http_status < 300 and not obs.status.inconclusive:
            changes += _page_changes(previous, obs)
            state.noindex = obs.page.noindex
            state.canonical = obs.page.canonical

    if obs.status is Status.LIVE:
        changes += _live_changes(previous, obs)
        _take_link(state, obs)
        state.verdict, state.consecutive_misses, state.miss_run_id = Status.LIVE, 0, None
        state.first_seen = prev.first_seen or at
        state.last_seen = at
        new_status = Status.LIVE
    elif obs.status is Status.MISSING_UNCONFIRMED:
        if not (prev.consecutive_misses and prev.miss_run_id is not None and prev.miss_run_id in overlapping):
            state.consecutive_misses = prev.consecutive_misses + 1
            state.miss_run_id = run_id
        confirmed = state.consecutive_misses >= policy.confirm_misses
        new_status = Status.LOST if confirmed else Status.MISSING_UNCONFIRMED
        if confirmed and prev.verdict is not Status.LOST:
            if policy.hold_losses:  # confirm_loss() decides at the end of the run
                new_status = Status.MISSING_UNCONFIRMED
            else:
                changes.append(Change(kind=EventKind.LOST, before=_describe(prev), after=obs.reason))
        if obs.retargeted_to and obs.retargeted_to != prev.linked_url:
            changes.append(
                Change(kind=EventKind.TARGET_CHANGED, before=prev.linked_url, after=obs.retargeted_to)
            )
            state.linked_url = obs.retargeted_to
        state.verdict = new_status
    else:
        # Inconclusive: we could not see the page. Misses are neither counted nor reset, and the
        # verdict stands, so an outage can neither cause nor hide a loss.
        new_status = obs.status

    if not obs.status.inconclusive:
        changes += _mention_changes(prev.mentioned if previous else None, obs)
        state.mentioned = bool(obs.mentions)
    if previous is None or new_status is not prev.status:
        state.since = at
    state.status = new_status
    return state, changes


def confirm_loss(state: Snapshot) -> tuple[Snapshot, Change]:
    """Move a held-back loss (``ChangePolicy.pending_loss``) to lost, as its last check would have."""
    # The last miss alone was enough only if the link was live before it (confirm_misses = 1).
    before = "live" if state.consecutive_misses == 1 and state.first_seen else _describe(state)
    lost = replace(state, status=Status.LOST, verdict=Status.LOST, since=state.last_checked)
    return lost, Change(kind=EventKind.LOST, before=before, after=state.reason)


def term_changes(expires_on: date | None, previous_check: datetime | None, at: datetime, changes: Sequence[Change]) -> list[Change]:
    """A paid link's own events for a check at ``at`` that made ``changes``: ``expired`` on the first
    check on or after its last paid day (``expires_on``: the link is no longer owed), and
    ``lost_before_expiry`` when it is lost while still paid for (what the buyer asks a refund for)."""
    if expires_on is None:
        return []
    found = []
    if at.date() > expires_on and (previous_check is None or previous_check.date() <= expires_on):
        found.append(Change(kind=EventKind.EXPIRED, after=expires_on.isoformat()))
    if at.date() <= expires_on and any(change.kind is EventKind.LOST for change in changes):
        found.append(Change(kind=EventKind.LOST_BEFORE_EXPIRY, before=f"paid until {expires_on.isoformat()}",
                            after=next(c.after for c in changes if c.kind is EventKind.LOST)))
    return found


def _describe(prev: Snapshot) -> str:
    verdict = prev.verdict.value if prev.verdict else prev.status.value
    return f"{verdict} ({prev.reason})" if prev.reason and verdict != Status.LIVE.value else verdict


def _take_link(state: Snapshot, obs: Observation) -> None:
    links = obs.links
    state.anchors = _anchors(obs)
    state.rel = _rel_tokens(obs)
    state.follow = obs.follow
    state.position = links[0].position.value
    state.link_count = obs.link_count
    state.linked_url = canonical_link(links[0].url)
    state.found_in = obs.found_in
    state.hidden = _hidden(obs)
    state.mismatch = list(obs.mismatch)


def _live_changes(previous: Snapshot | None, obs: Observation) -> list[Change]:
    if previous is None or previous.first_seen is None:
        # A link that is wrong from the start (a paid link without sponsored) says so at once.
        return [Change(kind=EventKind.FIRST_SEEN, after=_joined(_anchors(obs))), *_expectation_changes([], obs.mismatch)]
    changes = _expectation_changes(previous.mismatch, obs.mismatch)
    # Back after a miss, confirmed (lost) or not (a false alarm cleared): never a silent flip.
    if previous.verdict in (Status.LOST, Status.MISSING_UNCONFIRMED):
        changes.append(Change(kind=EventKind.RECOVERED, before=_describe(previous), after="live"))
    compared = (
        (EventKind.ANCHOR_CHANGED, _joined(previous.anchors), _joined(_anchors(obs))),
        (EventKind.REL_CHANGED, _joined(previous.rel), _joined(_rel_tokens(obs))),
        (EventKind.FOLLOW_CHANGED, _follow_word(previous.follow), _follow_word(obs.follow)),
        (EventKind.POSITION_CHANGED, previous.position, obs.links[0].position.value),
        (EventKind.TARGET_CHANGED, previous.linked_url, canonical_link(obs.links[0].url)),
        (EventKind.HIDDEN_CHANGED, _bool_word(previous.hidden), _bool_word(_hidden(obs))),
    )
    for kind, before, after in compared:
        # An unknown before (e.g. never rendered, so hidden unknown) is not a change.
        if before is not None and after is not None and before != after:
            changes.append(Change(kind=kind, before=before, after=after))
    return changes


def _mention_changes(mentioned: bool | None, obs: Observation) -> list[Change]:
    """A mention found on a page whose link is missing, or a mentioning page that links again."""
    if obs.mentions and not mentioned:
        return [Change(kind=EventKind.MENTION_FOUND, after=obs.mentions[0])]
    if mentioned and obs.status is Status.LIVE:
        return [Change(kind=EventKind.MENTION_LINKED, before="mentioned without a link", after="live")]
    return []


def _expectation_changes(before: Sequence[str], after: Sequence[str]) -> list[Change]:
    """The expectations that flipped between the last live check and this one: one event of each
    kind at most (a check makes each kind once), naming them all ("anchor, rel")."""
    unmet = [name for name in after if name not in before]
    met = [name for name in before if name not in after]
    changes = []
    if unmet:
        changes.append(Change(kind=EventKind.EXPECTATION_UNMET, after=", ".join(unmet)))
    if met:
        changes.append(Change(kind=EventKind.EXPECTATION_MET, before=", ".join(met)))
    return changes


def _page_changes(previous: Snapshot | None, obs: Observation) -> list[Change]:
    assert obs.page is not None
    if previous is None or previous.noindex is None:
        return []
    page, changes = obs.page, []
    if page.noindex != previous.noindex:
        kind = EventKind.PAGE_BECAME_NOINDEX if page.noindex else EventKind.PAGE_BECAME_INDEXABLE
        changes.append(Change(kind=kind, before=_bool_word(previous.noindex), after=_bool_word(page.noindex)))
    if page.canonical != previous.canonical:
        changes.append(
            Change(kind=EventKind.PAGE_CANONICAL_CHANGED, before=previous.canonical, after=page.canonical)
        )
    return changes


def _anchors(obs: Observation) -> list[str]:
    # An image link's "anchor" is its alt text, as in every backlink tool's report.
    return list(dict.fromkeys(link.anchor or (link.alt or "") for link in obs.links))


def _rel_tokens(obs: Observation) -> list[str]:
    return sorted({token for link in obs.links for token in link.rel})


def _hidden(obs: Observation) -> bool | None:
    flags = [link.hidden for link in obs.links if link.hidden is not None]
    return all(flags) if flags else None


def _joined(values: list[str]) -> str:
    return " | ".join(values)


def _follow_word(follow: bool | None) -> str | None:
    return None if follow is None else ("follow" if follow else "nofollow")


def _bool_word(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")
