"""Alerts after a run: for each channel (the webhook; each Apprise URL, per tag when asked), claim
what is due, send it, record what became of it (docs/alerts.md).

Called by the run service when a run ends (the process that closes the run) and by
``backlinks notify``. The database decides what is due and who sends it
(:mod:`pipelines.deliveries`), :mod:`crawler.core.alerts` builds the messages, and
:mod:`crawler.reports.senders` sends them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import sessionmaker

from crawler.core.alerts import chunks, digest, inert, scheme, webhook_body
from crawler.reports import senders
from pipelines import deliveries
from pipelines.deliveries import Due

WEBHOOK = "webhook"
# A claim older than this is a process that died while sending: the subject is tried again.
STALE_FLOOR = timedelta(minutes=15)


@dataclass(frozen=True)
class NotifyConfig:
    """What to notify and how: built from the settings (``BacklinksSettings.notify_config``)."""

    apprise_urls: tuple[str, ...] = field(default=(), repr=False)  # they carry passwords and tokens
    tags: tuple[str, ...] = ()
    limit: int = 10
    webhook_url: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 2.0

    @property
    def enabled(self) -> bool:
        return bool(self.apprise_urls or self.webhook_url)

    @property
    def stale(self) -> timedelta:
        worst = self.attempts * self.timeout + self.backoff * 2**self.attempts
        return max(STALE_FLOOR, timedelta(seconds=4 * worst))


@dataclass(frozen=True)
class Channel:
    name: str  # as the deliveries table holds it: "webhook", "apprise:<place>:<scheme>"
    tag: str  # "" : every backlink
    label: str  # as shown: no secret
    place: int = 0  # Apprise: the URL's place in BACKLINKS_NOTIFY_URLS (1-based)


def channels(config: NotifyConfig) -> list[Channel]:
    found = []
    if config.webhook_url:
        parts = urlsplit(config.webhook_url)
        host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
        found.append(Channel(WEBHOOK, "", f"webhook ({inert(host, 80)})"))
    for place, url in enumerate(config.apprise_urls, 1):
        kind = inert(scheme(url), 20)
        for tag in config.tags or ("",):
            shown = f"digest {place} ({kind}://...)" + (f" for tag {inert(tag, 60)}" if tag else "")
            found.append(Channel(f"apprise:{place}:{kind}"[:64], tag, shown, place))
    return found


@dataclass(frozen=True)
class Outcome:
    """One message (one run, one channel; the webhook's may be a part of a run's events)."""

    channel: Channel
    run_id: int
    events: int
    ok: bool
    error: str | None = None
    preview: str | None = None  # dry run: what would go


def deliver(
    sessions: sessionmaker, config: NotifyConfig, *, now: datetime, upto: int | None = None, run: int | None = None,
    dry_run: bool = False, sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Send what is due on every channel: with ``run``, that run's subjects not sent yet; else what
    is due at the end of run ``upto`` (failed ones, and runs that never notified). ``dry_run``: say
    what would go, send and record nothing."""
    stale_before = now - config.stale
    outcomes: list[Outcome] = []
    for channel in channels(config):
        with sessions() as session:
            due = deliveries.due(session, channel.name, channel.tag, upto=upto, run=run, stale_before=stale_before)
        for item in due:
            if dry_run:
                outcomes += _preview(channel, item, config, now)
                continue
            got = deliveries.claim(sessions, channel.name, channel.tag, item, now, stale_before)
            mine = Due(item.run, [e for e in item.events if deliveries.event_subject(e.event_id) in got],
                       item.notice and deliveries.run_subject(item.run.id) in got)
            if mine.subjects:
                outcomes += _send(sessions, channel, mine, config, now, sleep)
    return outcomes


@dataclass(frozen=True)
class _Message:
    subjects: list[str]
    body: bytes = b""  # the webhook's JSON
    delivery_id: str = ""
    title: str = ""  # a digest's
    text: str = ""

    @property
    def events(self) -> int:
        return sum(subject.startswith("event:") for subject in self.subjects)


def _messages(channel: Channel, item: Due, config: NotifyConfig, now: datetime) -> list[_Message]:
    """The messages ``item`` makes on ``channel``: one digest, or webhook requests of at most
    :data:`crawler.core.alerts.WEBHOOK_CHUNK` events each."""
    if channel.name == WEBHOOK:
        messages = []
        for number, part in enumerate(list(chunks(item.events)) or [[]]):  # [[]]: a degraded run's notice alone
            subjects = [deliveries.event_subject(e.event_id) for e in part]
            if number == 0 and item.notice:
                subjects.append(deliveries.run_subject(item.run.id))
            delivery_id = str(uuid.uuid4())
            messages.append(_Message(subjects, webhook_body(item.run, part, delivery_id=delivery_id, sent_at=now), delivery_id))
        return messages
    text = digest(item.run, item.events, limit=config.limit, tag=channel.tag)
    return [_Message(item.subjects, title=text.title, text=text.body)]


def _send(sessions: sessionmaker, channel: Channel, item: Due, config: NotifyConfig, now: datetime,
          sleep: Callable[[float], None]) -> list[Outcome]:
    outcomes = []
    for message in _messages(channel, item, config, now):
        if channel.name == WEBHOOK:
            attempt = senders.post_webhook(
                config.webhook_url, config.webhook_secret, message.body, delivery_id=message.delivery_id,
                timeout=config.timeout, attempts=config.attempts, backoff=config.backoff, sleep=sleep,
            )
        else:
            attempt = senders.send_apprise(
                config.apprise_urls[channel.place - 1], channel.place, message.title, message.text,
                attempts=config.attempts, backoff=config.backoff, sleep=sleep,
            )
        deliveries.record(sessions, channel.name, channel.tag, message.subjects, sent=attempt.ok,
                          attempts=attempt.attempts, error=attempt.error, now=datetime.now(now.tzinfo))
        outcomes.append(Outcome(channel, item.run.id, message.events, attempt.ok, attempt.error))
    return outcomes


def _preview(channel: Channel, item: Due, config: NotifyConfig, now: datetime) -> list[Outcome]:
    outcomes = []
    for message in _messages(channel, item, config, now):
        if channel.name == WEBHOOK:  # ASCII JSON: nothing in it drives a terminal
            text = json.dumps(json.loads(message.body), indent=2, ensure_ascii=True)
        else:
            text = f"{message.title}\n\n{message.text}"
        outcomes.append(Outcome(channel, item.run.id, message.events, True, preview=text))
    return outcomes
