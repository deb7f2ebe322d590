"""The client report (`backlinks report`): its data on SQLite and PostgreSQL, its HTML against hostile
strings, and the file itself in the real headless Chromium, on what the demo's two real nights wrote."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import html5lib
import pytest
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn
from crawler.core.outcome import Status
from crawler.core.scope import Scope, build_scope
from crawler.core.worddiff import Op
from crawler.demo.run import REPORT_FILE, run_demo
from crawler.reports import charts
from crawler.reports.html import TEXT_CHARS, render_report
from pipelines import queries
from pipelines.db import make_engine, make_sessionmaker
from pipelines.evidence import Evidence, Sighting
from pipelines.imports import import_rows
from pipelines.report_data import (
    Change, Day, Domain, LastRun, Pending, ReportData, RunTally, Share, TargetHealth, Totals, gather,
)
from pipelines.snapshots import SnapshotInfo
from tests.support.history import LIVE, MISSING, NOFOLLOW, SERVER_ERROR, TIMEOUT, Outcome, backlink_ids, night

runner = CliRunner()
XHTML, SVG = "{http://www.w3.org/1999/xhtml}", "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 11, 5, 9, tzinfo=UTC)
SINCE = datetime(2026, 10, 31, tzinfo=UTC)
SCRIPT_ANCHOR = "<script>window.pwned = 1; alert(1)</script>"
CLIENT_A = [f"https://blog.alpha.test/a{i}" for i in (1, 2, 3)]
CLIENT_B = ["https://beta.test/b-secret-1", "https://beta.test/b-secret-2"]
B_ANCHOR = "client b's secret anchor"


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 2, tzinfo=UTC)


def build(sessions: sessionmaker) -> dict[str, int]:
    """Two clients' backlinks over four nights, written by the real storage code.

    - 1 Nov: everything live; a1's anchor is a script. 2 Nov: an outage, every check inconclusive.
    - 3 Nov: a1 missing (a first miss), a2 turns nofollow. 4 Nov: a1 missing again (lost), a3 times
      out (still live), b1 missing (unconfirmed).
    """
    rows = [ImportRow(line=n, backlink=BacklinkIn(referring_url=url, target_url="https://client-a.test/", tags=["client-a"]))
            for n, url in enumerate(CLIENT_A, start=2)]
    rows += [ImportRow(line=n, backlink=BacklinkIn(referring_url=url, target_url="https://client-b.test/", tags=["client-b"]))
             for n, url in enumerate(CLIENT_B, start=10)]
    assert import_rows(sessions, rows, at(1) - timedelta(days=1)).added == 5
    ids = backlink_ids(sessions)
    a1, a2, a3 = (ids[url] for url in CLIENT_A)
    b1, b2 = (ids[url] for url in CLIENT_B)
    script, secret = Outcome(Status.LIVE, anchor=SCRIPT_ANCHOR), Outcome(Status.LIVE, anchor=B_ANCHOR)
    night(sessions, at(1), {a1: script, a2: LIVE, a3: LIVE, b1: secret, b2: secret})
    night(sessions, at(2), {a1: TIMEOUT, a2: SERVER_ERROR, a3: TIMEOUT, b1: SERVER_ERROR, b2: TIMEOUT})
    night(sessions, at(3), {a1: MISSING, a2: NOFOLLOW, a3: LIVE, b1: secret, b2: secret})
    night(sessions, at(4), {a1: MISSING, a2: NOFOLLOW, a3: TIMEOUT, b1: MISSING, b2: secret})
    return ids


@pytest.fixture
def four_nights(sessions: sessionmaker) -> sessionmaker:
    build(sessions)
    return sessions


def report_of(sessions: sessionmaker, scope: Scope) -> ReportData:
    with sessions() as session, session.begin():
        return gather(session, scope, SINCE, NOW)


# --- The data, on both databases ------------------------------------------------------------------


def test_an_outage_night_counts_nothing_as_lost(four_nights: sessionmaker) -> None:
    data = report_of(four_nights, build_scope(tag="client-a"))
    days = {d.day: (d.live, d.followed, d.lost, d.unconfirmed, d.inconclusive) for d in data.days}
    assert days == {
        date(2026, 11, 1): (3, 3, 0, 0, 0),
        date(2026, 11, 2): (3, 3, 0, 0, 3),  # every check inconclusive: every link still live
        date(2026, 11, 3): (2, 1, 0, 1, 0),  # a1 missed once: unconfirmed, not lost; a2 nofollow
        date(2026, 11, 4): (2, 1, 1, 0, 1),  # a1 lost; a3 timed out and is still live
    }
    assert [(d.new, d.lost_that_day) for d in data.days] == [(3, 0), (0, 0), (0, 0), (0, 1)]
    runs = [(r.live, r.unconfirmed, r.lost, r.inconclusive) for r in data.runs]
    assert runs == [(3, 0, 0, 0), (0, 0, 0, 3), (2, 1, 0, 0), (1, 0, 1, 1)]  # the held-back loss counts in run 4
    assert data.totals == Totals(backlinks=3, live=2, followed=1, lost=1, unconfirmed=0, unknown=0, inconclusive=1)
    (pending,) = data.inconclusive
    assert (pending.referring_url, pending.status, pending.verdict) == (CLIENT_A[2], "timeout", "live")
    assert data.unconfirmed == [] and data.inconclusive_total == 1
    assert data.last_run is not None and data.last_run.run_id == 4 and not data.last_run.degraded


def test_changes_carry_the_link_before_and_after(four_nights: sessionmaker) -> None:
    data = report_of(four_nights, build_scope(tag="client-a"))
    kinds = [(c.referring_url, c.kind) for c in data.changes]
    assert kinds[0] == (CLIENT_A[0], "lost")  # newest first
    assert (CLIENT_A[1], "follow_changed") in kinds and (CLIENT_A[1], "rel_changed") in kinds
    assert data.changes_total == len(data.changes) == 3 + 3  # three first seen, the two changes of a2, a1 lost
    lost = data.changes[0]
    assert lost.before_anchors == [SCRIPT_ANCHOR] and lost.before_context == f"read the [{SCRIPT_ANCHOR}] review"
    assert lost.last_seen == at(1) and lost.after_anchors == [] and lost.tags == ["client-a"]
    assert {s.label: s.links for s in data.anchors} == {"a link": 1}  # a3's last check saw nothing; a1 is lost
    assert {s.label: s.links for s in data.rels} == {"nofollow": 1}
    assert [(d.referring_domain, d.backlinks, d.live, d.lost, d.inconclusive) for d in data.domains] == [("alpha.test", 3, 2, 1, 1)]


def test_another_tags_backlinks_never_appear(four_nights: sessionmaker) -> None:
    mine = report_of(four_nights, build_scope(tag="client-a"))
    shown = mine.model_dump_json() + render_report(mine, "Client A")
    for secret in [*CLIENT_B, B_ANCHOR, "beta.test", "client-b"]:
        assert secret not in shown
    theirs = report_of(four_nights, build_scope(tag="client-b"))
    assert [p.referring_url for p in theirs.unconfirmed] == [CLIENT_B[0]]
    assert theirs.totals.backlinks == 2 and {s.label for s in theirs.anchors} == {B_ANCHOR}
    assert not {CLIENT_A[0], "alpha.test", "<script>"} & set(re.split(r'[\s"]', theirs.model_dump_json()))
    assert [r.live for r in theirs.runs] == [2, 0, 2, 1]  # the runs count only this client's checks


def test_the_period_and_the_other_filters(four_nights: sessionmaker) -> None:
    with four_nights() as session:
        late = gather(session, build_scope(tag="client-a"), at(4) - timedelta(hours=1), NOW)
        one = gather(session, build_scope(referring_domain="beta.test", target="https://client-b.test/"), SINCE, NOW)
    assert [d.day for d in late.days] == [date(2026, 11, 4)] and [r.run_id for r in late.runs] == [4]
    assert [c.kind for c in late.changes] == ["lost"]
    assert one.totals.backlinks == 2 and all(c.referring_url in CLIENT_B for c in one.changes)


# --- The HTML: every crawled string stays text ------------------------------------------------------

HOSTILE = [
    SCRIPT_ANCHOR,
    "</title></bdi></td></tr></table><script>alert(2)</script>",
    '"><img src=x onerror="alert(3)">',
    "'; alert(4); '",
    "{{ 7*7 }} {% raw %} ${7*7}",
    "\u202eevil.com\u202c",
    "\x1b]0;title\x07\x1b[31mred",
    "مرحبا بالعالم شالوم",
    "<svg><script>alert(5)</script></svg>",
]


def hostile_evidence(text: str, url: str) -> Evidence:
    """Evidence whose every crawled string is ``text``: the snippets are the page's own HTML."""
    seen = Sighting(check_id=3, http_status=200, content_hash=text, context=f"{text} [{text}]",
                    snippet=f'<a href="{url}" onclick="alert(6)">{text}</a>')
    snapshot = SnapshotInfo(check_id=7, taken_at=NOW, url=url, size=18_640, truncated_at=None, encoding="gzip",
                            compressed_size=4_200)
    return Evidence(before=seen, after=seen.model_copy(update={"check_id": 7}),
                    diff=[(Op.SAME, text), (Op.REMOVED, text), (Op.ADDED, text)], snapshot=snapshot)


