"""What a fetched page says about itself: canonical, robots directives, title, language, hash.

Also the page-level predicates the spider needs before looking for links: is the response HTML at
all, and is it an anti-bot challenge rather than the real page.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

import parsel
from lxml import etree

from crawler.core.extract.links import block_lines, document_base, page_text, rel_tokens, resolve_href
from crawler.core.extract.template import template_fingerprint
from crawler.core.items import LinkRecord, PageFacts

Headers = Mapping[str, Sequence[str]]  # lower-case names -> every value received

# Crawlers the robots directives are read for: the generic ones and Google's main crawler.
_ROBOTS_AGENTS = frozenset({"robots", "googlebot"})
# X-Robots-Tag directives that carry a value after a colon, so "max-snippet: 20" is not an agent.
_VALUED_DIRECTIVES = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"})
_NOT_FOLLOWED_REL = frozenset({"nofollow", "sponsored", "ugc"})
_LINK_HEADER = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL_PARAM = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]*))""", re.IGNORECASE)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def extract_page(
    sel: parsel.Selector,
    *,
    url: str,
    final_url: str,
    http_status: int,
    headers: Headers,
    redirects: Sequence[str] = (),
    body: bytes = b"",
    external_links: int,
    sponsored_links: int = 0,
    ip: str | None = None,
) -> PageFacts:
    """Facts about the page at ``final_url`` (reached from ``url`` through ``redirects``).

    ``headers`` maps lower-case names to all their values. ``external_links`` is the count of
    :func:`~crawler.core.extract.links.scan_links`, the one pass over the page's links.
    """
    document = _document(sel)
    robots = robots_directives(document, headers)
    return PageFacts(
        url=url,
        final_url=final_url,
        http_status=http_status,
        redirects=list(redirects),
        content_type=media_type(first_header(headers, "content-type")),
        canonical=_canonical(document, final_url, headers),
        noindex="noindex" in robots,
        nofollow="nofollow" in robots,
        title=_title(document),
        lang=_lang(document),
        external_links=external_links,
        sponsored_links=sponsored_links,
        content_hash=content_hash(document, body),
        ip=ip,
        template=template_fingerprint(document, final_url),
    )


# libxml2 (even with huge_tree) silently drops everything nested deeper than 2048 elements, and a
# browser flattens the tree at 512: a page this deep is hostile or broken, and may have lost content.
MAX_DOM_DEPTH = 1024
_AT_MAX_DEPTH = etree.XPath("boolean(" + "/*" * MAX_DOM_DEPTH + ")")


def too_deep(sel: parsel.Selector) -> bool:
    """Whether the document nests elements ``MAX_DOM_DEPTH`` deep. One XPath: on a normal page the
    node set is empty after a few dozen steps, so this costs next to nothing."""
    document = _document(sel)
    return document is not None and bool(_AT_MAX_DEPTH(document.getroottree()))


def effective_follow(link: LinkRecord, page: PageFacts) -> bool:
    """Whether ``link`` passes equity: neither its rel nor the page's robots directives forbid it."""
    return not page.nofollow and _NOT_FOLLOWED_REL.isdisjoint(link.rel)


def _document(sel: parsel.Selector) -> etree._Element | None:
    root = sel.root
    return root.getroottree().getroot() if isinstance(root, etree._Element) else None


