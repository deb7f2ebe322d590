"""Typed SQLAlchemy 2 models.

``checks`` is the append-only history; ``states`` is the current state per backlink derived from
it by :func:`crawler.core.changes.detect`; ``events`` explains every change between two states.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[str]: JSONType}


class Backlink(Base):
    """A known backlink: a referring page expected to link to a target of the user's site."""

    __tablename__ = "backlinks"
    __table_args__ = (UniqueConstraint("referring_key", "target_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referring_url: Mapped[str] = mapped_column(Text)
    # Normalised forms: the identity of a backlink (re-imports are idempotent) and the page key
    # that groups several backlinks into one fetch.
    referring_key: Mapped[str] = mapped_column(Text, index=True)
    target_url: Mapped[str] = mapped_column(Text)
    target_key: Mapped[str] = mapped_column(Text)
    match: Mapped[str] = mapped_column(String(16))
    # Registrable domain of the referring page: the unit of politeness and of splitting work.
    domain: Mapped[str] = mapped_column(String(255), index=True)
    expected_anchor: Mapped[str | None] = mapped_column(Text)
    expected_rel: Mapped[str | None] = mapped_column(String(255))
    expected_target: Mapped[str | None] = mapped_column(Text)  # the landing page, exactly
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(32))
    # A placed or paid link (our CSV): its price, and the days it went live and is paid until.
    cost: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    currency: Mapped[str | None] = mapped_column(String(3))
    placed_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Archived (`backlinks archive`): kept with its history, neither crawled nor in current reports.
    archived_at: Mapped[datetime | None]

    tags: Mapped[list[Tag]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    state: Mapped[State | None] = relationship(back_populates="backlink", lazy="raise")
    # Loaded only where asked for (selectinload): the crawl never needs them.
    metrics: Mapped[list[Metric]] = relationship(lazy="raise", viewonly=True)


class Metric(Base):
    """A vendor's metric of a backlink's referring page (crawler.core.metrics.METRICS): the value
    the last import that carried it gave, from which tool, as of which day."""

    __tablename__ = "metrics"

    backlink_id: Mapped[int] = mapped_column(ForeignKey("backlinks.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[float | None] = mapped_column(Float)  # NUMBER metrics
    text: Mapped[str | None] = mapped_column(Text)  # TEXT metrics, and DATE ones as yyyy-mm-dd
    source: Mapped[str] = mapped_column(String(32))  # the import format: ahrefs, semrush, majestic, moz
    as_of: Mapped[date] = mapped_column(Date)  # the day it was imported


class Tag(Base):
    __tablename__ = "backlink_tags"

    backlink_id: Mapped[int] = mapped_column(
        ForeignKey("backlinks.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class Run(Base):
    """One logical verify run: one `scrapy crawl verify` process, or several sharing a run key.

    The processes of a run (``run_workers``) split its due referring domains (``run_domains``);
    ``counts`` and ``events`` add up their tallies.
    """

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # `-a run=KEY`: processes given the same key join one run. None: a run of its own.
    key: Mapped[str | None] = mapped_column(String(128), unique=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # A crawler.core.outcome.RunStatus: running | finished (all due work done) | incomplete (every
    # process left, work remains; a process joining the same key resumes it) | interrupted (the
    # process ended without closing it)
    status: Mapped[str] = mapped_column(String(16))
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]]
    # Backlinks last checked before this are due: fixed when the run starts, shared by its processes.
    cutoff: Mapped[datetime | None]
    # Too many inconclusive results (BACKLINKS_DEGRADED_SHARE): the run moved no backlink to lost.
    degraded: Mapped[bool] = mapped_column(default=False, server_default=false())
    counts: Mapped[dict[str, Any]]  # per status, per "status/reason", pages, errors
    events: Mapped[dict[str, Any]]  # per event kind


class RunWorker(Base):
    """One process of a run, with its own tally (a batch updates this row, never the shared run)."""

    __tablename__ = "run_workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))  # host:pid, and the Scrapyd job
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]  # a worker silent for a lease is presumed dead
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # RunStatus: running | finished | interrupted
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    counts: Mapped[dict[str, Any]]
    events: Mapped[dict[str, Any]]


class RunDomain(Base):
    """A referring registrable domain due in a run: the unit of work processes claim with a lease."""

    __tablename__ = "run_domains"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger)  # zlib.crc32(domain): static shard = bucket % shards
    owner: Mapped[int | None] = mapped_column(ForeignKey("run_workers.id", ondelete="SET NULL"))
    lease_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]  # nothing of the domain is due any more


class Check(Base):
    """Append-only history: one row per backlink per check."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_backlink_checked", "backlink_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    backlink_id: Mapped[int] = mapped_column(ForeignKey("backlinks.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    checked_at: Mapped[datetime]
    # What this check observed (live, missing_unconfirmed or an inconclusive status) and the
    # status the backlink had after it (where repeated misses become lost).
    observed: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(255))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    anchors: Mapped[list[str]]
    rel: Mapped[list[str]]
    follow: Mapped[bool | None]
    position: Mapped[str | None] = mapped_column(String(16))
    link_count: Mapped[int]
    noindex: Mapped[bool | None]
    canonical: Mapped[str | None] = mapped_column(Text)
    found_in: Mapped[str | None] = mapped_column(String(16))  # FoundIn: raw | rendered | both
    # Columns, not only details, because the link-farm signals group by them across backlinks.
    ip: Mapped[str | None] = mapped_column(String(45))  # the page's server address
    template: Mapped[str | None] = mapped_column(String(16))  # crawler.core.extract.template
    details: Mapped[dict[str, Any]]  # page facts and every matching link, as extracted


class State(Base):
    """Current state of a backlink, derived from its checks."""

    __tablename__ = "states"

    backlink_id: Mapped[int] = mapped_column(
        ForeignKey("backlinks.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(32), index=True)  # latest check's status
    reason: Mapped[str | None] = mapped_column(String(255))
    # Last conclusive status (live, missing_unconfirmed or lost): an inconclusive check never
    # changes it, so "lost, then a timeout, then live" is still a recovery.
    verdict: Mapped[str | None] = mapped_column(String(32), index=True)
    since: Mapped[datetime]  # when `status` began
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]  # last check that found the link
    last_checked: Mapped[datetime] = mapped_column(index=True)
    last_check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id", ondelete="SET NULL"))
    consecutive_misses: Mapped[int]
    # The run whose miss was counted last: a miss from a run that overlapped it in time is the
    # same night's evidence and not counted again (runs are never deleted: no foreign key needed).
    miss_run_id: Mapped[int | None]
    # The last conclusive check found the brand named on the page without the link (mentions).
    mentioned: Mapped[bool | None]
    # The link as last seen live.
    anchors: Mapped[list[str]]
    rel: Mapped[list[str]]
    follow: Mapped[bool | None]
    position: Mapped[str | None] = mapped_column(String(16))
    link_count: Mapped[int]
    linked_url: Mapped[str | None] = mapped_column(Text)
    found_in: Mapped[str | None] = mapped_column(String(16))  # FoundIn: raw | rendered | both
    hidden: Mapped[bool | None]
    mismatch: Mapped[list[str]]  # expectations not met: "anchor", "rel"
    # The page as last fetched successfully.
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    noindex: Mapped[bool | None]
    canonical: Mapped[str | None] = mapped_column(Text)

    backlink: Mapped[Backlink] = relationship(back_populates="state", lazy="raise")


class Event(Base):
    """One explained change of a backlink, produced by one check."""

    __tablename__ = "events"
    # A check produces each kind of event at most once: a replayed batch cannot duplicate events.
    __table_args__ = (UniqueConstraint("check_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    backlink_id: Mapped[int] = mapped_column(
        ForeignKey("backlinks.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(index=True)


class TargetCheckRow(Base):
    """One check of one of the user's own pages (a backlinks' target, or a listed own page) in a
    run (crawler/core/targets.py). The row is claimed before the fetch (``verdict`` NULL), so that
    several processes of one run check each page once; a claim whose process died stays unjudged."""

    __tablename__ = "target_checks"
    __table_args__ = (UniqueConstraint("run_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text, index=True)
    claimed_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]
    verdict: Mapped[str | None] = mapped_column(String(16))  # crawler.core.targets.Verdict
    detail: Mapped[str | None] = mapped_column(String(255))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    redirects: Mapped[list[str] | None]
    noindex: Mapped[bool | None]
    canonical: Mapped[str | None] = mapped_column(Text)
    linked_domains: Mapped[list[str] | None]  # for the reciprocal-link signal


class PageSnapshot(Base):
    """A compressed copy of the page a check judged, kept for a check that produced an event
    (``BACKLINKS_SNAPSHOTS``, crawler/core/snapshots.py); deleted after ``BACKLINKS_SNAPSHOT_DAYS``."""

    __tablename__ = "snapshots"

    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(index=True)  # the check's time; retention prunes by it
    url: Mapped[str] = mapped_column(Text)  # the final URL the body came from
    media_type: Mapped[str | None] = mapped_column(String(255))  # the Content-Type header as served
    size: Mapped[int] = mapped_column(BigInteger)  # bytes of the page as fetched
    # Bytes kept when the page was larger than BACKLINKS_SNAPSHOT_MAX_KB (the copy ends there); None: whole.
    truncated_at: Mapped[int | None] = mapped_column(BigInteger)
    encoding: Mapped[str] = mapped_column(String(16))  # of ``data``: gzip
    compressed_size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RenderMemoryEntry(Base):
    """A referring page or domain whose backlinks were found only after JavaScript rendering.

    Written by the storage pipeline from observations, read once when a run starts: with
    ``render=auto`` a remembered page or domain goes straight to the browser the next night.
    """

    __tablename__ = "render_memory"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # page | domain
    key: Mapped[str] = mapped_column(Text, primary_key=True)  # normalised referring URL | registrable domain
    first_needed: Mapped[datetime]
    # Memory fades: an entry not needed again for BACKLINKS_RENDER_MEMORY_DAYS is ignored.
    last_needed: Mapped[datetime] = mapped_column(index=True)
    times_needed: Mapped[int]


class Delivery(Base):
    """One subject (an event, or a degraded run's notice) sent, being sent, or tried on one
    notification channel: a re-run or a second process never sends it twice to that channel, and
    one that failed is tried again by the next run (pipelines/deliveries.py, docs/alerts.md).

    ``channel`` names the channel without its secrets: ``webhook``, or ``apprise:<place>:<scheme>``
    (the URL's place in BACKLINKS_NOTIFY_URLS and its scheme). Apprise URLs carry passwords and
    tokens, which never reach the database or a log; nothing here is derived from them.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("channel", "tag", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    tag: Mapped[str] = mapped_column(String(255), default="", server_default="")  # a per-tag digest's; "" for all
    # "event:<id>", or "run:<id>" for the notice of a degraded run (said even when nothing changed).
    subject: Mapped[str] = mapped_column(String(40))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)  # the subject's run
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # sending: claimed by a process now (one that died leaves it stale: retried after a while) | sent | failed
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]  # requests made so far, every retry counted
    last_error: Mapped[str | None] = mapped_column(Text)  # one line, secrets removed
    first_tried_at: Mapped[datetime]
    last_tried_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