def hostile_report(text: str, anchor: str | None = None) -> ReportData:
    """A report whose every crawled string is ``text``."""
    url = f"https://evil.test/{text}"
    anchor = text if anchor is None else anchor
    change = Change(
        at=NOW, kind="lost", referring_url=url, referring_domain=text, target_url=url, tags=[text], before=text,
        after=text, reason=text, last_seen=NOW, before_anchors=[anchor], before_rel=[text],
        before_context=f"{text} [{anchor}] {text}", after_anchors=[anchor], after_rel=[text], after_context=text,
        check_id=7, evidence=hostile_evidence(text, url),
    )
    pending = Pending(referring_url=url, target_url=url, status="timeout", reason=text, verdict="live",
                      last_checked=NOW, last_seen=NOW, since=NOW, consecutive_misses=1)
    return ReportData(
        scope=Scope(tag=text, referring_domain=text), since=SINCE, generated_at=NOW,
        last_run=LastRun(run_id=4, key=text, started_at=NOW, finished_at=NOW, status="finished", finish_reason=text, degraded=True),
        totals=Totals(backlinks=1, live=1, followed=1, lost=1, unconfirmed=1, unknown=0, inconclusive=1),
        days=[Day(day=date(2026, 11, 1), backlinks=1, live=1, followed=1, lost=0, unconfirmed=0, inconclusive=1, new=1,
                  lost_that_day=0, recovered=0)],
        runs=[RunTally(run_id=4, started_at=NOW, live=1, unconfirmed=0, lost=0, inconclusive=1)],
        domains=[Domain(referring_domain=text, backlinks=1, live=1, followed=1, lost=0, unconfirmed=0, inconclusive=0)],
        anchors=[Share(label=anchor, links=1)], rels=[Share(label=text, links=1)],
        changes=[change], changes_total=1, inconclusive=[pending], inconclusive_total=1,
        unconfirmed=[pending.model_copy(update={"status": "missing_unconfirmed"})], unconfirmed_total=1,
        targets=[TargetHealth(target_url=text, verdict="redirected", detail=text, final_url=text, redirects=2, checked_at=NOW,
                              backlinks=3, live_backlinks=1)],
        targets_unchecked=1,
    )


