"""From a fetched page (or a failure) to one observation per backlink it carries. Pure.

The spider converts Scrapy's response into a :class:`Fetched` and calls :func:`observe_page`;
everything that decides *live*, *which miss* or *inconclusive* lives here and in the extractors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from parsel import Selector
from pydantic import BaseModel, Field

from crawler.core.extract.html import parse_html
from crawler.core.extract.links import HIDDEN_ATTR, scan_links
from crawler.core.extract.page import (
    effective_follow,
    extract_page,
    first_header,
    is_html,
    looks_like_challenge,
    reader_text,
    too_deep,
)
from crawler.core.expect import anchor_met, rel_met
from crawler.core.mentions import Brands, find_mentions
from crawler.core.items import DueBacklink, LinkRecord, MatchMode, Observation, PageFacts
from crawler.core.outcome import GONE_HTTP, FoundIn, Miss, Status, classify_http
from crawler.core.urls import Target, canonical_link, same_site_as_any


# A 200 without content (a crashed CMS, an HTTP/1.0 server that closed after the headers): no
# evidence either way, so a server error rather than a page that lacks the link.
EMPTY_BODY = "empty_body"
# The elements of a parsed document besides its html/head/body shell, which the parser or the
# browser makes even of an empty body. Written with /* so that a tree whose names do not match
# counts as content: an unexpected tree can make a page judged, never an empty one.
_BEYOND_SHELL = "/*/*[not(self::head or self::body)] | /*/head/* | /*/body/*"


class Fetched(BaseModel):
    """A downloaded page in plain values."""

    url: str  # as requested
    final_url: str
    http_status: int
    headers: Mapping[str, Sequence[str]] = Field(default_factory=dict)  # lower-case names
    redirects: list[str] = Field(default_factory=list)
    body: bytes = b""
    text: str | None = None  # the decoded body, when the response is text
    ip: str | None = None  # the server's address, when the download handler knows it


def observe_failure(
    backlinks: Sequence[DueBacklink], referring_url: str, status: Status, reason: str, at: datetime
) -> list[Observation]:
    return [_observation(b, referring_url, at, status, reason) for b in backlinks]


def observe_page(
    backlinks: Sequence[DueBacklink],
    page: Fetched,
    at: datetime,
    *,
    strip_tracking: bool = True,
    rendered: bool = False,
    brands: Brands = Brands(),
) -> list[Observation]:
    """``rendered``: ``page`` is a browser's DOM, its links marked hidden or not by the render probe;
    live links are then ``found_in="rendered"`` (else ``"raw"``) until :func:`merge_rendered`.
    ``brands``: a page that misses a link but names the backlink's brand keeps the sentences."""
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
    if not page.body.strip() or (page.text is not None and not page.text.strip()):
        return observe_failure(backlinks, page.url, Status.SERVER_ERROR, EMPTY_BODY, at)
    content_type = first_header(page.headers, "content-type")
    if page.text is None or not is_html(content_type, page.body):
        return observe_failure(backlinks, page.url, Status.NOT_HTML, content_type or "unknown", at)

    targets = [(b, Target(b.target_url, b.match, strip_tracking=strip_tracking)) for b in backlinks]
    sel = parse_html(page.text)
    # One pass over the page's links for all its backlinks; only links on the targets' sites get
    # the expensive fields (anchor, context, snippet).
    scan = scan_links(
        sel,
        page.final_url,
        keep=same_site_as_any([t for _, t in targets]),
        hidden_attr=HIDDEN_ATTR if rendered else None,
    )
    facts = extract_page(
        sel,
        url=page.url,
        final_url=page.final_url,
        http_status=page.http_status,
        headers=page.headers,
        redirects=page.redirects,
        body=page.body,
        external_links=scan.external_links,
        sponsored_links=scan.sponsored_links,
        ip=page.ip,
    )
    links = scan.links
    found_in = FoundIn.RENDERED if rendered else FoundIn.RAW
    judged = [_judge(b, target, links, facts, page.url, at, found_in) for b, target in targets]
    if any(obs.status is Status.MISSING_UNCONFIRMED for obs in judged) and _empty_document(sel):
        return observe_failure(backlinks, page.url, Status.SERVER_ERROR, EMPTY_BODY, at)
    if any(obs.status is Status.MISSING_UNCONFIRMED for obs in judged) and too_deep(sel):
        # The HTML parser stops building the tree past its depth limit: what it dropped may hold
        # the link, so a miss on such a page is no evidence.
        return [_unjudged(obs) if obs.status is Status.MISSING_UNCONFIRMED else obs for obs in judged]
    if brands and any(_unlinked(obs) for obs in judged):
        judged = _with_mentions(judged, backlinks, reader_text(sel), brands)
    return judged


