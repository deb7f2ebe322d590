"""Writing imported backlinks: idempotent, batched, all-or-nothing per file."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, delete, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crawler.core.clean import NOTES_CHARS, TEXT_CHARS, TOKEN_CHARS, URL_CHARS, storable, unstorable
from crawler.core.importers import ImportRow, read_backlinks
from crawler.core.items import BacklinkIn
from crawler.core.urls import InvalidURL, normalise, registrable_domain
from pipelines.db import READ, WRITE, is_postgresql, make_engine, make_sessionmaker, upgrade
from pipelines.models import Backlink, Metric, Tag
from pipelines.batches import Patience, transient

logger = logging.getLogger(__name__)

BATCH = 1000
MAX_ERRORS = 1000  # bad rows kept with their messages; past that they are only counted
_UPDATABLE = (
    "referring_url", "target_url", "match", "expected_anchor", "expected_rel", "expected_target", "notes",
    "cost", "currency", "placed_on", "expires_on",
)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of one backlink a re-import changed (or, for ``match``, would have changed)."""

    line: int
    referring_url: str
    target_url: str
    field: str
    before: str | None
    after: str | None


SAMPLE_CHANGES = 5  # changes kept as examples; --report writes them all


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    # Per field: how many backlinks the import changed it on, and the first few changes.
    changed_fields: dict[str, int] = field(default_factory=dict)
    samples: list[FieldChange] = field(default_factory=list)
    # Backlinks whose match mode the file would change but the import kept (no update_match).
    kept_match: int = 0
    kept_match_samples: list[FieldChange] = field(default_factory=list)
    unchanged: int = 0
    duplicates: int = 0  # rows naming a backlink already seen earlier in the same file
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), the first MAX_ERRORS
    error_count: int = 0  # every bad row: a file of a million bad rows must not fill memory
    committed: bool = False

    @property
    def rows(self) -> int:
        return self.added + self.updated + self.unchanged + self.duplicates + self.error_count

    def changed(self, change: FieldChange) -> None:
        self.changed_fields[change.field] = self.changed_fields.get(change.field, 0) + 1
        if len(self.samples) < SAMPLE_CHANGES:
            self.samples.append(change)

    def error(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, reason))


def import_rows(
    sessions: sessionmaker,
    rows: Iterable[ImportRow],
    now: datetime,
    *,
    strict: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    waiting: Callable[[str], None] | None = None,
    update_match: bool = False,
    on_change: Callable[[FieldChange, bool], None] | None = None,
) -> ImportReport:
    """Add new backlinks and update changed ones in ONE transaction.

    Two steps on one connection. First the file is read, checked and normalised into a temporary
    staging table, which takes no lock on the database (crawls and other imports go on): a row
    naming a backlink already staged is a duplicate, and the first one wins however far apart they
    are. Then the staged rows are applied in one transaction, so a file is never half-imported; it
    is rolled back on ``dry_run``, and on ``strict`` when any row was bad. Imports apply one at a
    time: one that finds another applying waits for it, and says so through ``waiting``.
    Rows are handled in batches and the session is emptied after each: bounded memory.

    A re-imported row updates what it says differently; each change is counted per field, kept as
    a sample and handed to ``on_change`` with whether it was applied (``--report``). A backlink's match mode changes only with
    ``update_match``: an export whose format defaults to another mode (Moz's exact after Search
    Console's domain) would otherwise turn site-wide links into page links without a word.
    """
    report = ImportReport()
    engine = sessions.kw["bind"]
    with engine.connect() as connection:
        try:
            staged = _stage(connection, rows, report, progress)
            _take_turn(connection, waiting or (lambda message: logger.warning("%s", message)))
            with Session(bind=connection, expire_on_commit=False) as session:
                for batch in _staged_batches(session, staged):
                    _write(session, batch, now, report, update_match, on_change)
            if dry_run or (strict and report.error_count):
                connection.rollback()
            else:
                connection.commit()
                report.committed = True
        finally:  # the pooled connection goes back without the staging table, whatever happened
            if connection.in_transaction():
                connection.rollback()
            connection.execution_options(**READ)
            connection.execute(text(f"DROP TABLE IF EXISTS {_STAGING}"))
            connection.commit()
    return report