def parse(html: str) -> ET.Element:
    return html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=True)


def assert_inert(html: str) -> ET.Element:
    """Nothing in ``html`` can run or load: no script, no handler, no element or style that fetches."""
    tree = parse(html)
    for element in tree.iter():
        name = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        assert name not in {"script", "iframe", "object", "embed", "img", "image", "link", "base", "use", "foreignObject"}
        for attribute, value in element.attrib.items():
            local = attribute.rsplit("}", 1)[-1].lower()
            assert not local.startswith("on"), (name, attribute)
            assert local not in {"src", "srcset", "xlink:href", "action", "formaction"}
            if local == "href":  # a crawled URL that may be linked, or an anchor of the report's own
                assert name == "a" and value.startswith(("https://evil.test/", "http", "#evidence-")), value
        if name == "meta" and element.get("http-equiv", "").lower() == "refresh":
            raise AssertionError("meta refresh")
    assert "url(" not in html and "@import" not in html
    return tree


def text_of(tree: ET.Element) -> str:
    return "".join(tree.itertext())


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_stay_text(text: str) -> None:
    html = render_report(hostile_report(text), title=text)
    tree = assert_inert(html)
    shown = re.sub(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", "?", text)
    (title,) = tree.iter(f"{XHTML}title")
    assert title.text == shown  # `</title>` did not end the title
    assert text_of(tree).count(shown) >= 8  # as text in each place it is shown ("{{ 7*7 }}": not evaluated)
    hrefs = [a.get("href") for a in tree.iter(f"{XHTML}a") if a.get("href") != "#evidence-7"]
    if re.fullmatch(r"[!-~]+", text):  # a URL of printable ASCII is linked, quotes kept inside the attribute
        assert hrefs and set(hrefs) == {f"https://evil.test/{text}"}
    else:  # spaces, controls, bidi: shown, never linked
        assert hrefs == []
    assert "\u202e" not in html and "\x1b" not in html and "\x07" not in html  # shown as "?"


def test_each_change_links_to_its_evidence_block() -> None:
    text = '<a href="https://evil.test/x">bad</a>'
    tree = assert_inert(render_report(hostile_report(text), title="t"))
    (link,) = [a for a in tree.iter(f"{XHTML}a") if a.get("class") == "proof"]
    (block,) = [e for e in tree.iter() if e.get("id") == "evidence-7"]
    assert link.get("href") == "#evidence-7" and block.get("class") == "evidence"
    shown = text_of(block)
    # The snippets are the page's HTML, shown as text: no element of theirs is in the report.
    assert f'<a href="https://evil.test/{text}" onclick="alert(6)">{text}</a>' in shown
    assert [e.text for e in block.iter(f"{XHTML}del")] == [text] and [e.text for e in block.iter(f"{XHTML}ins")] == [text]
    assert "check 3, HTTP 200, content <a href=\"htt → check 7, HTTP 200" in shown
    assert "check 7, 18.2 KiB (gzip 4.1 KiB)" in shown and "backlinks snapshot 7 > page.html" in shown


def test_a_10_kb_anchor_is_cut_in_the_page() -> None:
    html = render_report(hostile_report("ok", anchor="x" * 10_000), title="t")
    assert_inert(html)
    runs = re.findall(r"x{100,}…?", html)
    assert runs and max(len(run) for run in runs) <= TEXT_CHARS and len(html) < 200_000


def test_inconclusive_and_unconfirmed_are_their_own_sections() -> None:
    tree = parse(render_report(hostile_report("ok"), title="t"))
    sections = {s.get("id"): text_of(s) for s in tree.iter(f"{XHTML}section")}
    assert "the page did not answer in time" in sections["not-lost"] and "counted as" in sections["not-lost"]
    assert "Unconfirmed (1)" in sections["not-lost"]
    assert "degraded" in text_of(next(e for e in tree.iter() if e.get("id") == "last-run"))


def test_charts_are_inline_svg_with_no_script_and_no_reference() -> None:
    day = Day(day=date(2026, 11, 1), backlinks=9, live=7, followed=5, lost=1, unconfirmed=1, inconclusive=2, new=9,
              lost_that_day=1, recovered=0)
    made = [charts.standing_chart([day]), charts.movement_chart([day, day]), charts.runs_chart([]),
            charts._chart(charts.pygal.Bar, "</title><script>alert(1)</script>", ["\x07<b>x</b>"], {"live": [1]})]
    for svg in made:
        root = ET.fromstring(str(svg))  # well-formed XML: lxml escaped every string
        assert root.tag == f"{SVG}svg"
        names = {element.tag.rsplit("}", 1)[-1] for element in root.iter() if isinstance(element.tag, str)}
        assert "script" not in names and "<!--" not in svg and "pygal.org" not in svg
        assert not re.search(r"(?:href|src)=", svg) and "url(" not in svg and "@import" not in svg
    hostile = ET.fromstring(str(made[-1]))
    assert "</title><script>alert(1)</script>" in "".join(hostile.itertext()) and "?<b>x</b>" in "".join(hostile.itertext())


# --- The command ------------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'report.sqlite'}"
    assert runner.invoke(app, ["--database", url, "init"]).exit_code == 0
    engine = make_engine(url)
    build(make_sessionmaker(engine))
    engine.dispose()
    return url


def test_report_command_writes_one_file(db: str, tmp_path: Path) -> None:
    out = tmp_path / "client-a.html"
    args = ["--database", db, "report", "-o", str(out), "--tag", "client-a", "--since", "2026-10-31", "--title", "Client A"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote the report of 3 backlinks (2 live, 6 changes since 2026-10-31) to {out}"
    html = out.read_text(encoding="utf-8")
    assert "<title>Client A</title>" in html and CLIENT_A[0] in html and CLIENT_B[0] not in html
    assert_inert(html.replace("https://blog.alpha.test/", "https://evil.test/"))
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "soon"], "'soon': use 7d"),
        (["--target", "ftp://x.test/"], "--target 'ftp://x.test/'"),
        (["--kind", "lost"], "No such option: --kind"),
        (["-o", "/no/such/folder/r.html"], "no folder /no/such/folder"),
    ],
)
def test_report_command_fails_loudly(db: str, tmp_path: Path, args: list[str], message: str) -> None:
    full = ["--database", db, "report", *(["-o", str(tmp_path / "r.html")] if "-o" not in args else []), *args]
    result = runner.invoke(app, full)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "r.html").exists()


