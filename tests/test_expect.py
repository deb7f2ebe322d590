"""Expectations, complete: the anchor (exact, contains, regex), the rel rule, the landing page, and
sponsored for paid links; each a mismatch and an event when it flips, down to a real crawl."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawler.core.changes import EventKind, detect
from crawler.core.expect import ExpectationError, anchor_met, check_anchor_rule, normalise_rel_rule, rel_met
from crawler.core.items import DueBacklink, LinkRecord, Observation, PageFacts
from crawler.core.observe import expectation_mismatch
from crawler.core.outcome import Status
from crawler.demo.run import crawl_env
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean
from pipelines.models import Backlink, Event, State
from tests.support import fault_server
from tests.support.fault_server import FaultServer, Writer, crawl_command, crawl_measured, page, respond


@pytest.mark.parametrize(("rule", "anchors", "met"), [
    ("Widget Co", ["widget  co"], True),
    ("Widget Co", ["Widget Co shop"], False),
    ("contains:widget", ["Buy the best Widget today"], True),
    ("contains:widget", ["gadgets"], False),
    ("regex:^best (widget|gadget)s?$", ["Best Gadgets"], True),
    ("regex:^best (widget|gadget)s?$", ["the best widgets"], False),
    ("REGEX:shop$", ["example shop"], True),
    ("", [""], True),
])
def test_anchor_rules(rule: str, anchors: list[str], met: bool) -> None:
    assert anchor_met(rule, anchors) is met


def test_a_bad_pattern_is_refused_at_import() -> None:
    with pytest.raises(ExpectationError, match="'\\(unclosed' is not a valid regular expression"):
        check_anchor_rule("regex:(unclosed")
    with pytest.raises(ExpectationError, match="more than 500 characters"):
        check_anchor_rule("regex:" + "a" * 501)
    assert check_anchor_rule("contains:(fine") == "contains:(fine"


@pytest.mark.parametrize(("text", "stored"), [
    ("follow", ""), ("Followed", ""), ("dofollow", ""), ("nofollow", "nofollow"), ("sponsored, nofollow", "nofollow sponsored"),
    ("not ugc", "!ugc"), ("follow, not ugc", "!ugc follow"), ("!sponsored nofollow", "!sponsored nofollow"), ("no ugc", "!ugc"),
])
def test_rel_rules_are_normalised(text: str, stored: str) -> None:
    assert normalise_rel_rule(text) == stored


@pytest.mark.parametrize(("text", "message"), [("noopener", "'noopener' is not one of follow"), ("ugc not", "'not' must come before")])
def test_bad_rel_rules(text: str, message: str) -> None:
    with pytest.raises(ExpectationError, match=message):
        normalise_rel_rule(text)


@pytest.mark.parametrize(("rule", "rel", "followed", "met"), [
    ("", (), True, True), ("", ("nofollow",), False, False), ("", (), False, False),  # page-level nofollow
    ("sponsored", ("sponsored", "nofollow"), False, True), ("nofollow sponsored", ("sponsored",), False, False),
    ("!ugc", ("nofollow",), False, True), ("!ugc", ("ugc",), False, False),
    ("!ugc follow", (), True, True), ("!ugc follow", ("sponsored",), False, False),
    ("!follow", ("nofollow",), False, True), ("!follow", (), True, False),
])
def test_rel_rules(rule: str, rel: tuple[str, ...], followed: bool, met: bool) -> None:
    assert rel_met(rule, rel, followed) is met


FACTS = PageFacts(url="https://blog.test/p", final_url="https://blog.test/p", http_status=200)


def link(url: str = "https://me.test/pricing", anchor: str = "Widget Co", rel: tuple[str, ...] = ()) -> LinkRecord:
    return LinkRecord(href=url, url=url, tag="a", anchor=anchor, rel=rel)


@pytest.mark.parametrize(("backlink", "links", "mismatch"), [
    ({}, [link()], []),
    ({"expected_anchor": "contains:widget", "expected_rel": "!ugc"}, [link(rel=("ugc",))], ["rel"]),
    ({"expected_target": "https://me.test/pricing"}, [link("https://me.test/pricing?utm_source=x")], []),
    ({"expected_target": "https://me.test/pricing"}, [link("https://me.test/")], ["target"]),
    ({"paid": True}, [link(rel=("nofollow",))], ["sponsored_without_rel"]),
    ({"paid": True, "expected_anchor": "nope"}, [link(rel=("sponsored",))], ["anchor"]),
    # One of several matching links meeting an expectation is enough.
    ({"expected_target": "https://me.test/pricing"}, [link("https://me.test/"), link()], []),
])
def test_expectation_mismatch(backlink: dict[str, Any], links: list[LinkRecord], mismatch: list[str]) -> None:
    due = DueBacklink(id=1, target_url="https://me.test/", match="domain", **backlink)
    assert expectation_mismatch(due, links, FACTS) == mismatch


def _obs(mismatch: list[str], day: int) -> Observation:
    return Observation(backlink_id=1, referring_url=FACTS.url, target_url="https://me.test/", status=Status.LIVE,
                       checked_at=datetime(2026, 11, day, 2, tzinfo=UTC), page=FACTS, links=[link()], follow=True,
                       mismatch=mismatch)


def test_a_flip_is_one_event_of_each_kind() -> None:
    first, changes = detect(None, _obs(["sponsored_without_rel"], 1))
    assert [(c.kind, c.after) for c in changes] == [(EventKind.FIRST_SEEN, "Widget Co"), (EventKind.EXPECTATION_UNMET, "sponsored_without_rel")]
    second, changes = detect(first, _obs(["anchor", "rel"], 2))
    assert [(c.kind, c.before, c.after) for c in changes] == [
        (EventKind.EXPECTATION_UNMET, None, "anchor, rel"), (EventKind.EXPECTATION_MET, "sponsored_without_rel", None),
    ]
    _, changes = detect(second, _obs(["anchor", "rel"], 3))
    assert changes == []


TARGET = "https://me.test/"
NIGHT: dict[str, int] = {"number": 1}
PAGES = {
    # host -> (night 1 body, night 2 body)
    "paid-sponsored": ('<a href="https://me.test/pricing" rel="sponsored">Widget Co</a>',) * 2,
    "paid-plain": ('<a href="https://me.test/pricing">Widget Co</a>', '<a href="https://me.test/pricing" rel="sponsored">Widget Co</a>'),
    "landing": ('<a href="https://me.test/pricing">Widget Co</a>', '<a href="https://me.test/">Widget Co</a>'),
    "anchor": ('<a href="https://me.test/">best widgets 2026</a>', '<a href="https://me.test/">click here</a>'),
}
ROWS = {  # host -> expected_anchor, expected_rel, expected_target, tags, cost
    "paid-sponsored": ("", "sponsored", "", "paid", ""),
    "paid-plain": ("", "", "", "", "150"),
    "landing": ("", "follow", "https://me.test/pricing", "", ""),
    "anchor": ("regex:^best widgets", "", "", "", ""),
}


def _handler(host: str) -> Any:
    async def handle(_s: FaultServer, writer: Writer, path: str) -> None:
        if path == "/robots.txt":
            await respond(writer, 404, "")
        else:
            await respond(writer, 200, page(f"Read {PAGES[host][NIGHT['number'] - 1]} here."))

    return handle


@pytest.fixture
def crawled(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for host in PAGES:
        monkeypatch.setitem(fault_server.HANDLERS, host, _handler(host))
    server = FaultServer().start()
    try:
        source = tmp_path / "expect.csv"
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match", "expected_anchor", "expected_rel", "expected_target", "tags", "cost", "notes"])
            writer.writerows([f"http://{host}.test:{server.port}/p", TARGET, "domain", *ROWS[host], host] for host in PAGES)
        import_clean(db_url, source)
        env = crawl_env(db_url)
        env.update(BACKLINKS_RESOLVE="*.test=127.0.0.1", BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32")
        for number in (1, 2):
            NIGHT["number"] = number
            result = crawl_measured(crawl_command(["all=1"], {"RETRY_TIMES": "0"}), env, cwd=str(tmp_path))
            assert result.returncode == 0, result.stderr[-2000:]
        engine = make_engine(db_url)
        with make_sessionmaker(engine)() as session:
            states = {notes: state for notes, state in session.execute(select(Backlink.notes, State).join(State))}
            events = {}
            for notes, event in session.execute(select(Backlink.notes, Event).join(Event).order_by(Event.id)):
                events.setdefault(notes, []).append((event.kind, event.before, event.after))
        engine.dispose()
        yield {"states": states, "events": events}
    finally:
        server.stop()


def test_a_real_crawl_checks_every_expectation(crawled: dict[str, Any]) -> None:
    states, events = crawled["states"], crawled["events"]
    assert {host: (s.status, s.mismatch) for host, s in states.items()} == {
        "paid-sponsored": ("live", []),
        "paid-plain": ("live", []),  # sponsored added on night 2
        "landing": ("live", ["target"]),  # still a link to the site, now to its home page
        "anchor": ("live", ["anchor"]),
    }
    assert events["paid-sponsored"] == [("first_seen", None, "Widget Co")]
    assert [e for e in events["paid-plain"] if e[0].startswith("expectation")] == [
        ("expectation_unmet", None, "sponsored_without_rel"), ("expectation_met", "sponsored_without_rel", None),
    ]
    assert ("rel_changed", "", "sponsored") in events["paid-plain"]
    assert ("expectation_unmet", None, "target") in events["landing"]
    assert ("expectation_unmet", None, "anchor") in events["anchor"]