_STAGING = "backlinks_import_staging"
_IMPORT_LOCK = zlib.crc32(b"backlinks: import")  # PostgreSQL advisory lock key


def _stage(
    connection: Connection, rows: Iterable[ImportRow], report: ImportReport, progress: Callable[[int], None] | None
) -> int:
    """Check and normalise every row into the staging table; returns how many were staged."""
    connection.execute(text(
        f"CREATE TEMPORARY TABLE {_STAGING} (seq BIGINT PRIMARY KEY, line BIGINT NOT NULL, "
        "referring_key TEXT NOT NULL, target_key TEXT NOT NULL, domain TEXT NOT NULL, backlink TEXT NOT NULL, "
        "UNIQUE (referring_key, target_key))"
    ))
    insert_staged = text(
        f"INSERT INTO {_STAGING} (seq, line, referring_key, target_key, domain, backlink) "
        "VALUES (:seq, :line, :referring_key, :target_key, :domain, :backlink) "
        "ON CONFLICT (referring_key, target_key) DO NOTHING"
    )
    good, pending = 0, []
    for row in rows:
        if progress:
            progress(row.line)
        keyed = _keyed(row, report)
        if keyed is None:
            continue
        line, backlink, (referring_key, target_key), domain = keyed
        good += 1
        pending.append({"seq": good, "line": line, "referring_key": referring_key, "target_key": target_key,
                        "domain": domain, "backlink": backlink.model_dump_json()})
        if len(pending) >= BATCH:
            connection.execute(insert_staged, pending)
            pending = []
    if pending:
        connection.execute(insert_staged, pending)
    staged = connection.scalar(text(f"SELECT count(*) FROM {_STAGING}"))
    # A temporary table is the connection's own: writing it locked nothing of the database.
    connection.commit()
    report.duplicates += good - staged
    return staged


def _take_turn(connection: Connection, waiting: Callable[[str], None]) -> None:
    """Begin the applying transaction once no other import (or, on SQLite, no other writer) is at it."""
    if is_postgresql(connection):
        if not connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK}):
            waiting("another import is being applied; waiting for it to finish")
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK})
        return
    # SQLite: the write lock, taken by BEGIN IMMEDIATE, waited for as long as it takes.
    connection.execution_options(**WRITE)
    told = False

    def begin() -> None:
        nonlocal told
        try:
            connection.begin()
        except OperationalError as exc:
            if transient(exc) and not told:
                waiting("the database is locked by another writer (an import or a crawl); waiting for it")
                told = True
            raise

    Patience().attempt(begin, "the import")


def _staged_batches(session: Session, staged: int) -> Iterator[list[tuple[int, BacklinkIn, tuple[str, str], str]]]:
    select_batch = text(
        f"SELECT seq, line, referring_key, target_key, domain, backlink FROM {_STAGING} "
        "WHERE seq > :after ORDER BY seq LIMIT :size"
    )
    after = 0
    while staged:
        rows = session.execute(select_batch, {"after": after, "size": BATCH}).all()
        if not rows:
            return
        after = rows[-1].seq
        yield [
            (row.line, BacklinkIn.model_validate_json(row.backlink), (row.referring_key, row.target_key), row.domain)
            for row in rows
        ]


