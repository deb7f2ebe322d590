"""Shared fixtures: databases (SQLite and the local PostgreSQL), the demo web and the browser."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from crawler.shell.render.browser import BrowserNotFound, find_browser
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "BACKLINKS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_database() -> Iterator[str]:
    """A throw-away database on the local server, dropped at the end of the session."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = f"backlinks_test_{uuid.uuid4().hex[:12]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        reason = f"no PostgreSQL server reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()}: {exc.orig}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (PostgreSQL tests are required in CI)")
        pytest.skip(reason)
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture(scope="session")
def _postgres_schema(postgres_url: str) -> str:
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    return postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'backlinks.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    yield request.getfixturevalue("empty_postgres")()


@pytest.fixture(scope="session")
def empty_postgres(_postgres_schema: str) -> Callable[[], str]:
    """Empties every table of the shared PostgreSQL test database (ids restart at 1); returns its URL."""

    def empty() -> str:
        engine = make_engine(_postgres_schema)
        with engine.begin() as connection:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return _postgres_schema

    return empty


@pytest.fixture
def sessions(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def browser() -> str:
    """The Chromium that rendering would use; skipped with the reason when there is none, except in
    CI, where browser tests are required."""
    try:
        return find_browser(os.environ.get("BACKLINKS_BROWSER_PATH"))
    except BrowserNotFound as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (browser tests are required in CI)")
        pytest.skip(str(exc))
