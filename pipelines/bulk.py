"""A batch's rows in bulk: written with COPY on PostgreSQL (psycopg 3), Core statements elsewhere.

On PostgreSQL, psycopg composes a multi-row INSERT or an executemany client-side, value by value;
that was most of a batch's time. COPY streams the rows instead. Each value goes through the bind
processor its column type gives the Core statement (UTC datetimes, JSON wrapped for JSONB), so both
ways store the same rows; psycopg's COPY formatter escapes them (tabs, newlines, backslashes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Connection,
    Table,
    any_,
    bindparam,
    column,
    insert,
    table,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import QueryableAttribute, Session

from pipelines.db import is_postgresql

Values = Mapping[str, Any]  # one row: column name -> value


def copies(session: Session) -> bool:
    """Whether this session writes with COPY: PostgreSQL through psycopg 3, whose COPY API we use."""
    return is_postgresql(session) and session.get_bind().dialect.driver == "psycopg"


def among(
    session: Session, key: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``key IN values``; on PostgreSQL ``key = ANY(array)``, one parameter instead of one per value:
    the statement's text is then the same for every batch, and parsed once (psycopg caches it)."""
    if is_postgresql(session):
        return key == any_(bindparam(None, list(values), type_=ARRAY(key.type)))
    return key.in_(values)


def next_ids(session: Session, id_column: Column[int], count: int) -> list[int]:
    """``count`` new ids from the sequence behind ``id_column``, ascending, as INSERT would take them.

    Rows COPYed with these ids get them in the order the rows are given, as a multi-row INSERT
    numbers its rows; a failed batch loses its ids, as a failed INSERT does.
    """
    params = {"table": id_column.table.name, "column": id_column.name, "count": count}
    return sorted(session.scalars(_NEXT_IDS, params))


# The sequence looked up once (MATERIALIZED): in the select list it would be looked up per row.
_NEXT_IDS = text(
    "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(:table, :column)::regclass AS seq) "
    "SELECT nextval(s.seq) FROM s, generate_series(1, :count)"
)


def insert_rows(session: Session, target: Table, rows: Sequence[Values]) -> None:
    """INSERT ``rows`` (dicts with the same keys: the columns written) into ``target``.

    COPY applies server defaults only: a column with a Python-side default must be given.
    """
    if not rows:
        return
    if copies(session):
        _copy(session.connection(), target, target.name, rows)
    else:
        session.execute(insert(target), rows)


def update_rows(session: Session, target: Table, key: str, rows: Sequence[Values]) -> None:
    """UPDATE the rows of ``target`` whose ``key`` column equals each row's, to the row's other values.

    Each row gives every column of ``target``: COPY fills a copy of it (NOT NULL columns included).
    """
    if not rows:
        return
    names = [name for name in rows[0] if name != key]
    if not copies(session):
        statement = update(target).where(target.c[key] == bindparam("_key"))
        session.execute(statement, [{"_key": row[key], **{name: row[name] for name in names}} for row in rows])
        return
    # COPY only appends, so the new values go to a temporary table first: one per connection,
    # emptied at every commit (never dropped and re-created: no catalog churn per batch).
    connection = session.connection()
    staging = f"{target.name}_staging"
    quote = connection.dialect.identifier_preparer.quote
    connection.execute(
        text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(staging)} (LIKE {quote(target.name)}) ON COMMIT DELETE ROWS")
    )
    _copy(connection, target, staging, rows)
    source = table(staging, *(column(name) for name in [key, *names]))
    connection.execute(
        update(target).where(target.c[key] == source.c[key]).values({name: source.c[name] for name in names})
    )


def _copy(connection: Connection, target: Table, into: str, rows: Sequence[Values]) -> None:
    """COPY ``rows`` into the table named ``into``, values bound as ``target``'s columns bind them."""
    dialect = connection.dialect
    names = list(rows[0])
    processors: list[Callable[[Any], Any] | None] = [
        target.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(into)} ({', '.join(quote(name) for name in names)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None, "a live connection: the batch's transaction holds it"
    with _wrapped(connection, statement), driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([
                row[name] if process is None else process(row[name])
                for name, process in zip(names, processors, strict=True)
            ])


@contextmanager
def _wrapped(connection: Connection, statement: str) -> Iterator[None]:
    """What fails raised as SQLAlchemy raises it from a statement it runs, a driver error as a
    ``DBAPIError`` and a value its type refused (a naive datetime) as a ``StatementError``: callers
    catch ``SQLAlchemyError`` (a batch that fails is logged, and its backlinks stay due)."""
    try:
        yield
    except Exception as exc:  # not BaseException: an interrupt goes through as it is, as in SQLAlchemy
        if isinstance(exc, StatementError):
            raise
        base = connection.dialect.loaded_dbapi.Error
        raise DBAPIError.instance(statement, None, exc, base, dialect=connection.dialect) from exc
