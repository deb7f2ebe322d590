"""Change detection as a table: sequences of observations -> statuses and events, step by step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.core.items import LinkRecord, Observation, PageFacts, Position
from crawler.core.outcome import Status
from crawler.core.changes import EventKind as K
from crawler.core.changes import ChangePolicy, Snapshot, confirm_loss, detect

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
REF = "https://blog.example.org/post"
TARGET = "https://shop.example.com/"


def page(noindex: bool = False, canonical: str | None = None, http_status: int = 200) -> PageFacts:
    return PageFacts(url=REF, final_url=REF, http_status=http_status, noindex=noindex, canonical=canonical)


def link(anchor: str = "great shop", rel: tuple[str, ...] = (), position: Position = Position.MAIN,
         url: str = TARGET, hidden: bool | None = None) -> LinkRecord:
    return LinkRecord(href=url, url=url, tag="a", anchor=anchor, rel=rel, position=position, hidden=hidden)


def live(*links: LinkRecord, follow: bool | None = None, **page_kw: object) -> dict:
    links = links or (link(),)
    if follow is None:
        follow = any(not {"nofollow", "sponsored", "ugc"} & set(item.rel) for item in links)
    return {"status": Status.LIVE, "links": list(links), "follow": follow, "page": page(**page_kw)}


def miss(reason: str = "link_removed", retargeted_to: str | None = None, **page_kw: object) -> dict:
    return {"status": Status.MISSING_UNCONFIRMED, "reason": reason, "page": page(**page_kw),
            "retargeted_to": retargeted_to}


def fail(status: Status, reason: str = "x", http_status: int | None = None) -> dict:
    return {"status": status, "reason": reason,
            "page": page(http_status=http_status) if http_status else None}


def run(steps: list[dict], policy: ChangePolicy = ChangePolicy()) -> list[tuple[Snapshot, list[str]]]:
    state, out = None, []
    for day, fields in enumerate(steps):
        obs = Observation(backlink_id=1, referring_url=REF, target_url=TARGET,
                          checked_at=T0 + timedelta(days=day), **fields)
        state, changes = detect(state, obs, policy)
        out.append((state, [c.kind.value for c in changes]))
    return out


TABLE = [
    # name, observations, statuses after each, event kinds after each
    ("first check live", [live()], ["live"], [[K.FIRST_SEEN]]),
    ("first check miss is unconfirmed", [miss()], ["missing_unconfirmed"], [[]]),
    ("two misses make lost", [live(), miss(), miss()],
     ["live", "missing_unconfirmed", "lost"], [[K.FIRST_SEEN], [], [K.LOST]]),
    ("lost stays lost without new events", [live(), miss(), miss(), miss()],
     ["live", "missing_unconfirmed", "lost", "lost"], [[K.FIRST_SEEN], [], [K.LOST], []]),
    ("recovery after lost", [live(), miss(), miss(), live()],
     ["live", "missing_unconfirmed", "lost", "live"], [[K.FIRST_SEEN], [], [K.LOST], [K.RECOVERED]]),
    ("a single miss then live is a recovery: a false alarm cleared", [live(), miss(), live()],
     ["live", "missing_unconfirmed", "live"], [[K.FIRST_SEEN], [], [K.RECOVERED]]),
    ("a miss, an outage, then live recovers too", [live(), miss(), fail(Status.TIMEOUT), live()],
     ["live", "missing_unconfirmed", "timeout", "live"], [[K.FIRST_SEEN], [], [], [K.RECOVERED]]),
    ("timeouts never count as misses", [live(), fail(Status.TIMEOUT), fail(Status.TIMEOUT), fail(Status.TIMEOUT)],
     ["live", "timeout", "timeout", "timeout"], [[K.FIRST_SEEN], [], [], []]),
    ("an error between two misses neither resets nor counts", [live(), miss(), fail(Status.SERVER_ERROR, "503"), miss()],
     ["live", "missing_unconfirmed", "server_error", "lost"], [[K.FIRST_SEEN], [], [], [K.LOST]]),
    ("lost, blocked, then live is a recovery", [miss(), miss(), fail(Status.BLOCKED_BOT, "403", 403), live()],
     ["missing_unconfirmed", "lost", "blocked_bot", "live"], [[], [K.LOST], [], [K.FIRST_SEEN]]),
    ("lost after live, blocked, live again recovers", [live(), miss(), miss(), fail(Status.BLOCKED_ROBOTS), live()],
     ["live", "missing_unconfirmed", "lost", "blocked_robots", "live"],
     [[K.FIRST_SEEN], [], [K.LOST], [], [K.RECOVERED]]),
    ("anchor changed", [live(link("great shop")), live(link("cheap widgets"))],
     ["live", "live"], [[K.FIRST_SEEN], [K.ANCHOR_CHANGED]]),
    ("anchor whitespace is not a change when extraction normalised it", [live(link("a b")), live(link("a b"))],
     ["live", "live"], [[K.FIRST_SEEN], []]),
    ("link gains nofollow: rel and follow change", [live(link()), live(link(rel=("nofollow",)))],
     ["live", "live"], [[K.FIRST_SEEN], [K.REL_CHANGED, K.FOLLOW_CHANGED]]),
    ("nofollow to sponsored: rel changes, follow does not", [live(link(rel=("nofollow",))), live(link(rel=("sponsored",)))],
     ["live", "live"], [[K.FIRST_SEEN], [K.REL_CHANGED]]),
    ("page-level nofollow flips follow only", [live(link()), live(link(), follow=False)],
     ["live", "live"], [[K.FIRST_SEEN], [K.FOLLOW_CHANGED]]),
    ("moved to the footer", [live(link()), live(link(position=Position.FOOTER))],
     ["live", "live"], [[K.FIRST_SEEN], [K.POSITION_CHANGED]]),
    ("now links to another matching URL", [live(link()), live(link(url=TARGET + "sale"))],
     ["live", "live"], [[K.FIRST_SEEN], [K.TARGET_CHANGED]]),
    ("miss because it points elsewhere on the site", [live(), miss(retargeted_to=TARGET + "other")],
     ["live", "missing_unconfirmed"], [[K.FIRST_SEEN], [K.TARGET_CHANGED]]),
    ("the same retarget is reported once", [live(), miss(retargeted_to=TARGET + "o"), miss(retargeted_to=TARGET + "o")],
     ["live", "missing_unconfirmed", "lost"], [[K.FIRST_SEEN], [K.TARGET_CHANGED], [K.LOST]]),
    ("page became noindex, link still there", [live(), live(noindex=True)],
     ["live", "live"], [[K.FIRST_SEEN], [K.PAGE_BECAME_NOINDEX]]),
    ("page indexable again", [live(noindex=True), live(noindex=False)],
     ["live", "live"], [[K.FIRST_SEEN], [K.PAGE_BECAME_INDEXABLE]]),
    ("canonical changed", [live(canonical=REF), live(canonical="https://blog.example.org/other")],
     ["live", "live"], [[K.FIRST_SEEN], [K.PAGE_CANONICAL_CHANGED]]),
    ("an error page's facts are not page changes", [live(canonical=REF), fail(Status.SERVER_ERROR, "500", 500), live(canonical=REF)],
     ["live", "server_error", "live"], [[K.FIRST_SEEN], [], []]),
    ("a 404 miss carries no canonical change", [live(canonical=REF), miss("page_not_found", http_status=404)],
     ["live", "missing_unconfirmed"], [[K.FIRST_SEEN], []]),
    ("hidden flips after rendering", [live(link(hidden=False)), live(link(hidden=True))],
     ["live", "live"], [[K.FIRST_SEEN], [K.HIDDEN_CHANGED]]),
    ("unknown hidden is no change", [live(link(hidden=False)), live(link(hidden=None))],
     ["live", "live"], [[K.FIRST_SEEN], []]),
]


@pytest.mark.parametrize(("steps", "statuses", "events"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_transitions(steps: list[dict], statuses: list[str], events: list[list[K]]) -> None:
    result = run(steps)
    assert [state.status.value for state, _ in result] == statuses
    assert [kinds for _, kinds in result] == [[k.value for k in step] for step in events]


def test_confirm_misses_is_a_policy() -> None:
    assert [s.status.value for s, _ in run([live(), miss()], ChangePolicy(confirm_misses=1))] == ["live", "lost"]
    three = run([live(), miss(), miss(), miss()], ChangePolicy(confirm_misses=3))
    assert [s.status.value for s, _ in three] == ["live", "missing_unconfirmed", "missing_unconfirmed", "lost"]


def test_a_cleared_false_alarm_says_what_it_was() -> None:
    (_, _), (missed, _) = run([live(), miss("link_removed")])
    obs = Observation(backlink_id=1, referring_url=REF, target_url=TARGET, checked_at=T0 + timedelta(days=2), **live())
    state, changes = detect(missed, obs)
    assert [(c.kind, c.before, c.after) for c in changes] == [(K.RECOVERED, "missing_unconfirmed (link_removed)", "live")]
    assert state.consecutive_misses == 0


def test_lost_event_explains_before_and_after() -> None:
    (_, _), (_, _), (state, _) = run([live(), miss("noindex"), miss("noindex")])
    obs = Observation(backlink_id=1, referring_url=REF, target_url=TARGET, checked_at=T0 + timedelta(days=9),
                      **live())
    _, changes = detect(state, obs)
    assert [(c.kind, c.before, c.after) for c in changes] == [(K.RECOVERED, "lost (noindex)", "live")]
    lost_step = run([live(), miss("page_redirected"), miss("page_redirected")])[2]
    assert lost_step[0].reason == "page_redirected"


def test_dates_and_counters() -> None:
    result = run([live(), live(), miss(), fail(Status.TIMEOUT), miss(), live()])
    states = [s for s, _ in result]
    assert states[0].first_seen == states[5].first_seen == T0
    assert states[1].last_seen == T0 + timedelta(days=1)
    assert states[4].last_seen == T0 + timedelta(days=1)  # misses and errors keep the last sighting
    assert [s.consecutive_misses for s in states] == [0, 0, 1, 1, 2, 0]
    assert states[1].since == T0  # still live: the status began on day 0
    assert states[2].since == T0 + timedelta(days=2)
    assert [s.verdict.value for s in states] == ["live", "live", "missing_unconfirmed", "missing_unconfirmed", "lost", "live"]
    assert states[3].status is Status.TIMEOUT and states[3].reason == "x"


def test_live_snapshot_keeps_the_link_as_last_seen() -> None:
    result = run([live(link("one"), link("two", rel=("ugc", "nofollow"), position=Position.ASIDE)), miss()])
    seen, missed = result[0][0], result[1][0]
    assert seen.anchors == ["one", "two"]
    assert seen.rel == ["nofollow", "ugc"]
    assert seen.follow is True  # the first link passes equity
    assert seen.link_count == 2
    assert seen.position == "main"
    assert missed.anchors == ["one", "two"]  # a miss does not erase what the link looked like


def test_image_link_anchor_is_its_alt() -> None:
    img = LinkRecord(href=TARGET, url=TARGET, tag="a", anchor="", alt="Shop logo")
    (state, kinds), = run([live(img)])
    assert state.anchors == ["Shop logo"]


def test_held_losses_wait_for_confirm_loss() -> None:
    """With hold_losses the confirming miss leaves the backlink missing_unconfirmed, misses counted;
    confirm_loss then makes it exactly what an immediate loss would have been."""
    held, immediate = ChangePolicy(hold_losses=True), ChangePolicy()
    first, _ = detect(None, Observation(backlink_id=1, referring_url=REF, target_url=TARGET, checked_at=T0, **live()), held)
    at = T0 + timedelta(days=1)
    missed, _ = detect(first, Observation(backlink_id=1, referring_url=REF, target_url=TARGET, checked_at=at, **miss()), held)
    second = T0 + timedelta(days=2)
    obs = Observation(backlink_id=1, referring_url=REF, target_url=TARGET, checked_at=second, **miss())
    pending, changes = detect(missed, obs, held)
    assert (pending.status, pending.consecutive_misses, changes) == (Status.MISSING_UNCONFIRMED, 2, [])
    assert held.pending_loss(pending) and not held.pending_loss(missed)
    lost_now, lost_changes = detect(missed, obs, immediate)
    assert confirm_loss(pending) == (lost_now, lost_changes[0])
    # Already lost: another miss is no new loss, held or not.
    assert detect(lost_now, obs, held)[0].status is Status.LOST


def test_confirm_loss_after_a_single_miss_says_it_was_live() -> None:
    policy = ChangePolicy(confirm_misses=1, hold_losses=True)
    first, _ = detect(None, Observation(backlink_id=1, referring_url=REF, target_url=TARGET, checked_at=T0, **live()), policy)
    obs = Observation(backlink_id=1, referring_url=REF, target_url=TARGET, checked_at=T0 + timedelta(days=1), **miss())
    pending, _ = detect(first, obs, policy)
    assert confirm_loss(pending)[1] == detect(first, obs, ChangePolicy(confirm_misses=1))[1][0]
