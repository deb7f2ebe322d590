"""A real crawl over pages with hostile headers and huge values, on SQLite and PostgreSQL: every
backlink's result is stored, the hostile values cleaned and bounded (issue: one NUL in a
Content-Type dropped a batch of 500 other sites' results on PostgreSQL, every night)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.support import fault_server
from crawler.core.clean import CUT, REASON_CHARS, TEXT_CHARS
from crawler.demo.run import crawl_env
from tests.support.fault_server import LINK, TARGET, FaultServer, Writer, crawl_command, crawl_measured, head, page, respond
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean
from pipelines.models import Backlink, Check, Run, State

HUGE = "x" * 1_000_000
OK_SITES = 20


async def _raw(writer: Writer, headers: dict[str, str], body: bytes) -> None:
    writer.write(head(200, {**headers, "Content-Length": str(len(body)), "Connection": "close"}) + body)
    await writer.drain()


def _handler(headers: dict[str, str], body: str) -> Any:
    async def handle(_s: FaultServer, writer: Writer, path: str) -> None:
        if path == "/robots.txt":
            await respond(writer, 404, "")
        else:
            await _raw(writer, headers, body.encode())

    return handle


HOSTILE = {
    "ctype-nul": _handler({"Content-Type": "application/pdf\x00evil"}, "%PDF-1.7"),
    "ctype-long": _handler({"Content-Type": "text/plain; x=" + "y" * 8000}, "plain"),
    "link-nul": _handler({"Content-Type": "text/html", "Link": "<http://ok.test/a\x00b>; rel=canonical"}, page(LINK)),
    "huge-anchor": _handler(
        {"Content-Type": "text/html; charset=utf-8"},
        page(f'<a href="{TARGET}" title="{HUGE}">{HUGE}</a>'),
    ),
    **{f"good{n}": _handler({"Content-Type": "text/html"}, page(LINK)) for n in range(OK_SITES)},
}


@pytest.fixture
def hostile(db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    for name, handler in HOSTILE.items():  # served by the fault server's own dispatch, by host name
        monkeypatch.setitem(fault_server.HANDLERS, name, handler)
    server = FaultServer().start()
    try:
        source = tmp_path / "hostile.csv"
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match", "notes"])
            writer.writerows([f"http://{name}.test:{server.port}/page", TARGET, "exact", name] for name in HOSTILE)
        import_clean(db_url, source)
        env = crawl_env(db_url)
        env.update(BACKLINKS_RESOLVE="*.test=127.0.0.1", BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32")
        # One batch for every result: one bad value used to take all of them with it.
        settings = {"BACKLINKS_BATCH_SIZE": "1000", "DOWNLOAD_TIMEOUT": "5", "RETRY_TIMES": "0"}
        result = crawl_measured(crawl_command(["all=1"], settings), env, cwd=str(tmp_path))
        engine = make_engine(db_url)
        with make_sessionmaker(engine)() as session:
            rows = session.execute(
                select(Backlink.notes, State, Check).join(State, State.backlink_id == Backlink.id)
                .join(Check, Check.id == State.last_check_id)
            ).all()
            run = session.scalars(select(Run)).one()
        engine.dispose()
        yield {"result": result, "rows": {notes: (state, check) for notes, state, check in rows}, "run": run}
    finally:
        server.stop()


def test_hostile_values_never_cost_a_result(hostile: dict[str, Any]) -> None:
    result, rows, run = hostile["result"], hostile["rows"], hostile["run"]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert sorted(rows) == sorted(HOSTILE)  # every backlink stored
    assert (run.status, run.counts["not_stored"]) == ("finished", 0)
    assert all(rows[f"good{n}"][0].status == "live" for n in range(OK_SITES))

    state, _check = rows["ctype-nul"]
    assert (state.status, state.reason) == ("not_html", "application/pdfevil")
    state, _check = rows["ctype-long"]
    assert state.status == "not_html" and len(state.reason) == REASON_CHARS and state.reason.endswith(CUT)
    state, check = rows["link-nul"]
    # URLs resolve as WHATWG says (docs/parsing.md): the NUL is percent-encoded, as a browser sends it.
    assert state.status == "live" and check.canonical == "http://ok.test/a%00b"
    state, check = rows["huge-anchor"]
    assert state.status == "live" and len(state.anchors[0]) == TEXT_CHARS and state.anchors[0].endswith(CUT)
    link = check.details["links"][0]
    assert len(link["title"]) == TEXT_CHARS and len(link["snippet"]) <= 2000
