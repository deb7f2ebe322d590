"""Engines, sessions and schema management for the SQLite default and any SQLAlchemy URL."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ENV_VAR = "BACKLINKS_DATABASE_URL"
DEFAULT_URL = "sqlite:///backlinks.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaError(RuntimeError):
    """The database is not at the schema this code expects; the message says how to fix it."""


def database_url(configured: str | None = None) -> str:
    """The URL to use: an explicit value (``-s`` / ``--database``), else the environment, else SQLite."""
    return configured or os.environ.get(ENV_VAR) or DEFAULT_URL


def make_engine(url: str, *, busy_timeout: float = 30) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A crawler writes while `backlinks export` reads: WAL lets readers see the last committed
        # batch instead of failing with "database is locked"; busy_timeout covers brief overlaps
        # (a batch waits out longer ones: pipelines.batches.Patience).
        engine = create_engine(url, connect_args={"timeout": busy_timeout})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is the driver we install; a plain postgresql:// URL should just work.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # The sqlite3 module begins a transaction only at the first INSERT/UPDATE/DELETE, so a batch's
    # SELECTs ran outside it and another process could insert the state row it had just found
    # missing ("UNIQUE constraint failed: states.backlink_id"). We begin every transaction ourselves
    # (SQLAlchemy's documented recipe): see _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_WRITE = "backlinks_write"  # execution option: this transaction writes
WRITE, READ = {_WRITE: True}, {_WRITE: False}  # for Connection.execution_options()


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the write lock at BEGIN (IMMEDIATE), so what it reads cannot change under it,
    # and it waits its turn (busy_timeout) there; a plain BEGIN upgraded later fails at once when
    # another writer committed meanwhile. Readers begin DEFERRED and never wait for writers (WAL).
    immediate = connection.get_execution_options().get(_WRITE)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_postgresql(bind: Session | Connection) -> bool:
    """Whether ``bind`` talks to PostgreSQL; the one other backend we support is SQLite."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    return dialect.name == "postgresql"


def native_insert(session: Session, model: type) -> Any:
    """The backend's own INSERT for ``model``: PostgreSQL's or SQLite's, which have the
    ``ON CONFLICT`` clauses (``on_conflict_do_nothing``/``_update``) the generic one lacks."""
    return (postgresql if is_postgresql(session) else sqlite).insert(model)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def writing(sessions: sessionmaker) -> Iterator[Session]:
    """A transaction that writes (``sessions.begin()`` for writers): on SQLite it holds the write
    lock from its first statement, so its reads and writes see one database; elsewhere the same."""
    with sessions.begin() as session:
        session.connection(execution_options=WRITE)
        yield session


@cache
def migrations_dir() -> str:
    """A real directory holding the migrations, which alembic reads file by file.

    Under Scrapyd the code runs from a zipped egg, where ``MIGRATIONS`` is a path inside the zip:
    the migrations (package data of the egg) are then copied out once per process.
    """
    if MIGRATIONS.is_dir():
        return str(MIGRATIONS)
    target = Path(tempfile.mkdtemp(prefix="backlinks-migrations-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    _copy_tree(files("pipelines") / "migrations", target)
    return str(target)


def _copy_tree(source: Traversable, target: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                (target / entry.name).mkdir()
                _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


def _alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", migrations_dir())
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest revision; returns that revision."""
    command.upgrade(_alembic_config(engine), "head")
    return head_revision()


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    assert head is not None, "migrations directory has no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_schema(engine: Engine) -> None:
    """Fail fast, before any crawling, when the schema is missing or old."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no schema" if current is None else f"is at schema {current}, not {head}"
        raise SchemaError(
            f"database {engine.url.render_as_string(hide_password=True)} {state}: "
            "run `backlinks init` first"
        )