# --- The demo's two real nights, and the file in the real headless Chromium -------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`backlinks demo` as `make demo` runs it: two real crawls, then the report."""
    workdir = tmp_path_factory.mktemp("demo")
    said: list[str] = []
    path = run_demo(workdir, say=lambda *parts: said.extend(str(p) for p in parts))
    engine = make_engine(f"sqlite:///{workdir / 'backlinks.sqlite'}")
    with make_sessionmaker(engine)() as session:
        events = list(queries.iter_events(session, queries.events_query(session)))
    engine.dispose()
    return {"path": path, "said": said, "events": events}


def test_make_demo_ends_with_the_report_of_its_two_nights(demo: dict[str, Any]) -> None:
    path: Path = demo["path"]
    assert path.name == REPORT_FILE and path.is_file()
    assert any(f"Client report of both nights: {path}" in line for line in demo["said"])
    tree = assert_inert(path.read_text(encoding="utf-8").replace('href="http://', 'href="https://evil.test/'))
    table = next(e for e in tree.iter() if e.get("id") == "changes-table")
    rows = text_of(table)
    events = demo["events"]
    assert {e["kind"] for e in events} >= {"first_seen", "lost", "anchor_changed", "follow_changed", "target_changed"}
    for event in events:
        assert event["referring_url"] in rows
    assert len(list(table.iter(f"{XHTML}tr"))) == len(events) + 1  # a row per change, and the header


