"""Real crawls: `scrapy crawl verify` in a child process against the demo web on 127.0.0.1.

Two nights over every scenario of the demo, on SQLite and on PostgreSQL; each scenario states the
status the crawler must store after each night (crawler/demo/site.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.demo.run import Demo, crawl
from crawler.demo.site import (
    FARM_HOSTS, LINK_FARM_ADDRESS, OUTLET, OUTLET_GONE, OUTLET_HOST, OUTLET_PARTNERS, OUTLET_PREVIEW, OUTLET_SALE,
    OUTLET_SALE_END, ROBOTS_DISALLOWED_PREFIX, ROBOTS_HOST, SCENARIOS, Scenario,
)
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Backlink, Check, Event, Run, State, TargetCheckRow


def _states(url: str) -> dict[str, dict[str, Any]]:
    """Scenario name (from the imported notes) -> its state and events."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        out = {}
        rows = session.execute(select(Backlink, State).outerjoin(State, State.backlink_id == Backlink.id))
        for backlink, state in rows:
            name = backlink.notes.split(":", 1)[0]
            events = session.scalars(select(Event.kind).where(Event.backlink_id == backlink.id).order_by(Event.id))
            out[name] = {"status": state.status, "reason": state.reason, "anchors": state.anchors,
                         "rel": state.rel, "follow": state.follow, "position": state.position,
                         "noindex": state.noindex, "link_count": state.link_count, "events": list(events),
                         "checks": session.scalar(select(func.count()).where(Check.backlink_id == backlink.id))}
    engine.dispose()
    return out


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_nights(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp(f"crawl-{request.param}")
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("empty_postgres")()
    demo = Demo.prepare(workdir, url)
    try:
        hits = []
        nights = []
        for number in (1, 2):
            demo.night(number, cwd=workdir)
            nights.append(_states(demo.database_url))
            hits.append(dict(demo.site.hits))
        yield {"nights": nights, "hits": hits, "demo": demo, "workdir": workdir}
    finally:
        demo.site.stop()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_scenario_gets_its_status_each_night(two_nights: dict[str, Any], scenario: Scenario) -> None:
    for night in (0, 1):
        state = two_nights["nights"][night][scenario.name]
        assert (state["status"], state["reason"]) == (scenario.expect[night], scenario.expect_reason[night]), (
            f"night {night + 1}: {scenario.note}"
        )
        assert state["checks"] == night + 1  # exactly one check per backlink per run


def test_no_inconclusive_result_is_ever_lost(two_nights: dict[str, Any]) -> None:
    lost = {name for name, state in two_nights["nights"][1].items() if state["status"] == "lost"}
    inconclusive_scenarios = {s.name for s in SCENARIOS if s.expect[0] not in ("live", "missing_unconfirmed", "lost")}
    assert lost and not lost & inconclusive_scenarios


def test_link_details_are_recorded(two_nights: dict[str, Any]) -> None:
    night1, night2 = two_nights["nights"]
    assert night1["sponsored"]["rel"] == ["sponsored"] and night1["sponsored"]["follow"] is False
    assert night1["ugc_comment"]["rel"] == ["nofollow", "ugc"]
    assert night1["footer_link"]["position"] == "footer"
    assert night1["image_link"]["anchors"] and night1["image_link"]["anchors"][0]
    assert night1["several_links"]["link_count"] == 3
    assert night1["noindex_with_link"]["noindex"] is True
    assert night1["x_robots_noindex"]["noindex"] is True
    assert night1["live"]["follow"] is True and night1["live"]["noindex"] is False
    assert night2["live_then_nofollow"]["follow"] is False


@pytest.mark.parametrize(
    ("name", "events"),
    [
        ("live", ["first_seen"]),
        ("live_then_anchor_changed", ["first_seen", "anchor_changed"]),
        ("live_then_nofollow", ["first_seen", "rel_changed", "follow_changed"]),
        ("removed", ["lost"]),
        ("removed_then_restored", ["first_seen"]),
        ("live_then_removed", ["first_seen"]),
        ("target_changed", ["first_seen", "target_changed"]),
        ("flaky", ["first_seen"]),
        ("slow", []),
        ("blocked_403", []),
    ],
)
def test_events_explain_the_changes(two_nights: dict[str, Any], name: str, events: list[str]) -> None:
    assert two_nights["nights"][1][name]["events"] == events


def test_robots_disallowed_page_is_never_fetched(two_nights: dict[str, Any]) -> None:
    for hits in two_nights["hits"]:
        assert not [path for (host, path), n in hits.items() if host == ROBOTS_HOST and path.startswith(ROBOTS_DISALLOWED_PREFIX)]
        assert hits[(ROBOTS_HOST, "/robots.txt")] >= 1


def test_a_page_with_two_backlinks_is_fetched_once_per_night(two_nights: dict[str, Any]) -> None:
    shared = {s.referring_path for s in SCENARIOS if s.name.startswith("shared_page")}
    assert len(shared) == 1
    (path,) = shared
    host = next(s.host for s in SCENARIOS if s.name.startswith("shared_page"))
    assert [h[(host, path)] for h in two_nights["hits"]] == [1, 2]  # cumulative counter


def test_runs_are_recorded(two_nights: dict[str, Any]) -> None:
    engine = make_engine(two_nights["demo"].database_url)
    with make_sessionmaker(engine)() as session:
        runs = list(session.scalars(select(Run).order_by(Run.id)))
    engine.dispose()
    assert [r.status for r in runs] == ["finished", "finished"]
    assert all(r.finish_reason == "finished" and r.arguments == {"all": True} for r in runs)
    assert [r.counts["checked"] for r in runs] == [len(SCENARIOS)] * 2
    assert runs[1].counts["status"]["lost"] == sum(1 for s in SCENARIOS if s.expect[1] == "lost")
    assert runs[1].events["lost"] == sum(1 for s in SCENARIOS if s.expect[1] == "lost")


def _cli(demo: Demo, *args: str) -> list[dict[str, Any]]:
    shown = CliRunner().invoke(app, ["--database", demo.database_url, *args, "--format", "jsonl"])
    assert shown.exit_code == 0, shown.output
    return [json.loads(line) for line in shown.stdout.splitlines()]


def test_each_target_is_checked_once_per_run_and_its_health_reported(two_nights: dict[str, Any]) -> None:
    demo = two_nights["demo"]
    port = demo.site.port
    engine = make_engine(demo.database_url)
    with make_sessionmaker(engine)() as session:
        per_run = session.execute(select(TargetCheckRow.run_id, func.count(), func.count(func.distinct(TargetCheckRow.url)),
                                         func.count(TargetCheckRow.verdict)).group_by(TargetCheckRow.run_id)).all()
    engine.dispose()
    targets = {s.target(port) for s in SCENARIOS} | {OUTLET_PARTNERS.format(port=port)}
    assert [tuple(row[1:]) for row in per_run] == [(len(targets), len(targets), len(targets))] * 2
    # The served part of the shop was asked for each page once a night (the sale's chain: each hop).
    for night, hits in enumerate(two_nights["hits"], 1):
        assert {path: n for (host, path), n in hits.items() if host == OUTLET_HOST and path != "/robots.txt"} == {
            "/products/old-widget": night, "/sale": night, "/sale/2026": night, "/sale/2026/winter": night,
            "/products/preview": night, "/partners": night,
        }
    health = {row["target_url"]: row for row in _cli(demo, "targets")}
    assert (health[OUTLET_GONE.format(port=port)]["verdict"], health[OUTLET_GONE.format(port=port)]["detail"]) == ("not_found", "HTTP 404")
    sale = health[OUTLET_SALE.format(port=port)]
    assert (sale["verdict"], sale["detail"], sale["redirects"], sale["final_url"]) == (
        "redirected", "2 redirects", 2, OUTLET_SALE_END.format(port=port))
    assert health[OUTLET_PREVIEW.format(port=port)]["verdict"] == "noindex"
    assert all(health[OUTLET.format(port=port) + path]["backlinks"] == 1 == health[OUTLET.format(port=port) + path]["live_backlinks"]
               for path in ("/products/old-widget", "/sale", "/products/preview"))
    # The shop itself is not served by the demo web: its pages are unreachable, never a problem.
    assert {row["verdict"] for url, row in health.items() if url.startswith("https://")} == {"unreachable"}
    shown = CliRunner().invoke(app, ["--database", demo.database_url, "show", OUTLET_GONE.format(port=port)])
    assert "  target: not_found (HTTP 404), checked " in shown.stdout, shown.output
    problems = [row["target_url"] for row in _cli(demo, "targets", "--problems")]
    assert problems == [OUTLET_GONE.format(port=port), OUTLET_PREVIEW.format(port=port), OUTLET_SALE.format(port=port)]


def test_signals_of_the_demo_web(two_nights: dict[str, Any]) -> None:
    rows = {row["referring_url"].split("/", 3)[2].split(":")[0] + "/" + row["referring_url"].split("/", 3)[3]: row
            for row in _cli(two_nights["demo"], "signals")}
    network = {host: row for key, row in rows.items() for host in FARM_HOSTS if key.startswith(host)}
    assert len(network) == 3
    for row in network.values():  # three sites on one address and one theme: the link-farm pattern
        assert row["shared_address"] and row["shared_template"] and row["address_domains"] == 3 == row["template_domains"]
        assert row["ip"] == LINK_FARM_ADDRESS
    assert network["best-picks.test"]["mostly_sponsored"] and not network["widget-deals.test"]["mostly_sponsored"]
    # The shop's partners page links to blog.test and best-picks.test: links from there are reciprocal.
    reciprocal = {key.split("/")[0] for key, row in rows.items() if row["reciprocal"]}
    assert reciprocal == {"blog.test", "best-picks.test"}
    assert all(row["reciprocal_from"] == [OUTLET_PARTNERS.format(port=two_nights["demo"].site.port)]
               for row in rows.values() if row["reciprocal"])
    # Every other site on an address of its own, and built on no shared theme.
    others = [row for key, row in rows.items() if key.split("/")[0] not in FARM_HOSTS]
    assert others and not any(row["shared_address"] or row["shared_template"] for row in others)


def test_paid_links_and_mentions_of_the_demo_web(two_nights: dict[str, Any]) -> None:
    night2 = two_nights["nights"][1]
    assert night2["paid_not_sponsored"]["events"] == ["first_seen", "expectation_unmet"]  # sponsored_without_rel
    assert night2["paid_sponsored"]["events"] == ["first_seen"] and night2["paid_sponsored"]["rel"] == ["sponsored"]
    assert night2["mention_unlinked"]["events"] == ["first_seen", "mention_found"]
    assert night2["mention_linked"]["events"] == ["mention_found", "first_seen", "mention_linked"]
    # A page that links to the shop elsewhere credits it already: no mention to reclaim there.
    assert "mention_found" not in night2["target_changed"]["events"]
    mentions = _cli(two_nights["demo"], "mentions")
    assert {row["referring_url"].split("/", 3)[3] for row in mentions} >= {"2026/shop-interview"}


@pytest.fixture
def fresh_demo(tmp_path: Path) -> Iterator[Demo]:
    demo = Demo.prepare(tmp_path)
    yield demo
    demo.site.stop()


def _run_ids(url: str) -> list[int]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        ids = list(session.scalars(select(Run.id)))
    engine.dispose()
    return ids


def test_feed_export_and_arguments(fresh_demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = crawl(fresh_demo.database_url, ["limit=5"], settings={"FEEDS": json.dumps({str(out): {"format": "jsonlines"}})})
    assert result.returncode == 0, result.stderr[-3000:]
    items = [json.loads(line) for line in out.read_text().splitlines()]
    # limit counts backlinks and stops at a page boundary
    assert 5 <= len(items) <= 6
    assert {"backlink_id", "referring_url", "target_url", "status", "reason", "checked_at", "links"} <= set(items[0])
    # Not due any more: a second run without all=1 checks only the rest, and tags filter.
    result = crawl(fresh_demo.database_url, ["tag=no-such-tag"])
    assert result.returncode == 0, result.stderr[-3000:]
    engine = make_engine(fresh_demo.database_url)
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Check)) == len(items)
    engine.dispose()


def test_bad_argument_fails_fast(fresh_demo: Demo) -> None:
    result = crawl(fresh_demo.database_url, ["only=gone"])
    assert "bad spider argument: -a only" in result.stderr
    assert _run_ids(fresh_demo.database_url) == []


def test_missing_schema_is_a_clear_error(tmp_path: Path) -> None:
    result = crawl(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert "run `backlinks init` first" in result.stderr