def import_clean(url: str, path: Path) -> ImportReport:
    """Create or upgrade the schema at ``url`` and import ``path``, a file we generated ourselves
    (the demo, tests, benchmarks): any bad row is a bug, so nothing is imported and it raises."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        report = import_rows(make_sessionmaker(engine), read_backlinks(path), datetime.now(UTC), strict=True)
    finally:
        engine.dispose()
    if not report.committed or report.errors:
        raise ValueError(f"{path} did not import cleanly: {report.errors[:5]}")
    return report


def backlink_key(backlink: BacklinkIn) -> tuple[str, str]:
    """The identity of a backlink, as ``backlinks`` stores it (``referring_key``, ``target_key``):
    a re-import of the same pair updates it. Raises InvalidURL."""
    return normalise(backlink.referring_url), normalise(backlink.target_url)


def _keyed(row: ImportRow, report: ImportReport) -> tuple[int, BacklinkIn, tuple[str, str], str] | None:
    if row.backlink is None:
        report.error(row.line, row.error or "invalid row")
        return None
    backlink = row.backlink
    problem = _unstorable(backlink)
    if problem is not None:
        report.error(row.line, problem)
        return None
    try:
        key = backlink_key(backlink)
        domain = registrable_domain(backlink.referring_url)
    except InvalidURL as exc:
        report.error(row.line, str(exc))
        return None
    return row.line, backlink, key, domain


def _unstorable(backlink: BacklinkIn) -> str | None:
    """Why a field of ``backlink`` cannot be stored as it is (a control character, a lone surrogate,
    over its limit), naming the field. An import refuses the row instead of altering the value: a
    silently changed expectation would be reported as the page's mismatch."""
    fields: list[tuple[str, str | None, int, bool]] = [
        ("referring_url", backlink.referring_url, URL_CHARS, False),
        ("target_url", backlink.target_url, URL_CHARS, False),
        ("expected_anchor", backlink.expected_anchor, TEXT_CHARS, False),
        ("expected_rel", backlink.expected_rel, TOKEN_CHARS, False),
        ("expected_target", backlink.expected_target, URL_CHARS, False),
        ("notes", backlink.notes, NOTES_CHARS, True),
        *(("tags", tag, TOKEN_CHARS, False) for tag in backlink.tags),
    ]
    for name, value, limit, multiline in fields:
        problem = None if value is None else unstorable(value, limit, multiline=multiline)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def _write(
    session: Session,
    batch: list[tuple[int, BacklinkIn, tuple[str, str], str]],
    now: datetime,
    report: ImportReport,
    update_match: bool,
    on_change: Callable[[FieldChange, bool], None] | None,
) -> None:
    if not batch:
        return
    keys = {key for _, _, key, _ in batch}
    # Look up by the indexed referring_key alone: a composite IN is not indexed on every backend,
    # and a full scan per batch would make big imports quadratic.
    existing = {
        (b.referring_key, b.target_key): b
        for b in session.scalars(
            select(Backlink).where(Backlink.referring_key.in_({r for r, _ in keys}))
        )
        if (b.referring_key, b.target_key) in keys
    }
    new_rows, new_tags = [], {}
    # Metrics go in after the rows, by backlink id: a metric is a value of the day, not a field
    # of the backlink, and a new value never counts as an update.
    metrics: dict[int, tuple[str | None, dict[str, float | str]]] = {}
    new_metrics: dict[tuple[str, str], tuple[str | None, dict[str, float | str]]] = {}
    for line, backlink, key, domain in batch:
        values = {
            "referring_url": backlink.referring_url,
            "target_url": backlink.target_url,
            "match": backlink.match.value,
            "expected_anchor": backlink.expected_anchor,
            "expected_rel": backlink.expected_rel,
            "expected_target": backlink.expected_target,
            "notes": backlink.notes,
            "cost": backlink.cost,
            "currency": backlink.currency,
            "placed_on": backlink.placed_on,
            "expires_on": backlink.expires_on,
        }
        row = existing.get(key)
        if row is None:
            new_rows.append(
                {**values, "referring_key": key[0], "target_key": key[1], "domain": domain,
                 "source": backlink.source, "created_at": now, "updated_at": now}
            )
            if backlink.tags:
                new_tags[key] = backlink.tags
            if backlink.metrics:
                new_metrics[key] = (backlink.source, backlink.metrics)
            continue
        if backlink.metrics:
            metrics[row.id] = (backlink.source, backlink.metrics)
        changes = _update(line, row, values, backlink.tags, now, update_match)
        for change, applied in changes:
            if applied:
                report.changed(change)
            else:
                report.kept_match += 1
                if len(report.kept_match_samples) < SAMPLE_CHANGES:
                    report.kept_match_samples.append(change)
            if on_change is not None:
                on_change(change, applied)
        changed = any(applied for _, applied in changes)
        report.updated += changed
        report.unchanged += not changed
    if new_rows:
        # RETURNING the keys, not relying on row order: ordered RETURNING makes SQLite insert
        # one row per statement.
        inserted = session.execute(
            insert(Backlink).returning(Backlink.id, Backlink.referring_key, Backlink.target_key), new_rows
        )
        ids = [(row_id, (referring_key, target_key)) for row_id, referring_key, target_key in inserted]
        tag_rows = [
            {"backlink_id": row_id, "tag": tag} for row_id, key in ids for tag in dict.fromkeys(new_tags.get(key, ()))
        ]
        metrics.update({row_id: new_metrics[key] for row_id, key in ids if key in new_metrics})
        if tag_rows:
            session.execute(insert(Tag), tag_rows)
        report.added += len(new_rows)
    session.flush()
    _write_metrics(session, metrics, now)
    session.expunge_all()


