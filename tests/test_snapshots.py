"""Page snapshots: a bounded, compressed copy of the page kept with each check that changed
something, written with its batch, pruned after its retention; `backlinks snapshot`, `show` and the
report point at it; three real crawls (on, on with a change, off)."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.changes import ChangePolicy
from crawler.core.items import LinkRecord, Observation, PageFacts
from crawler.core.outcome import Status
from crawler.core.snapshots import compress, decompress, expired_before, keep_body
from crawler.demo.run import crawl_env
from pipelines import batches
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean
from pipelines.models import Check, PageSnapshot
from pipelines.snapshots import prune_snapshots
from tests.support import fault_server
from tests.support.fault_server import FaultServer, Writer, crawl_command, crawl_measured, page, respond

runner = CliRunner()
TARGET = "https://client.example/"
AT = datetime(2026, 11, 1, 2, tzinfo=UTC)


# --- Keeping, compressing, cutting ---------------------------------------------------------------


def test_a_body_within_the_bound_is_kept_whole_and_not_copied() -> None:
    body = page("hello").encode()
    kept = keep_body(body, "https://blog.test/p", "text/html; charset=utf-8", 1024)
    assert kept.data is body and kept.size == len(body) and not kept.truncated
    assert kept.media_type == "text/html; charset=utf-8"


def test_a_larger_body_is_cut_at_the_bound_and_says_so() -> None:
    body = b"<p>" + b"x" * 5000
    kept = keep_body(body, "https://blog.test/p", "x" * 1000, 2048)
    assert kept.data == body[:2048] and kept.size == 5003 and kept.truncated
    assert kept.media_type == "x" * 255  # the column's bound: a server's header can be anything


def test_compression_round_trips_and_is_deterministic() -> None:
    html = page("widgets " * 2000).encode()
    packed = compress(html)
    assert decompress(packed) == html and gzip.decompress(packed) == html  # plain gzip: `gzip -d` reads it
    assert compress(html) == packed  # no clock in the header
    assert len(packed) < len(html) / 20


def test_retention_cutoff() -> None:
    assert expired_before(AT, 90) == AT - timedelta(days=90)


# --- Written with the batch, for the checks that changed -----------------------------------------


def _observation(backlink_id: int, at: datetime, anchor: str, body: bytes | None, url: str) -> Observation:
    link = LinkRecord(href=TARGET, url=TARGET, tag="a", anchor=anchor)
    obs = Observation(backlink_id=backlink_id, referring_url=url, target_url=TARGET, checked_at=at, status=Status.LIVE,
                      page=PageFacts(url=url, final_url=url, http_status=200), links=[link], follow=True)
    if body is not None:
        obs.carry_body(keep_body(body, url, "text/html", 512 * 1024))
    return obs


def _import(db_url: str, tmp_path: Path, urls: list[str]) -> None:
    source = tmp_path / "s.csv"
    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url"])
        writer.writerows([url, TARGET] for url in urls)
    import_clean(db_url, source)


def _snapshots(sessions: sessionmaker) -> dict[int, PageSnapshot]:
    with sessions() as session:
        return {row.check_id: row for row in session.scalars(select(PageSnapshot))}


def test_only_checks_with_an_event_keep_a_snapshot(db_url: str, tmp_path: Path, sessions: sessionmaker) -> None:
    urls = ["https://a.test/p", "https://b.test/p", "https://c.test/p"]
    _import(db_url, tmp_path, urls)
    policy = ChangePolicy()
    shared = page("one page, two of its backlinks changed").encode()
    first = [_observation(1, AT, "a", shared, urls[0]), _observation(2, AT, "b", shared, urls[1]),
             _observation(3, AT, "c", None, urls[2])]  # no body: snapshots were off
    batches.write_batch(sessions, None, first, policy)
    kept = _snapshots(sessions)
    assert sorted(kept) == [1, 2]  # first_seen on each; none without a body
    assert kept[1].data == kept[2].data and decompress(kept[1].data) == shared
    assert (kept[1].size, kept[1].compressed_size, kept[1].truncated_at, kept[1].encoding) == (
        len(shared), len(kept[1].data), None, "gzip")
    later = AT + timedelta(days=1)
    second = [_observation(1, later, "a", shared, urls[0]), _observation(2, later, "new anchor", shared, urls[1])]
    results = batches.write_batch(sessions, None, second, policy)
    changed_check = 5  # backlink 2's second check: its anchor changed; backlink 1 saw the same link
    assert [bool(changes) for _obs, _state, changes in results] == [False, True]
    assert sorted(_snapshots(sessions)) == [1, 2, changed_check]


def test_a_truncated_page_is_marked_in_its_row(db_url: str, tmp_path: Path, sessions: sessionmaker) -> None:
    _import(db_url, tmp_path, ["https://a.test/p"])
    big = page("w" * 4000).encode()
    obs = _observation(1, AT, "a", None, "https://a.test/p")
    obs.carry_body(keep_body(big, "https://a.test/p", "text/html", 1024))
    batches.write_batch(sessions, None, [obs], ChangePolicy())
    [row] = _snapshots(sessions).values()
    assert (row.size, row.truncated_at) == (len(big), 1024) and decompress(row.data) == big[:1024]


def test_old_snapshots_are_pruned_and_recent_ones_kept(db_url: str, tmp_path: Path, sessions: sessionmaker) -> None:
    urls = ["https://old.test/p", "https://new.test/p"]
    _import(db_url, tmp_path, urls)
    now = AT + timedelta(days=200)
    body = page("x").encode()
    batches.write_batch(sessions, None, [_observation(1, now - timedelta(days=91), "a", body, urls[0])], ChangePolicy())
    batches.write_batch(sessions, None, [_observation(2, now - timedelta(days=89), "b", body, urls[1])], ChangePolicy())
    assert prune_snapshots(sessions, expired_before(now, 90)) == 1
    assert [row.url for row in _snapshots(sessions).values()] == [urls[1]]
    with sessions() as session:  # the check stays: only its copy of the page is gone
        assert len(session.scalars(select(Check)).all()) == 2
    assert prune_snapshots(sessions, expired_before(now, 90)) == 0


def test_deleting_a_backlink_deletes_its_snapshots(db_url: str, tmp_path: Path, sessions: sessionmaker) -> None:
    _import(db_url, tmp_path, ["https://a.test/p"])
    batches.write_batch(sessions, None, [_observation(1, AT, "a", page("x").encode(), "https://a.test/p")], ChangePolicy())
    assert len(_snapshots(sessions)) == 1
    result = runner.invoke(app, ["--database", db_url, "delete", "--url", "https://a.test/p", "--yes"])
    assert result.exit_code == 0, result.output
    assert _snapshots(sessions) == {}


# --- Three real nights: snapshots on, on with a change, off with a change -------------------------

NIGHT = {"number": 1}
ANCHORS = ("widget review", "best widgets", "cheap widgets")
FILLER = "".join(f"<p>Paragraph {n} of a long article about widgets and their many uses.</p>" for n in range(200))


def served(path: str, night: int) -> bytes:
    """The page at ``path`` on night ``night``: /changing's anchor changes every night, /stable's never."""
    anchor = ANCHORS[night - 1] if path == "/changing" else "our client"
    return page(f'Read the <a href="{TARGET}">{anchor}</a> today.{FILLER}', title=path).encode()


async def _handle(_s: FaultServer, writer: Writer, path: str) -> None:
    if path == "/robots.txt":
        await respond(writer, 404, "")
    else:
        await respond(writer, 200, served(path, NIGHT["number"]))


def _invoke(db_url: str, *args: str) -> Any:
    return runner.invoke(app, ["--database", db_url, *args])


@pytest.fixture
def nights(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setitem(fault_server.HANDLERS, "snap", _handle)
    server = FaultServer().start()
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        changing, stable = (f"http://snap.test:{server.port}{path}" for path in ("/changing", "/stable"))
        _import(db_url, tmp_path, [changing, stable])
        env = crawl_env(db_url)
        env.update(BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32")
        kept = []
        for number, on in ((1, "true"), (2, "true"), (3, "false")):
            NIGHT["number"] = number
            if number == 3:  # night 1's snapshots are past their retention by now; night 2's are not
                with sessions.begin() as session:
                    session.execute(update(PageSnapshot).where(PageSnapshot.check_id <= 2)
                                    .values(taken_at=datetime.now(UTC) - timedelta(days=91)))
            env["BACKLINKS_SNAPSHOTS"] = on
            result = crawl_measured(crawl_command(["all=1"], {"RETRY_TIMES": "0"}), env, cwd=str(tmp_path))
            assert result.returncode == 0, result.stderr[-2000:]
            kept.append(_snapshots(sessions))
        with sessions() as session:
            checks = [(c.id, c.backlink_id) for c in session.scalars(select(Check).order_by(Check.id))]
        yield {"db": db_url, "kept": kept, "checks": checks, "changing": changing, "tmp": tmp_path}
    finally:
        engine.dispose()
        server.stop()


def test_a_real_crawl_keeps_the_changed_pages_and_points_at_them(nights: dict[str, Any]) -> None:
    db, (night1, night2, night3) = nights["db"], nights["kept"]
    by_backlink: dict[int, list[int]] = {}
    for check_id, backlink_id in nights["checks"]:
        by_backlink.setdefault(backlink_id, []).append(check_id)
    (first, changed, unkept), stable = by_backlink[1], by_backlink[2]  # backlink 1: /changing
    assert len(stable) == 3  # a check per backlink per night
    assert sorted(night1) == sorted([first, stable[0]])  # first_seen for both
    assert sorted(night2) == sorted([first, stable[0], changed])  # + anchor_changed; the stable page kept none
    assert sorted(night3) == [changed]  # snapshots off: none for night 3's change; night 1's pruned at the run's end
    row = night2[changed]
    assert decompress(row.data) == served("/changing", 2)  # the page as served, byte for byte
    assert row.url == nights["changing"] and row.media_type == "text/html; charset=utf-8"
    assert row.size == len(served("/changing", 2)) and row.truncated_at is None and row.compressed_size < row.size / 5

    printed = _invoke(db, "snapshot", str(changed))
    assert printed.exit_code == 0, printed.output
    assert printed.stdout_bytes == served("/changing", 2)
    assert f"snapshot: check {changed}," in printed.stderr
    out = nights["tmp"] / "page.html"
    assert _invoke(db, "snapshot", str(changed), "--out", str(out)).exit_code == 0
    assert out.read_bytes() == served("/changing", 2)
    missing = _invoke(db, "snapshot", str(unkept))
    assert missing.exit_code == 1 and f"check {unkept} has no snapshot" in missing.stderr and missing.stdout == ""

    shown = _invoke(db, "show", nights["changing"]).stdout
    size, packed = f"{row.size / 1024:.1f} KiB", f"{row.compressed_size / 1024:.1f} KiB"
    line = f"      snapshot: check {changed}, {size} (gzip {packed}) — backlinks snapshot {changed} > page.html"
    assert line in shown.splitlines()
    events = shown[shown.index("events ("):]
    # Night 3's change has its evidence but no snapshot line; night 1's snapshot was pruned.
    assert events.count("snapshot: check") == 1 and "context: Read the [-[widget review]-] {+[best widgets]+}" in events

    report = nights["tmp"] / "report.html"
    assert _invoke(db, "report", "-o", str(report), "--since", "7d").exit_code == 0
    html = report.read_text(encoding="utf-8")
    assert html.count(f'href="#evidence-{changed}"') == 1 and f'id="evidence-{unkept}"' in html
    start = html.index(f'id="evidence-{changed}"')
    block = html[start:html.index("</div>", start)]
    assert f"backlinks snapshot {changed} &gt; page.html" in block
    assert "<del>[widget review]</del>" in block and "<ins>[best widgets]</ins>" in block
    assert "&lt;a href=&#34;https://client.example/&#34;&gt;best widgets&lt;/a&gt;" in block  # the snippet, as text
    unkept_block = html[html.index(f'id="evidence-{unkept}"'):]
    assert "backlinks snapshot" not in unkept_block[:unkept_block.index("</div>")]
    assert "Paragraph 150 " not in html  # the page itself is never in the report (only the link's context)
