"""Pydantic models that cross boundaries: extraction -> spider -> pipeline, and importers -> database."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from crawler.core.clean import (
    CONTEXT_CHARS,
    LINKS_KEPT,
    REASON_CHARS,
    SNIPPET_CHARS,
    TEXT_CHARS,
    TOKEN_CHARS,
    URL_CHARS,
    Fields,
    storable_fields,
)
from crawler.core.outcome import FoundIn, Status
from crawler.core.snapshots import PageBody


class MatchMode(str, Enum):
    """How a link's URL must relate to the backlink's target to count as the backlink."""

    EXACT = "exact"  # the same page (scheme, www, trailing slash, fragment and tracking params aside)
    PREFIX = "prefix"  # any URL under the target (same host, path starts at a segment boundary)
    DOMAIN = "domain"  # any URL on the target's host or its subdomains


class Position(str, Enum):
    """Where on the page a link sits; the innermost landmark wins."""

    MAIN = "main"
    NAV = "nav"
    HEADER = "header"
    FOOTER = "footer"
    ASIDE = "aside"


# Text fields that come from pages, headers or errors, with their limits (crawler.core.clean).
_LINK_TEXT: Fields = (
    ("href", URL_CHARS, True), ("url", URL_CHARS, False), ("anchor", TEXT_CHARS, False),  # href: as written
    ("alt", TEXT_CHARS, False), ("title", TEXT_CHARS, False), ("rel", TOKEN_CHARS, False),
    ("left", CONTEXT_CHARS, False), ("right", CONTEXT_CHARS, False), ("snippet", SNIPPET_CHARS, True),
)
_PAGE_TEXT: Fields = (
    ("url", URL_CHARS, False), ("final_url", URL_CHARS, False), ("redirects", URL_CHARS, False),
    ("content_type", REASON_CHARS, False), ("canonical", URL_CHARS, False), ("title", TEXT_CHARS, False),
    ("lang", TOKEN_CHARS, False), ("script_redirect", URL_CHARS, False),
)
_OBSERVATION_TEXT: Fields = (
    ("referring_url", URL_CHARS, False), ("target_url", URL_CHARS, False), ("reason", REASON_CHARS, False),
    ("retargeted_to", URL_CHARS, False),
)


class LinkRecord(BaseModel):
    """One ``<a href>`` or ``<area href>`` of a page, as a backlink checker reports it.

    Every text field comes from the page: it is made storable and bounded as the model is built
    (:func:`crawler.core.clean.storable_fields`; a cut value ends with "…").
    """

    model_config = ConfigDict(frozen=True)

    href: str  # as written in the page
    url: str  # resolved against <base href> and the final URL
    tag: str  # "a" or "area"
    anchor: str = ""  # whitespace-normalised text
    alt: str | None = None  # alt of the first <img> inside, for image links
    title: str | None = None
    rel: tuple[str, ...] = ()  # lower-cased tokens, in page order, no duplicates
    position: Position = Position.MAIN
    left: str = ""  # ~100 characters of text just before the link
    right: str = ""  # ~100 characters of text just after the link
    snippet: str = ""  # bounded outer HTML
    hidden: bool | None = None  # known only after rendering

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable_fields(data, _LINK_TEXT)


class PageFacts(BaseModel):
    """What a fetched page says about itself, independent of any backlink."""

    url: str  # requested
    final_url: str
    http_status: int
    redirects: list[str] = Field(default_factory=list)  # every URL before final_url, requested first
    content_type: str | None = None  # a header: it becomes the reason of not_html
    canonical: str | None = None  # absolute; from <link rel=canonical> or the Link header
    noindex: bool = False  # meta robots/googlebot or X-Robots-Tag
    nofollow: bool = False  # page-level nofollow: meta robots/googlebot or X-Robots-Tag
    title: str | None = None
    lang: str | None = None
    external_links: int = 0  # links to other hosts than the final URL's
    sponsored_links: int = 0  # of those, with rel=sponsored
    content_hash: str | None = None
    ip: str | None = None  # the address the page came from (link-farm signal: many domains on one)
    template: str | None = None  # crawler.core.extract.template: the site theme's fingerprint
    # Where the browser's scripts took the page after it loaded (a script redirect, or Chromium's
    # error page for a dead URL); the page was then judged on its own HTML.
    script_redirect: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable_fields(data, _PAGE_TEXT)


class Observation(BaseModel):
    """One check of one backlink: the item the spider yields and the pipeline stores.

    ``status`` is ``live``, ``missing_unconfirmed`` (a conclusive miss; ``reason`` holds the
    :class:`~crawler.core.outcome.Miss`) or an inconclusive status (``reason`` holds the detail).
    Only change detection turns repeated misses into ``lost``.
    """

    backlink_id: int
    referring_url: str
    target_url: str
    checked_at: datetime
    status: Status
    reason: str | None = None  # may carry a header or an error message: cleaned and bounded
    page: PageFacts | None = None
    # The links that match the target: the first LINKS_KEPT of them (a page may repeat a link
    # 100,000 times); ``link_count`` counts them all.
    links: list[LinkRecord] = Field(default_factory=list)
    link_count: int = -1  # -1: not given, taken from ``links`` before they are cut
    follow: bool | None = None  # effective: some matching link passes equity
    found_in: FoundIn | None = None
    # On a miss: the page now links to this other URL of the target's site instead.
    retargeted_to: str | None = None
    # A missing link's page still naming the brand (crawler.core.mentions): the sentences.
    mentions: list[str] = Field(default_factory=list)
    # Expectations not met (crawler.core.expect): "anchor", "rel", "target", "sponsored_without_rel".
    mismatch: list[str] = Field(default_factory=list)

    # The page's body when snapshots are on (crawler.core.snapshots): set by the spider after the
    # page is read, a private attribute so that it is neither validated nor dumped, and carried
    # along by model_copy.
    _page_body: PageBody | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable_fields(data, _OBSERVATION_TEXT)

    @property
    def page_body(self) -> PageBody | None:
        return self._page_body

    def carry_body(self, body: PageBody) -> None:
        self._page_body = body

    @model_validator(mode="after")
    def _bound_links(self) -> Observation:
        if self.link_count < 0:
            self.link_count = len(self.links)
        if len(self.links) > LINKS_KEPT:
            self.links = self.links[:LINKS_KEPT]
        return self


class BacklinkIn(BaseModel):
    """A known backlink as an importer hands it to the database."""

    referring_url: str
    target_url: str
    match: MatchMode = MatchMode.EXACT
    expected_anchor: str | None = None
    expected_rel: str | None = None
    expected_target: str | None = None
    tags: list[str] = Field(default_factory=list)
    notes: str | None = None
    source: str | None = None  # which importer format produced it
    # A placed or paid link (our CSV): what it cost, when it went live, until when it is paid for.
    cost: float | None = None
    currency: str | None = None  # ISO 4217, upper case
    placed_on: date | None = None
    expires_on: date | None = None
    # What the vendor's export said of the page (crawler.core.metrics.METRICS names).
    metrics: dict[str, float | str] = Field(default_factory=dict)


class DueBacklink(BaseModel):
    """A backlink as a run carries it to its referring page."""

    model_config = ConfigDict(frozen=True)

    id: int
    target_url: str
    match: MatchMode = MatchMode.EXACT
    expected_anchor: str | None = None
    expected_rel: str | None = None
    expected_target: str | None = None  # the landing page the link must point to exactly
    paid: bool = False  # tagged paid, or with a cost: its rel should say sponsored
    tags: tuple[str, ...] = ()  # only those with brand terms of their own (crawler.core.mentions.Brands)


class DuePage(BaseModel):
    """One referring page to fetch in a run, with every due backlink it carries."""

    model_config = ConfigDict(frozen=True)

    key: str  # normalised referring URL
    url: str
    domain: str  # registrable domain
    backlinks: tuple[DueBacklink, ...]