def in_chromium(browser: str, path: Path, check: Callable[[Any], None]) -> list[str]:
    """Open ``path`` in a fresh headless Chromium where any request other than the file itself (or
    data:) is refused, run ``check(page)``, and return what went wrong: requests, console errors and
    warnings, page errors, dialogs. In a thread of its own: Playwright's sync API refuses to run
    under the asyncio loop that pytest-twisted's reactor keeps running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_open_offline, browser, path, check).result(timeout=120)


def _open_offline(browser: str, path: Path, check: Callable[[Any], None]) -> list[str]:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url == path.as_uri() or url.startswith("data:"):
            request_route.continue_()
        else:
            problems.append(f"request {url}")
            request_route.abort()

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser)
        try:
            context = chromium.new_context()
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"console {m.type}: {m.text}"))
            page.on("pageerror", lambda error: problems.append(f"pageerror {error}"))
            page.on("dialog", lambda dialog: (problems.append(f"dialog {dialog.message}"), dialog.dismiss()))
            page.on("requestfailed", lambda request: problems.append(f"failed {request.url}"))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # a late script or timer would have run by now
            check(page)
        finally:
            chromium.close()
    return problems


@pytest.mark.browser
def test_the_demo_report_renders_offline_in_chromium(demo: dict[str, Any], browser: str) -> None:
    def check(page: Any) -> None:
        assert page.locator("#trends svg").count() == 3
        assert page.locator("#chart-standing svg .series").count() >= 4  # pygal drew the four series
        assert page.locator("#changes-table tbody tr").count() == len(demo["events"])
        assert page.locator("#domains-table tbody tr").count() >= 5 and page.locator("script").count() == 0
        assert page.get_by_role("heading", name="Not counted as lost").is_visible()
        assert page.locator("#inconclusive tbody tr").count() > 0  # the demo's timeouts and blocked pages

    assert in_chromium(browser, demo["path"], check) == []


@pytest.mark.browser
def test_a_script_anchor_stays_text_in_chromium(db: str, tmp_path: Path, browser: str) -> None:
    out = tmp_path / "hostile.html"
    assert runner.invoke(app, ["--database", db, "report", "-o", str(out), "--since", "2026-10-31"]).exit_code == 0

    def check(page: Any) -> None:
        assert page.evaluate("typeof window.pwned") == "undefined"  # the anchor's script never ran
        assert page.locator("script").count() == 0
        shown = page.get_by_text(SCRIPT_ANCHOR, exact=False)
        assert shown.count() >= 2 and shown.first.is_visible()  # the changes table and its context

    assert in_chromium(browser, out, check) == []
