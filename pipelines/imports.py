"""Writing imported backlinks: idempotent, batched, all-or-nothing per file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.clean import NOTES_CHARS, TEXT_CHARS, TOKEN_CHARS, URL_CHARS, unstorable
from crawler.importers import ImportRow, read_backlinks
from crawler.items import BacklinkIn
from crawler.urls import InvalidURL, normalise, registrable_domain
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines.models import Backlink, Tag

BATCH = 1000
MAX_ERRORS = 1000  # bad rows kept with their messages; past that they are only counted
_UPDATABLE = ("referring_url", "target_url", "match", "expected_anchor", "expected_rel", "notes")


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # rows naming a backlink already seen earlier in the same file
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), the first MAX_ERRORS
    error_count: int = 0  # every bad row: a file of a million bad rows must not fill memory
    committed: bool = False

    @property
    def rows(self) -> int:
        return self.added + self.updated + self.unchanged + self.duplicates + self.error_count

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
) -> ImportReport:
    """Add new backlinks and update changed ones in ONE transaction.

    The transaction is rolled back on ``dry_run``, and on ``strict`` when any row was bad, so a
    file is never half-imported. Rows are handled in batches and the session is emptied after each,
    so a million-row file imports in bounded memory.
    """
    report = ImportReport()
    with sessions() as session, session.begin():
        batch: dict[tuple[str, str], tuple[int, BacklinkIn, tuple[str, str], str]] = {}
        for row in rows:
            if progress:
                progress(row.line)
            keyed = _keyed(row, report)
            if keyed is None:
                continue
            if keyed[2] in batch:
                report.duplicates += 1
                continue
            batch[keyed[2]] = keyed
            if len(batch) >= BATCH:
                _write(session, list(batch.values()), now, report)
                batch = {}
        _write(session, list(batch.values()), now, report)
        if dry_run or (strict and report.error_count):
            session.rollback()
        else:
            report.committed = True
    return report


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
        key = (normalise(backlink.referring_url), normalise(backlink.target_url))
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
    for _line, backlink, key, domain in batch:
        values = {
            "referring_url": backlink.referring_url,
            "target_url": backlink.target_url,
            "match": backlink.match.value,
            "expected_anchor": backlink.expected_anchor,
            "expected_rel": backlink.expected_rel,
            "notes": backlink.notes,
        }
        row = existing.get(key)
        if row is not None and row.created_at == now:
            # Added earlier in this same import: a duplicate row of the file. (Comparing with the
            # import's timestamp instead of remembering every key keeps memory flat.)
            report.duplicates += 1
            continue
        if row is None:
            new_rows.append(
                {**values, "referring_key": key[0], "target_key": key[1], "domain": domain,
                 "source": backlink.source, "created_at": now, "updated_at": now}
            )
            if backlink.tags:
                new_tags[key] = backlink.tags
            continue
        changed = _update(row, values, backlink.tags, now)
        report.updated += changed
        report.unchanged += not changed
    if new_rows:
        # RETURNING the keys, not relying on row order: ordered RETURNING makes SQLite insert
        # one row per statement.
        inserted = session.execute(
            insert(Backlink).returning(Backlink.id, Backlink.referring_key, Backlink.target_key), new_rows
        )
        tag_rows = [
            {"backlink_id": row_id, "tag": tag}
            for row_id, referring_key, target_key in inserted
            for tag in dict.fromkeys(new_tags.get((referring_key, target_key), ()))
        ]
        if tag_rows:
            session.execute(insert(Tag), tag_rows)
        report.added += len(new_rows)
    session.flush()
    session.expunge_all()


def _update(row: Backlink, values: dict[str, object], tags: list[str], now: datetime) -> bool:
    """Apply a re-imported row. Empty optional cells keep what is stored; tags only accumulate."""
    changed = False
    for name in _UPDATABLE:
        value = values[name]
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    have = {t.tag for t in row.tags}
    for tag in dict.fromkeys(tags):
        if tag not in have:
            row.tags.append(Tag(tag=tag))
            changed = True
    if changed:
        row.updated_at = now
    return changed
