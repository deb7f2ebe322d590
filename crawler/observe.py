"""From a fetched page (or a failure) to one observation per backlink it carries. Pure.

The spider converts Scrapy's response into a :class:`Fetched` and calls :func:`observe_page`;
everything that decides *live*, *which miss* or *inconclusive* lives here and in the extractors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from parsel import Selector
from pydantic import BaseModel, Field

from crawler.extract.links import scan_links
from crawler.extract.page import effective_follow, extract_page, is_html, looks_like_challenge
from crawler.items import DueBacklink, LinkRecord, MatchMode, Observation, PageFacts
from crawler.outcome import GONE_HTTP, Miss, Status, classify_http
from crawler.urls import Target, canonical_link


class Fetched(BaseModel):
    """A downloaded page in plain values."""

    url: str  # as requested
    final_url: str
    http_status: int
    headers: Mapping[str, Sequence[str]] = Field(default_factory=dict)  # lower-case names
    redirects: list[str] = Field(default_factory=list)
    body: bytes = b""
    text: str | None = None  # the decoded body, when the response is text


def observe_failure(
    backlinks: Sequence[DueBacklink], referring_url: str, status: Status, reason: str, at: datetime
) -> list[Observation]:
    return [_observation(b, referring_url, at, status, reason) for b in backlinks]


def observe_page(
    backlinks: Sequence[DueBacklink], page: Fetched, at: datetime, *, strip_tracking: bool = True
) -> list[Observation]:
    challenge = looks_like_challenge(page.http_status, page.headers, page.text or "")
    inconclusive = classify_http(page.http_status, challenge=challenge)
    if inconclusive:
        return observe_failure(backlinks, page.url, *inconclusive, at)
    if page.http_status in GONE_HTTP:
        facts = PageFacts(
            url=page.url, final_url=page.final_url, http_status=page.http_status, redirects=page.redirects
        )
        return [
            _observation(b, page.url, at, Status.MISSING_UNCONFIRMED, Miss.PAGE_NOT_FOUND.value, facts)
            for b in backlinks
        ]
    content_type = _first(page.headers, "content-type")
    if page.text is None or not is_html(content_type, page.body):
        return observe_failure(backlinks, page.url, Status.NOT_HTML, content_type or "unknown", at)

    targets = [(b, Target(b.target_url, b.match, strip_tracking=strip_tracking)) for b in backlinks]
    sel = Selector(text=page.text, type="html")
    # One pass over the page's links for all its backlinks; only links on the targets' sites get
    # the expensive fields (anchor, context, snippet).
    scan = scan_links(sel, page.final_url, keep=lambda url: any(t.same_site(url) for _, t in targets))
    facts = extract_page(
        sel,
        url=page.url,
        final_url=page.final_url,
        http_status=page.http_status,
        headers=page.headers,
        redirects=page.redirects,
        body=page.body,
        external_links=scan.external_links,
    )
    links = scan.links
    return [_judge(b, target, links, facts, page.url, at) for b, target in targets]


def _judge(
    backlink: DueBacklink, target: Target, links: list[LinkRecord], facts: PageFacts, url: str, at: datetime
) -> Observation:
    matched = [link for link in links if target.matches(link.url)]
    if matched:
        return _observation(
            backlink,
            url,
            at,
            Status.LIVE,
            None,
            facts,
            links=matched,
            follow=any(effective_follow(link, facts) for link in matched),
            mismatch=expectation_mismatch(backlink, matched, facts),
        )
    retargeted = next((canonical_link(link.url) for link in links if target.same_site(link.url)), None)
    return _observation(
        backlink, url, at, Status.MISSING_UNCONFIRMED, miss_reason(facts).value, facts,
        retargeted_to=retargeted,
    )


def miss_reason(facts: PageFacts) -> Miss:
    """Why a readable page lacks the link: a page-level cause explains it better than removal."""
    if facts.redirects and not Target(facts.url, MatchMode.EXACT).matches(facts.final_url):
        return Miss.PAGE_REDIRECTED
    if facts.noindex:
        return Miss.NOINDEX
    if facts.canonical and not Target(facts.final_url, MatchMode.EXACT).matches(facts.canonical):
        return Miss.NOT_CANONICAL
    return Miss.LINK_REMOVED


_EQUITY_TOKENS = frozenset({"nofollow", "sponsored", "ugc"})
_FOLLOW_WORDS = frozenset({"follow", "dofollow"})


def expectation_mismatch(
    backlink: DueBacklink, links: Sequence[LinkRecord], facts: PageFacts
) -> list[str]:
    """Which of the user's expectations (anchor, rel) none of the matching links meets."""
    mismatch = []
    if backlink.expected_anchor is not None:
        wanted = " ".join(backlink.expected_anchor.split()).casefold()
        if not any(" ".join((link.anchor or link.alt or "").split()).casefold() == wanted for link in links):
            mismatch.append("anchor")
    if backlink.expected_rel is not None:
        words = {w.lower() for w in backlink.expected_rel.replace(",", " ").split()}
        wanted_tokens = words & _EQUITY_TOKENS
        if words & _FOLLOW_WORDS or not words:
            ok = any(effective_follow(link, facts) for link in links)
        else:
            ok = any(wanted_tokens <= set(link.rel) for link in links)
        if not ok:
            mismatch.append("rel")
    return mismatch


def _observation(
    backlink: DueBacklink,
    url: str,
    at: datetime,
    status: Status,
    reason: str | None,
    page: PageFacts | None = None,
    **fields: object,
) -> Observation:
    return Observation(
        backlink_id=backlink.id,
        referring_url=url,
        target_url=backlink.target_url,
        checked_at=at,
        status=status,
        reason=reason,
        page=page,
        **fields,
    )


def _first(headers: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None