def first_header(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (lower-case), None when absent."""
    values = headers.get(name)
    return values[0] if values else None


def media_type(content_type: str | None) -> str | None:
    """``text/html`` from ``Text/HTML; charset=utf-8``; None when absent or empty."""
    if content_type is None:
        return None
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind or None


# Canonical


def _canonical(document: etree._Element | None, final_url: str, headers: Headers) -> str | None:
    """The canonical URL, absolute: from ``<link rel=canonical>``, else from a ``Link`` header.

    The markup wins because it is what the page's author edits; both should agree anyway.
    """
    if document is not None:
        for link in document.iter("link"):
            href = link.get("href")
            if href is not None and "canonical" in rel_tokens(link.get("rel")):
                # Like every URL in the document, it resolves against <base href>.
                return resolve_href(href, document_base(document, final_url))
    for value in headers.get("link", ()):
        for target, params in _LINK_HEADER.findall(value):
            rel = _REL_PARAM.search(params)
            if rel and "canonical" in (rel.group(1) or rel.group(2)).lower().split():
                return resolve_href(target, final_url)
    return None


# Robots directives


def robots_directives(document: etree._Element | None, headers: Headers) -> set[str]:
    """The directives that apply to Google and to every crawler (meta robots and X-Robots-Tag),
    ``none`` expanded."""
    directives = set(_meta_directives(document))
    for value in headers.get("x-robots-tag", ()):
        directives.update(x_robots_directives(value))
    if "none" in directives:
        directives.update(("noindex", "nofollow"))
    return directives


def _meta_directives(document: etree._Element | None) -> Iterator[str]:
    if document is None:
        return
    for meta in document.iter("meta"):
        if (meta.get("name") or "").strip().lower() in _ROBOTS_AGENTS:
            yield from _tokens((meta.get("content") or "").split(","))


def x_robots_directives(value: str) -> list[str]:
    """The directives of one ``X-Robots-Tag`` value that apply to generic crawlers or Googlebot.

    ``googlebot: noindex`` applies, ``bingbot: noindex`` does not; an agent prefix applies to the
    directives after it, up to the next prefix (``bingbot: noindex, nofollow``).
    """
    applies = True
    found = []
    for part in value.split(","):
        agent, colon, rest = part.partition(":")
        agent = agent.strip().lower()
        if colon and agent not in _VALUED_DIRECTIVES and " " not in agent:
            applies = agent in _ROBOTS_AGENTS
            part = rest
        if applies:
            found.extend(_tokens([part]))
    return found


def _tokens(parts: Iterable[str]) -> Iterator[str]:
    """Lower-cased directives; spaces separate them too, as lenient crawlers accept."""
    for part in parts:
        yield from part.lower().split()


# Title, language, hash


def _title(document: etree._Element | None) -> str | None:
    if document is None:
        return None
    for title in document.iter("title"):
        # An <svg> carries its own <title>: a tooltip, not the page's.
        if any(ancestor.tag == "svg" for ancestor in title.iterancestors()):
            continue
        text = " ".join(title.text_content().split())
        return text or None
    return None


def _lang(document: etree._Element | None) -> str | None:
    if document is None or document.tag != "html":
        return None
    lang = (document.get("lang") or "").strip()
    return lang or None


def content_hash(document: etree._Element | None, body: bytes) -> str:
    """SHA-256 hex of the page's visible text, whitespace-normalised; of ``body`` if it has none.

    Text rather than bytes, because the bytes of most pages change on every fetch (CSRF tokens,
    nonces, ad and analytics snippets, build ids) while the text changes only when the content
    does. A page with no visible text at all (a JavaScript shell) falls back to its bytes.
    """
    text = document_text(document)
    return hashlib.sha256(text.encode("utf-8") if text else body).hexdigest()


def reader_text(sel: parsel.Selector) -> str:
    """The text a reader sees on the page, a line per block (:func:`~crawler.core.extract.links.block_lines`
    of its body)."""
    shown = _shown_part(_document(sel))
    return "" if shown is None else block_lines(shown)


def document_text(document: etree._Element | None) -> str:
    """The visible text of the body (of the whole document if it has none): no scripts, styles
    or attributes."""
    shown = _shown_part(document)
    return "" if shown is None else page_text(shown)


def _shown_part(document: etree._Element | None) -> etree._Element | None:
    """The body, or the whole document if it has none."""
    if document is None:
        return None
    body_element = document.find("body")
    return document if body_element is None else body_element


# Content type and challenges


def is_html(content_type: str | None, body: bytes) -> bool:
    """Whether a response is an HTML page: by its content type, or by sniffing when it has none."""
    kind = media_type(content_type)
    if kind is not None:
        # A PDF, an image or random bytes labelled text/html is not a page that lacks the link.
        return kind in _HTML_TYPES and not looks_binary(body)
    return _looks_like_html(body)


# The WHATWG MIME sniffing standard's "binary data bytes": no text encoding puts them in markup.
_BINARY_BYTES = frozenset(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1c\x1d\x1e\x1f")
_BINARY_SIGNATURES = (b"%PDF-", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"\x00\x00\x01\x00")
_SNIFF_BYTES = 1445  # the resource header the standard looks at


def looks_binary(body: bytes) -> bool:
    """Whether ``body`` is binary data rather than text: a known file signature, or control bytes
    in its first 1445 bytes (UTF-16 text, which is full of NULs, is recognised by its BOM)."""
    start = body[:_SNIFF_BYTES]
    if start.startswith((b"\xfe\xff", b"\xff\xfe", b"\xef\xbb\xbf")):
        return False
    if start.lstrip(b" \t\r\n").startswith(_BINARY_SIGNATURES):
        return True
    # A stray control byte or two happen in real pages; binary data is full of them.
    return sum(b in _BINARY_BYTES for b in start) > max(8, len(start) // 100)


# The HTML signatures of the WHATWG MIME sniffing standard; each must be followed by " " or ">".
_HTML_SIGNATURES = tuple(
    tag.encode("ascii")
    for tag in (
        "<!doctype html",
        "<html",
        "<head",
        "<script",
        "<iframe",
        "<h1",
        "<div",
        "<font",
        "<table",
        "<a",
        "<style",
        "<title",
        "<b",
        "<body",
        "<br",
        "<p",
        "<!--",
    )
)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :].decode(encoding, "ignore").encode("utf-8")
            break
    head = head.lstrip(b" \t\n\r\x0c").lower()
    for signature in _HTML_SIGNATURES:
        if head.startswith(signature) and head[len(signature) : len(signature) + 1] in (b" ", b">"):
            return True
    return False


# Statuses anti-bot services answer with when they challenge a client.
_CHALLENGE_STATUSES = frozenset({403, 429, 503})
# Markup only a challenge or block page carries, by vendor.
_CHALLENGE_MARKERS = (
    "_cf_chl_opt",  # Cloudflare
    "cf-chl-",
    "cf_chl_",
    "/cdn-cgi/challenge-platform/h/",
    "cf-browser-verification",
    "captcha-delivery.com",  # DataDome
    "px-captcha",  # PerimeterX / HUMAN
    "_pxcaptcha",
    "perimeterx",
    "errors.edgesuite.net",  # Akamai
    "_incapsula_resource",  # Imperva
    "incapsula incident id",
    "sucuri website firewall",
    "awswafintegration",  # AWS WAF
    "ddos-guard",
)
# Generic captcha widgets: a challenge only on a challenge status, since forms use them too.
_CAPTCHA_WIDGETS = ("g-recaptcha", "h-captcha", "cf-turnstile", "hcaptcha.com", "recaptcha/api")
_CHALLENGE_TITLES = frozenset(
    {
        "just a moment...",
        "attention required! | cloudflare",
        "access denied",
        "pardon our interruption",
        "are you a robot?",
        "are you a human?",
        "please verify you are a human",
        "security check",
        "ddos-guard",
        "one more step",
        "checking your browser",
    }
)
_MAX_SCANNED = 512 * 1024  # challenge pages are small; a big page is not read to its end


def looks_like_challenge(http_status: int, headers: Headers, text: str) -> bool:
    """Whether the response is an anti-bot challenge or block page rather than the real page.

    Read before the page is parsed (``text`` is the decoded body): a challenge is never parsed.

    Conservative, because a real page called a challenge hides a real loss: Cloudflare's
    ``cf-mitigated: challenge`` header is enough on its own; otherwise a challenge status
    (403/429/503) needs a vendor marker, a captcha widget or a challenge title, and any other
    status needs both a challenge title and a vendor marker.
    """
    if any("challenge" in value.lower() for value in headers.get("cf-mitigated", ())):
        return True
    if http_status in _CHALLENGE_STATUSES and "x-datadome" in headers:
        return True
    markup = text[:_MAX_SCANNED].lower()
    title = _challenge_title(markup)
    if http_status not in _CHALLENGE_STATUSES and title is None:
        return False  # the common case: a normal page, decided by its title alone
    has_marker = any(marker in markup for marker in _CHALLENGE_MARKERS)
    if http_status in _CHALLENGE_STATUSES:
        return has_marker or title is not None or any(widget in markup for widget in _CAPTCHA_WIDGETS)
    return has_marker


def _challenge_title(markup: str) -> str | None:
    """The page's title if it is a challenge's (``markup`` lower-cased)."""
    match = re.search(r"<title[^>]*>(.*?)</title", markup, re.DOTALL)
    if match is None:
        return None
    title = " ".join(match.group(1).split()).replace("&amp;", "&")
    return title if title in _CHALLENGE_TITLES else None

