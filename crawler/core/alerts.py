"""Alerts after a run: which events are worth one, the digest a person reads and the JSON a machine
reads (docs/alerts.md). Pure: the database picks the events (:mod:`pipelines.deliveries`), the
senders do the I/O (:mod:`crawler.reports.senders`).

Every crawled string is hostile. In a digest it may reach a mail client, Slack, Teams or Discord,
each with its own markup: it is cut short, kept on one line, and stripped of what any of them would
act on (HTML and Slack's ``<...>``, ``@everyone`` mentions, markdown links). In the webhook's JSON it
stays data: escaped by the JSON encoder, all ASCII, cut at :data:`WEBHOOK_TEXT_LIMIT`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from urllib.parse import unquote
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crawler.core.changes import EventKind
from crawler.core.chunks import batched
from crawler.core.outcome import Status

SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Backlinks-Signature"
WEBHOOK_TEXT_LIMIT = 2000  # characters of one string in the webhook's JSON
DIGEST_TEXT_LIMIT = 100  # characters of one crawled value in a digest line
WEBHOOK_CHUNK = 100  # events per webhook request

# Digest sections, in this order: losses first, what a user acts on.
KIND_TITLES = {
    EventKind.LOST: "Lost",
    EventKind.LOST_BEFORE_EXPIRY: "Lost before its paid term ended",
    EventKind.RECOVERED: "Recovered",
    EventKind.EXPECTATION_UNMET: "No longer as expected",
    EventKind.EXPECTATION_MET: "As expected again",
    EventKind.FOLLOW_CHANGED: "Follow changed",
    EventKind.REL_CHANGED: "Rel changed",
    EventKind.TARGET_CHANGED: "Now links elsewhere on your site",
    EventKind.PAGE_BECAME_NOINDEX: "Page became noindex",
    EventKind.PAGE_BECAME_INDEXABLE: "Page became indexable",
    EventKind.PAGE_CANONICAL_CHANGED: "Page canonical changed",
    EventKind.ANCHOR_CHANGED: "Anchor changed",
    EventKind.POSITION_CHANGED: "Position changed",
    EventKind.HIDDEN_CHANGED: "Hidden changed",
    EventKind.EXPIRED: "Paid term ended",
    EventKind.MENTION_FOUND: "Names you without linking (to reclaim)",
    EventKind.MENTION_LINKED: "Links to you again where it named you",
}
# first_seen is the first sighting of a backlink you imported, not a change: the first night would
# alert once per backlink.
ALERT_KINDS = frozenset(KIND_TITLES)


def alertable(kind: str, before: str | None) -> bool:
    """Whether an event is a confirmed change worth an alert. Events only ever come from conclusive
    checks; of them, a recovery after an unconfirmed miss (a false alarm cleared) is not alerted:
    no alert ever announced that miss."""
    if kind not in {k.value for k in ALERT_KINDS}:
        return False
    if kind == EventKind.RECOVERED.value:
        return (before or "").split(" ", 1)[0] == Status.LOST.value
    return True


class RunFacts(BaseModel):
    """What an alert says about the run its events come from."""

    model_config = ConfigDict(frozen=True)

    id: int
    key: str | None = None
    status: str
    degraded: bool = False
    held_back: int = 0  # losses a degraded run held back
    checked: int = 0
    started_at: datetime
    finished_at: datetime | None = None


class AlertEvent(BaseModel):
    """One event with the evidence an alert shows (a row of ``pipelines.queries.iter_events``)."""

    model_config = ConfigDict(frozen=True)

    event_id: int
    kind: str
    at: datetime
    run_id: int
    referring_url: str
    target_url: str
    referring_domain: str
    tags: list[str] = Field(default_factory=list)
    before: str | None = None
    after: str | None = None
    reason: str | None = None
    last_seen: datetime | None = None
    before_anchors: list[str] = Field(default_factory=list)
    before_rel: list[str] = Field(default_factory=list)
    before_position: str | None = None
    before_context: str | None = None
    after_anchors: list[str] = Field(default_factory=list)
    after_rel: list[str] = Field(default_factory=list)
    after_position: str | None = None
    after_context: str | None = None


# --- Digests -----------------------------------------------------------------------------------------

_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]+")
# What a chat or mail client would act on in plain text, each replaced by a look-alike: HTML tags
# and Slack's <!channel> / <url|text> (angle brackets), markdown links and code ("](", backticks),
# mentions (@everyone, @here: a zero-width space after the @ keeps them from pinging anyone).
_INERT = str.maketrans({"<": "‹", ">": "›", "`": "ˋ", "@": "@\u200b"})


def inert(value: object, limit: int = DIGEST_TEXT_LIMIT) -> str:
    """``value`` as one harmless line of at most ``limit`` characters."""
    text = _SPACE.sub(" ", "" if value is None else str(value)).strip()
    text = text.replace("](", "] (").translate(_INERT)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Digest(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    body: str


def digest(run: RunFacts, events: Sequence[AlertEvent], *, limit: int, tag: str = "") -> Digest:
    """One run's digest: its alertable events grouped by kind, at most ``limit`` lines per kind
    ("and N more"), a line when the run was degraded; ``tag``: the digest covers that tag only."""
    groups: dict[str, list[AlertEvent]] = {}
    for event in events:
        groups.setdefault(event.kind, []).append(event)
    counts = [(kind, len(groups[kind.value])) for kind in KIND_TITLES if kind.value in groups]
    scope = f" [{inert(tag, 60)}]" if tag else ""
    summary = ", ".join(f"{n} {KIND_TITLES[kind].lower()}" for kind, n in counts) or "no changes"
    title = f"Backlinks{scope}: run {run.id}: {summary}"
    ended = f" {run.finished_at:%Y-%m-%d %H:%M} UTC" if run.finished_at else ""
    lines = [f"Run {run.id} ({inert(run.status, 20)}{ended}), {run.checked} backlinks checked"
             + (f", tag {inert(tag, 60)}" if tag else "") + f": {len(events)} changes."]
    if run.degraded:
        lines.append(
            f"Degraded run: most results were inconclusive (an outage? blocked?); no backlink was moved "
            f"to lost, {run.held_back} losses are held back until a healthy run sees them again."
        )
    for kind, number in counts:
        lines += ["", f"{KIND_TITLES[kind]} ({number})"]
        lines += [f"- {_line(event)}" for event in groups[kind.value][:limit]]
        if number > limit:
            lines.append(f"and {number - limit} more (backlinks changes --run {run.id} --kind {kind.value})")
    return Digest(title=title, body="\n".join(lines) + "\n")


def _line(event: AlertEvent) -> str:
    link = f"{inert(event.referring_url)} -> {inert(event.target_url)}"
    if event.kind == EventKind.LOST.value:
        return f"{link} ({inert(event.after or event.reason, 40)}; was {inert(event.before, 40)})"
    if event.kind == EventKind.RECOVERED.value:
        return f"{link} (was {inert(event.before, 40)})"
    if event.kind == EventKind.EXPIRED.value:
        return f"{link} (paid until {inert(event.after, 40)})"
    if event.kind == EventKind.EXPECTATION_UNMET.value:
        return f"{link} (unmet: {inert(event.after)})"
    if event.kind == EventKind.EXPECTATION_MET.value:
        return f"{link} (met again: {inert(event.before)})"
    if event.kind == EventKind.MENTION_FOUND.value:
        return f"{link}: {_quoted(event.after)}"
    return f"{link}: {_quoted(event.before)} => {_quoted(event.after)}"


def _quoted(value: str | None) -> str:
    return "(none)" if not value else f'"{inert(value)}"'


# --- The webhook ---------------------------------------------------------------------------------------


def webhook_body(run: RunFacts, events: Sequence[AlertEvent], *, delivery_id: str, sent_at: datetime) -> bytes:
    """The JSON a webhook receives (schema in docs/alerts.md): all ASCII, every string cut at
    :data:`WEBHOOK_TEXT_LIMIT` characters. The signature covers these exact bytes."""
    payload = {
        "schema_version": SCHEMA_VERSION,
        "delivery_id": delivery_id,
        "sent_at": sent_at.isoformat(),
        "run": _cut(run.model_dump(mode="json")),
        "events": [_webhook_event(event) for event in events],
    }
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _webhook_event(event: AlertEvent) -> dict[str, Any]:
    row = event.model_dump(mode="json")
    out = {name: row[name] for name in ("event_id", "kind", "at", "run_id", "referring_url", "target_url",
                                          "referring_domain", "tags", "before", "after", "reason", "last_seen")}
    for side in ("before", "after"):
        out[f"{side}_link"] = {field: row[f"{side}_{field}"] for field in ("anchors", "rel", "position", "context")}
    return _cut(out)


def _cut(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= WEBHOOK_TEXT_LIMIT else value[: WEBHOOK_TEXT_LIMIT - 1] + "…"
    if isinstance(value, list):
        return [_cut(v) for v in value]
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    return value


def signature(secret: str, body: bytes) -> str:
    """The ``X-Backlinks-Signature`` header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def chunks(events: Sequence[AlertEvent], size: int = WEBHOOK_CHUNK) -> Iterable[Sequence[AlertEvent]]:
    """A run's events in webhook requests of at most ``size``."""
    return batched(events, size)


# --- Settings' text --------------------------------------------------------------------------------------

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def split_urls(spec: str) -> list[str]:
    """Apprise URLs separated by commas or whitespace (as Apprise itself takes them); ValueError
    for an entry that is no URL, which names its place only: it may hold a password."""
    urls = [part for part in re.split(r"[\s,]+", spec.strip()) if part]
    for place, url in enumerate(urls, 1):
        if not _URL.fullmatch(url):
            raise ValueError(f"entry {place} is not a URL such as mailto://user:password@example.com")
    return urls


def split_tags(spec: str) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in spec.split(",") if tag.strip()))


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def secret_fragments(url: str) -> set[str]:
    """The parts of an Apprise URL that may be a password or a token: everything but its scheme
    and the names of its query arguments (a token may sit where a host would). Log lines and errors
    have every one replaced before they are shown or stored."""
    rest = url.split("://", 1)[-1]
    path, _, query = rest.partition("?")
    parts = set(re.split(r"[/@:]+", path))
    for pair in query.split("&"):
        parts |= set(re.split(r"[,]+", pair.partition("=")[2]))
    parts |= {url, rest}
    return {variant for part in parts for variant in (part, unquote(part)) if len(variant) >= 3}


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
