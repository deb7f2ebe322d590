"""Target health: what the user's own pages answer, judged once per run. Pure.

A backlink passes value to the page it points to only if that page can take it: a target that
answers 404, sends the visitor through redirects, or asks search engines not to index it wastes
every link to it. Each distinct target URL (and each page the user lists as their own,
``BACKLINKS_OWN_PAGES``) is fetched once per run; :func:`judge_target` turns the response into a
:class:`TargetCheck`, :func:`target_failure` a download failure.

The same fetch feeds the reciprocal-link signal: the registrable domains an own page links to.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from lxml import etree
from pydantic import BaseModel, Field, model_validator

from crawler.core.clean import REASON_CHARS, URL_CHARS, Fields, storable_fields
from crawler.core.extract.html import parse_html
from crawler.core.extract.links import document_base, resolve_href
from crawler.core.extract.page import extract_page, first_header, is_html, robots_directives
from crawler.core.observe import Fetched
from crawler.core.outcome import Status
from crawler.core.urls import InvalidURL, canonical_link, check_url, registrable_domain

MAX_LINKED_DOMAINS = 1000  # an own page that links to more is a directory: the rest add nothing


class Verdict(StrEnum):
    """What a target's check says, worst first (the order :data:`PROBLEMS` ranks them in)."""

    NOT_FOUND = "not_found"  # 4xx: every link to it is wasted
    SERVER_ERROR = "server_error"  # 5xx now: maybe passing, but a visitor sees an error
    NOINDEX = "noindex"  # meta robots or X-Robots-Tag noindex
    REDIRECTED = "redirected"  # ended on another URL (detail: hops); links should point at the end
    CANONICALIZED = "canonicalized"  # declares another URL canonical: the link's value goes there
    BLOCKED_ROBOTS = "blocked_robots"  # the user's robots.txt keeps crawlers out of it
    UNREACHABLE = "unreachable"  # no answer (DNS, refused, timeout): could not be judged
    OK = "ok"


PROBLEMS = (Verdict.NOT_FOUND, Verdict.SERVER_ERROR, Verdict.NOINDEX, Verdict.REDIRECTED, Verdict.CANONICALIZED,
            Verdict.BLOCKED_ROBOTS)

_TEXT: Fields = (
    ("url", URL_CHARS, False), ("final_url", URL_CHARS, False), ("redirects", URL_CHARS, False),
    ("canonical", URL_CHARS, False), ("detail", REASON_CHARS, False),
)


class TargetCheck(BaseModel):
    """One check of one of the user's own pages: the item the spider yields for it."""

    url: str  # as requested: the backlinks' target URL, or a listed own page
    checked_at: datetime
    verdict: Verdict
    detail: str | None = None  # the HTTP status, the hops, the failure
    http_status: int | None = None
    final_url: str | None = None
    redirects: list[str] = Field(default_factory=list)
    noindex: bool = False
    canonical: str | None = None
    linked_domains: list[str] = Field(default_factory=list)  # registrable domains the page links to

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable_fields(data, _TEXT)


def parse_own_pages(spec: str) -> tuple[str, ...]:
    """``BACKLINKS_OWN_PAGES``: URLs separated by commas or whitespace, each an absolute http(s) URL."""
    pages = []
    for part in spec.replace(",", " ").split():
        try:
            pages.append(check_url(part))
        except InvalidURL as exc:
            raise ValueError(f"own page {part[:80]!r}: {exc}") from None
    return tuple(dict.fromkeys(pages))


def judge_target(page: Fetched, at: datetime) -> TargetCheck:
    """The verdict on a target from its response (after Scrapy followed any redirects)."""
    facts: dict[str, Any] = dict(url=page.url, checked_at=at, http_status=page.http_status, final_url=page.final_url,
                                 redirects=page.redirects)
    status = page.http_status
    if 400 <= status < 500:
        return TargetCheck(verdict=Verdict.NOT_FOUND, detail=f"HTTP {status}", **facts)
    if status >= 500:
        return TargetCheck(verdict=Verdict.SERVER_ERROR, detail=f"HTTP {status}", **facts)
    canonical, domains = None, []
    if page.text is not None and is_html(first_header(page.headers, "content-type"), page.body):
        sel = parse_html(page.text)
        facts_of_page = extract_page(sel, url=page.url, final_url=page.final_url, http_status=status, headers=page.headers,
                                     redirects=page.redirects, body=page.body, external_links=0)
        noindex, canonical = facts_of_page.noindex, facts_of_page.canonical
        domains = linked_domains(sel.root, page.final_url)
    else:  # a PDF or an image still says noindex in a header
        noindex = "noindex" in robots_directives(None, page.headers)
    facts.update(noindex=noindex, canonical=canonical, linked_domains=domains)
    if noindex:
        return TargetCheck(verdict=Verdict.NOINDEX, detail="noindex", **facts)
    if page.redirects:
        hops = len(page.redirects)
        return TargetCheck(verdict=Verdict.REDIRECTED, detail=f"{hops} redirect{'s' if hops > 1 else ''}", **facts)
    if canonical is not None and canonical_link(canonical) != canonical_link(page.final_url):
        return TargetCheck(verdict=Verdict.CANONICALIZED, detail="canonical elsewhere", **facts)
    return TargetCheck(verdict=Verdict.OK, detail=f"HTTP {status}", **facts)


def target_failure(url: str, status: Status, reason: str, at: datetime) -> TargetCheck:
    """A target whose fetch failed: blocked by robots.txt (a finding), else not judged."""
    verdict = Verdict.BLOCKED_ROBOTS if status is Status.BLOCKED_ROBOTS else Verdict.UNREACHABLE
    return TargetCheck(url=url, checked_at=at, verdict=verdict, detail=f"{status.value}: {reason}")


def linked_domains(root: Any, page_url: str) -> list[str]:
    """The registrable domains other than the page's own that the page links to, in order."""
    if not isinstance(root, etree._Element):  # a selector over a text node
        return []
    base = document_base(root.getroottree().getroot(), page_url)
    own = _domain(page_url)
    found: dict[str, None] = {}
    for element in root.iter("a", "area"):
        url = resolve_href(element.get("href", ""), base)
        domain = _domain(url) if url else None
        if domain and domain != own:
            found.setdefault(domain)
            if len(found) >= MAX_LINKED_DOMAINS:
                break
    return list(found)


def _domain(url: str) -> str | None:
    try:
        return registrable_domain(url)
    except InvalidURL:
        return None
