"""The run service on its own: join, hand out due pages, store batches, leave; and a join that fails.

The spider and the storage pipeline talk to the database only through it; here it is driven
directly, as they drive it, against a real SQLite file.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.exceptions import CloseSpider
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from sqlalchemy import select

import settings as project
from crawler.core.observe import observe_failure
from crawler.core.outcome import RunStatus, Status
from crawler.shell.runservice import NOT_JOINED, RunService
from crawler.shell.spiders.verify import VerifySpider
from pipelines.db import SchemaError, make_engine, make_sessionmaker
from pipelines.due import DueFilter
from pipelines.imports import import_clean
from pipelines.models import Run, State
from pipelines.runs import WorkOrder

PAGES = [f"http://site{i}.test/page" for i in range(5)]


def _service(url: str) -> RunService:
    values = Settings()
    values.setmodule(project, priority="project")
    values.set("BACKLINKS_DATABASE_URL", url, priority="cmdline")
    return RunService.from_crawler(get_crawler(VerifySpider, values.copy_to_dict()))


def _order() -> WorkOrder:
    return WorkOrder(due=DueFilter(cutoff=datetime.now(UTC)), arguments={"all": True})


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'backlinks.sqlite'}"
    source = tmp_path / "backlinks.csv"
    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url"])
        writer.writerows([page, "https://mine.test/"] for page in PAGES)
    import_clean(url, source)
    return url


@deferred_f_from_coro_f
async def test_a_run_joined_served_stored_and_left(database: str) -> None:
    service = _service(database)
    await service.join(_order())
    assert service.run_id is not None and service.crawler.stats.get_value("backlinks/run_id") == service.run_id
    pages = [page async for page in service.due_pages()]
    assert sorted(page.url for page in pages) == PAGES
    now = datetime.now(UTC)
    await service.store([obs for page in pages for obs in observe_failure(page.backlinks, page.url, Status.TIMEOUT, "t", now)])
    assert service.crawler.stats.get_value("backlinks/stored") == len(PAGES)
    await service.spider_closed("finished")
    engine = make_engine(database)
    with make_sessionmaker(engine)() as session:
        run = session.scalars(select(Run)).one()
        assert (run.status, run.finish_reason, run.counts["checked"]) == (RunStatus.FINISHED, "finished", len(PAGES))
        assert {state.status for state in session.scalars(select(State))} == {Status.TIMEOUT}
    engine.dispose()
    assert service.crawler.stats.get_value("backlinks/run_status") == "finished"


@deferred_f_from_coro_f
async def test_a_process_that_cannot_join_closes_the_spider_before_it_starts(tmp_path: Path) -> None:
    service = _service(f"sqlite:///{tmp_path / 'no-schema.sqlite'}")
    with pytest.raises(CloseSpider) as closing:
        await service.join(_order())
    assert closing.value.reason == NOT_JOINED
    assert isinstance(service.join_error, SchemaError)  # what the crawl command prints, exit 2
    assert service.ticket is None
    with pytest.raises(RuntimeError, match="has not joined"):
        await anext(service.due_pages())
    await service.spider_closed(NOT_JOINED)  # leaves nothing: there is no run
    engine = make_engine(f"sqlite:///{tmp_path / 'no-schema.sqlite'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM sqlite_master").all() == []
    engine.dispose()