def _write_metrics(session: Session, metrics: dict[int, tuple[str | None, dict[str, float | str]]], now: datetime) -> None:
    """Each backlink's metrics as this import gives them: the values it carries replace the stored
    ones of the same names (whatever tool gave those); the others stay."""
    if not metrics:
        return
    # One delete per set of names (the rows of one export mostly carry the same), not per backlink.
    by_names: dict[frozenset[str], list[int]] = {}
    for backlink_id, (_, values) in metrics.items():
        by_names.setdefault(frozenset(values), []).append(backlink_id)
    for names, ids in by_names.items():
        session.execute(delete(Metric).where(Metric.backlink_id.in_(ids), Metric.name.in_(sorted(names))))
    session.execute(insert(Metric), [
        {"backlink_id": backlink_id, "name": name, "source": source or "import", "as_of": now.date(),
         "number": value if isinstance(value, float) else None,
         # Text from a vendor's export (a page title) is cleaned, not refused: a metric is an extra.
         "text": storable(value, TEXT_CHARS) if isinstance(value, str) else None}
        for backlink_id, (source, values) in metrics.items()
        for name, value in values.items()
    ])


def _update(
    line: int, row: Backlink, values: dict[str, object], tags: list[str], now: datetime, update_match: bool
) -> list[tuple[FieldChange, bool]]:
    """Apply a re-imported row; returns each change it makes, with whether it was applied (a match
    change only with ``update_match``). Empty optional cells keep what is stored; tags only accumulate."""
    changes: list[tuple[FieldChange, bool]] = []

    def change(name: str, before: object, after: object) -> FieldChange:
        return FieldChange(line, row.referring_url, row.target_url, name,
                           None if before is None else str(before), None if after is None else str(after))

    for name in _UPDATABLE:
        value = values[name]
        if value is not None and getattr(row, name) != value:
            applied = name != "match" or update_match
            changes.append((change(name, getattr(row, name), value), applied))
            if applied:
                setattr(row, name, value)
    have = [t.tag for t in row.tags]
    new = [tag for tag in dict.fromkeys(tags) if tag not in have]
    if new:
        changes.append((change("tags", "|".join(have), "|".join([*have, *new])), True))
        row.tags.extend(Tag(tag=tag) for tag in new)
    if any(applied for _, applied in changes):
        row.updated_at = now
    return changes