def _with_mentions(
    judged: list[Observation], backlinks: Sequence[DueBacklink], text: str, brands: Brands
) -> list[Observation]:
    """Each unlinked observation with the sentences that name its backlink's brand. The page's text
    is read only when a link is missing (it is the slow part of a page), and searched once per set
    of terms."""
    found: dict[tuple[str, ...], list[str]] = {}
    out = []
    for backlink, obs in zip(backlinks, judged, strict=True):
        terms = brands.terms(backlink.tags) if _unlinked(obs) else ()
        if terms:
            if terms not in found:
                found[terms] = find_mentions(text, terms)
            if found[terms]:
                obs = obs.model_copy(update={"mentions": found[terms]})
        out.append(obs)
    return out


def _unlinked(obs: Observation) -> bool:
    """The link is missing and the page links nowhere else on the target's site: a mention of the
    brand there is one to reclaim (a page that links the site elsewhere already credits it)."""
    return obs.status is Status.MISSING_UNCONFIRMED and obs.retargeted_to is None


def _empty_document(sel: Selector) -> bool:
    """No element besides the shell and no text: nothing a link could have been removed from."""
    return not sel.xpath(_BEYOND_SHELL) and not sel.xpath("normalize-space(/*)").get()


def _unjudged(obs: Observation) -> Observation:
    return obs.model_copy(update={"status": Status.TOO_LARGE, "reason": "dom_depth", "retargeted_to": None})


def _judge(
    backlink: DueBacklink,
    target: Target,
    links: list[LinkRecord],
    facts: PageFacts,
    url: str,
    at: datetime,
    found_in: FoundIn = FoundIn.RAW,
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
            found_in=found_in,
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


def expectation_mismatch(
    backlink: DueBacklink, links: Sequence[LinkRecord], facts: PageFacts
) -> list[str]:
    """Which of the user's expectations none of the matching links meets: ``anchor``, ``rel``,
    ``target`` (the landing page), and ``sponsored_without_rel`` for a paid link (crawler.core.expect)."""
    mismatch = []
    if backlink.expected_anchor is not None and not anchor_met(
        backlink.expected_anchor, [link.anchor or link.alt or "" for link in links]
    ):
        mismatch.append("anchor")
    if backlink.expected_rel is not None and not any(
        rel_met(backlink.expected_rel, link.rel, effective_follow(link, facts)) for link in links
    ):
        mismatch.append("rel")
    if backlink.expected_target is not None:
        landing = Target(backlink.expected_target, MatchMode.EXACT)
        if not any(landing.matches(link.url) for link in links):
            mismatch.append("target")
    if backlink.paid and not any("sponsored" in link.rel for link in links):
        mismatch.append("sponsored_without_rel")
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


def merge_rendered(raw: Sequence[Observation] | None, rendered: Sequence[Observation]) -> list[Observation]:
    """One observation per backlink from the static view (``raw``; None when unknown) and the
    rendered one, which both came from :func:`observe_page` on the same page.

    Found in both: the rendered links (they carry ``hidden``), ``found_in="both"``. Only in the raw
    HTML (a script removed it): still live, ``found_in="raw"``. Only rendered: ``"rendered"``.
    Missing in both: the render confirmed the miss. A render that could not judge the page (a
    challenge, an error page) leaves a raw live link live and a raw miss unconfirmed: inconclusive.
    """
    raw_by_id = {obs.backlink_id: obs for obs in raw or ()}
    merged = []
    for seen in rendered:
        before = raw_by_id.get(seen.backlink_id)
        if before is None:
            merged.append(seen)
        elif seen.status is Status.LIVE:
            merged.append(seen if before.status is not Status.LIVE else seen.model_copy(update={"found_in": FoundIn.BOTH}))
        elif before.status is Status.LIVE:
            merged.append(before)
        else:
            merged.append(seen)
    return merged


def merge_failed_render(
    raw: Sequence[Observation],
    status: Status,
    reason: str,
    at: datetime,
    *,
    scripted: bool = True,
    script_redirect: str | None = None,
) -> list[Observation]:
    """The render of a page failed (or left the page): the static view ``raw`` stands.

    A link the raw HTML has is live (``found_in="raw"``), the render's failure its ``reason``. A
    miss stands as it is only on a page without scripts (``scripted`` False), which no render can
    change; on a page with scripts the miss was to be confirmed by the render, so it becomes the
    render's inconclusive status, never a miss. ``script_redirect`` is recorded as a page fact.
    """
    merged = []
    for obs in raw:
        page = obs.page
        if page is not None and script_redirect is not None:
            page = page.model_copy(update={"script_redirect": script_redirect})
        if obs.status is Status.LIVE:
            merged.append(obs.model_copy(update={"reason": reason, "found_in": FoundIn.RAW, "page": page}))
        elif obs.status.inconclusive or not scripted:
            merged.append(obs.model_copy(update={"page": page}))
        else:
            merged.append(obs.model_copy(
                update={"status": status, "reason": reason, "checked_at": at, "retargeted_to": None, "page": page}
            ))
    return merged
