"""Render memory in the database: written from observations with the checks, read once at start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn, LinkRecord, Observation, PageFacts
from crawler.core.outcome import Status
from crawler.core.render_policy import RenderReason
from pipelines import batches
from crawler.core.changes import ChangePolicy
from pipelines.imports import import_rows
from pipelines.models import Backlink, RenderMemoryEntry
from pipelines.queries import iter_current

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
SHOP = "https://shop.example.com/"
PAGES = ("https://app.spa.example/one", "https://app.spa.example/two", "https://static.example.org/post")


def _import(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = [ImportRow(line=i + 2, backlink=BacklinkIn(referring_url=url, target_url=SHOP)) for i, url in enumerate(PAGES)]
    import_rows(sessions, rows, NOW)
    with sessions() as session:
        return {url: id for id, url in session.execute(select(Backlink.id, Backlink.referring_url))}


def _live(backlink_id: int, url: str, found_in: str, at: datetime, hidden: bool | None = None) -> Observation:
    return Observation(
        backlink_id=backlink_id, referring_url=url, target_url=SHOP, checked_at=at, status=Status.LIVE,
        page=PageFacts(url=url, final_url=url, http_status=200),
        links=[LinkRecord(href=SHOP, url=SHOP, tag="a", hidden=hidden)], follow=True, found_in=found_in,
    )


def test_pages_found_only_after_rendering_are_remembered(sessions) -> None:  # type: ignore[no-untyped-def]
    ids = _import(sessions)
    one, two, static = PAGES
    batches.write_batch(sessions, None, [
        _live(ids[one], one, "rendered", NOW, hidden=False),
        _live(ids[two], two, "both", NOW),
        _live(ids[static], static, "raw", NOW),
    ], ChangePolicy())
    memory = batches.load_render_memory(sessions, NOW - timedelta(days=30))
    assert memory.pages == {"https://app.spa.example/one"}
    # One of the domain's two checked pages needed the browser: not most of them.
    assert memory.domains == frozenset()
    # Needed again the next night: the same row, refreshed and counted.
    later = NOW + timedelta(days=1)
    batches.write_batch(sessions, None, [_live(ids[one], one, "rendered", later)], ChangePolicy())
    with sessions() as session:
        rows = {(r.scope, r.key): r for r in session.scalars(select(RenderMemoryEntry))}
    assert set(rows) == {("page", "https://app.spa.example/one")}
    assert all(r.times_needed == 2 and r.first_needed == NOW and r.last_needed == later for r in rows.values())


def test_a_domain_is_remembered_once_most_of_its_checked_pages_needed_the_browser(sessions) -> None:  # type: ignore[no-untyped-def]
    urls = ["https://a.spa.example/1", "https://b.spa.example/2", "https://c.spa.example/3", "https://spa.example/new"]
    rows = [ImportRow(line=i + 2, backlink=BacklinkIn(referring_url=url, target_url=SHOP)) for i, url in enumerate(urls)]
    import_rows(sessions, rows, NOW)
    with sessions() as session:
        ids = {url: id for id, url in session.execute(select(Backlink.id, Backlink.referring_url))}
    one, two, three, new = urls
    # Checked: one and two needed the browser, three did not; "new" was never checked.
    batches.write_batch(sessions, None, [_live(ids[one], one, "rendered", NOW)], ChangePolicy())
    batches.write_batch(sessions, None, [_live(ids[three], three, "raw", NOW)], ChangePolicy())
    assert batches.load_render_memory(sessions, NOW - timedelta(days=1)).domains == frozenset()  # 1 of 2
    batches.write_batch(sessions, None, [_live(ids[two], two, "rendered", NOW)], ChangePolicy())
    memory = batches.load_render_memory(sessions, NOW - timedelta(days=1))
    assert memory.domains == {"spa.example"}  # 2 of 3 checked pages
    # "new" was never checked: its domain is what is remembered.
    assert memory.reason("https://spa.example/new", "spa.example") is RenderReason.REMEMBERED_DOMAIN


def test_memory_fades(sessions) -> None:  # type: ignore[no-untyped-def]
    ids = _import(sessions)
    one = PAGES[0]
    batches.write_batch(sessions, None, [_live(ids[one], one, "rendered", NOW)], ChangePolicy())
    assert batches.load_render_memory(sessions, NOW + timedelta(seconds=1)).pages == frozenset()


def test_export_current_has_found_in_and_hidden(sessions) -> None:  # type: ignore[no-untyped-def]
    ids = _import(sessions)
    one, two, static = PAGES
    batches.write_batch(sessions, None, [
        _live(ids[one], one, "rendered", NOW, hidden=True),
        _live(ids[static], static, "raw", NOW),
    ], ChangePolicy())
    with sessions() as session:
        rows = {row["referring_url"]: row for row in iter_current(session)}
    assert (rows[one]["found_in"], rows[one]["hidden"]) == ("rendered", True)
    assert (rows[static]["found_in"], rows[static]["hidden"]) == ("raw", None)
    assert (rows[two]["found_in"], rows[two]["hidden"]) == (None, None)  # never checked
