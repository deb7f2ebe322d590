"""Links of a page as a backlink checker reports them: URL, anchor, rel, position and context.

One pass over the ``<a>`` and ``<area>`` elements resolves every href and counts external links;
the costly fields (anchor, context, snippet, position) are computed only for the links the caller
keeps, so a page with thousands of links and one backlink stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

import ada_url
import parsel
from lxml import etree

from crawler.core.items import LinkRecord, Position
from crawler.core.urls import clean_href, host_key

_LANDMARK_TAGS = {
    "nav": Position.NAV,
    "aside": Position.ASIDE,
    "header": Position.HEADER,
    "footer": Position.FOOTER,
}
_LANDMARK_ROLES = {
    "navigation": Position.NAV,
    "complementary": Position.ASIDE,
    "banner": Position.HEADER,
    "contentinfo": Position.FOOTER,
}
# A <header> or <footer> inside one of these belongs to that section (ARIA gives it no landmark
# role): the byline or "sources" footer of an article is main content, not the site footer.
_SECTIONING = frozenset({"article", "aside", "main", "nav", "section"})
# Invisible text: never part of an anchor or of the context around a link. A <title> in the body
# is an SVG icon's tooltip (or a misplaced page title): browsers render neither.
_HIDDEN_TEXT = frozenset({"script", "style", "template", "noscript", "title", "datalist"})
# Elements that break a line when rendered; a space stands for that break so words do not fuse.
# A <select> shows its options apart, and innerText reads them one per line.
_BLOCK = frozenset(
    "address article aside blockquote br dd details div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol optgroup option p pre section select summary table td th "
    "tr ul".split()
)
# Inline style that hides an element, compared with whitespace removed and lower-cased.
_DISPLAY_NONE = "display:none"
_STYLE_FOLD = str.maketrans("", "", " \t\n\r\x0c")
_ASCII_WHITESPACE = re.compile("[\t\n\x0c\r ]+")  # HTML's ASCII whitespace
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_XLINK_HREF = "xlink:href"  # lxml's HTML parser keeps the prefixed name as it is written
_WEB_SCHEMES = ("http://", "https://")
# Set to "1"/"0" on every link by the browser's hidden-link probe (crawler/shell/render/probe.py).
HIDDEN_ATTR = "data-backlinks-hidden"


class LinkScan(NamedTuple):
    """The result of one pass over a page's links."""

    links: list[LinkRecord]  # the kept links, in document order
    external_links: int  # http(s) <a>/<area> links to another host than the page's ("www." aside)
    sponsored_links: int = 0  # of those, the ones with rel=sponsored (a page of paid links)


def scan_links(
    sel: parsel.Selector,
    page_url: str,
    keep: Callable[[str], bool] | None = None,
    *,
    context_chars: int = 100,
    snippet_chars: int = 400,
    hidden_attr: str | None = None,
) -> LinkScan:
    """Every http(s) ``<a href>`` and ``<area href>`` of the page for which ``keep(url)`` holds, and
    how many http(s) links point to another host than ``page_url``'s (``www.`` aside), in one pass.

    ``page_url`` is the final URL of the page; hrefs resolve against the first ``<base href>`` and
    then against it. ``keep`` receives the resolved URL; ``None`` keeps every link.
    ``hidden_attr`` names the attribute a rendered DOM marks hidden links with ("1"/"0"): it
    becomes each link's ``hidden`` and is left out of the snippet.
    """
    root = sel.root
    if not isinstance(root, etree._Element):  # a selector over a text node or attribute value
        return LinkScan([], 0)
    document = root.getroottree().getroot()
    resolve = _Resolver(document_base(document, page_url))
    page = _Origin(page_url)
    kept: list[tuple[etree._Element, str, str]] = []
    external = sponsored = 0
    for element in root.iter("a", "area"):
        href = element.get("href")
        if href is None:
            href = _svg_xlink_href(element)
            if href is None:
                continue
        url = resolve(href)
        if url is None:
            continue
        if not page.same_host(url):
            external += 1
            if "sponsored" in rel_tokens(element.get("rel")):
                sponsored += 1
        if keep is None or keep(url):
            # A kept link gets the browser's exact URL (the quick resolution above is only
            # good enough to decide); one a browser would not follow is no link.
            exact = resolve.exact(href)
            if exact is not None:
                kept.append((element, href, exact))
    links = [
        _record(element, href, url, context_chars=context_chars, snippet_chars=snippet_chars, hidden_attr=hidden_attr)
        for element, href, url in kept
    ]
    return LinkScan(links, external, sponsored)


def _svg_xlink_href(element: etree._Element) -> str | None:
    """SVG 1.1's ``<a xlink:href>``, a link in SVG (SVG 2's plain ``href`` wins when both are
    there); on an HTML ``<a>`` the attribute means nothing."""
    href = element.get(_XLINK_HREF)
    if href is None or element.tag != "a":
        return None
    return href if any(ancestor.tag == "svg" for ancestor in element.iterancestors()) else None


def document_base(document: etree._Element, page_url: str) -> str:
    """The URL relative hrefs resolve against: the first ``<base href>``, else ``page_url``."""
    for base in document.iter("base"):
        href = base.get("href")
        if href is not None:
            # A base that does not resolve to a web URL is ignored, as browsers do.
            return resolve_href(href, page_url) or page_url
    return page_url


def resolve_href(href: str, base: str) -> str | None:
    """Resolve ``href`` against ``base`` as a browser does (the WHATWG URL Standard) and return
    the resulting href; None unless it is an http(s) URL.

    That drops ``javascript:``, ``mailto:``, ``tel:``, ``data:`` and every other non-web scheme,
    and hrefs a browser refuses.
    """
    try:
        url = ada_url.join_url(base, href)
    except ValueError:
        return None
    return url if url.startswith(_WEB_SCHEMES) else None


class _Origin:
    """``scheme://host[:port]`` of a URL, to answer "same host?" mostly by a prefix test."""

    def __init__(self, url: str) -> None:
        scheme_end = url.find("//") + 2
        ends = [i for i in (url.find(c, scheme_end) for c in "/?#") if i >= 0]
        self.prefix = url[: min(ends, default=len(url))]
        self.host = host_key(url)

    def same_host(self, url: str) -> bool:
        """Whether ``url`` is on this host, ``www.``, scheme and port aside."""
        size = len(self.prefix)
        if url.startswith(self.prefix) and url[size : size + 1] in ("", "/", "?", "#"):
            return True
        return host_key(url) == self.host


class _Resolver:
    """Resolves the hrefs of one page against its base URL, by string operations for the usual
    shapes of href and by the WHATWG parser for the rest.

    Calling it is the quick way, for every link of a page: its URL is right for any href a browser
    accepts, but an absolute href is not validated (that is for the few links kept, by
    :meth:`exact` and by target matching, which parse them fully).
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self.origin = _Origin(base).prefix
        # Where a plain relative path ("page.html", "a/b") lands: the base up to its last "/".
        path_start = len(self.origin)
        path_end = min((i for i in (base.find("?"), base.find("#")) if i >= 0), default=len(base))
        last_slash = base.rfind("/", path_start, path_end)
        self.directory = base[: last_slash + 1] if last_slash >= 0 else self.origin + "/"

    def __call__(self, href: str) -> str | None:
        href = clean_href(href)
        simple = "\\" not in href and "/." not in href  # nothing for the URL parser to rewrite
        if simple and href[:8].lower().startswith(_WEB_SCHEMES):
            url = href
        elif simple and href.startswith("/") and not href.startswith("//"):
            url = self.origin + href
        elif simple and _is_plain_relative(href):
            url = self.directory + href
        else:
            return resolve_href(href, self.base)
        lowered = url[:8].lower()
        # What the string forms cannot vouch for (no host, say "https:///x", or a bracketed
        # host) is the WHATWG parser's to decide: a browser may still read a link there.
        if not lowered.startswith(_WEB_SCHEMES):
            return resolve_href(href, self.base)
        after_scheme = url[lowered.index("//") + 2 :]
        if after_scheme[:1] in ("", "/", "?", "#") or "[" in url and not _splits(url):
            return resolve_href(href, self.base)
        return url

    def exact(self, href: str) -> str | None:
        """:func:`resolve_href` against this page's base."""
        return resolve_href(href, self.base)


def _splits(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


def _is_plain_relative(href: str) -> bool:
    """A relative path with no scheme, no dot segment and no leading "/", "?" or "#"."""
    if not href or href[0] in "/?#.":
        return False
    end = min((i for i in (href.find(c) for c in "/?#") if i >= 0), default=len(href))
    return ":" not in href[:end]


def _record(
    element: etree._Element,
    href: str,
    url: str,
    *,
    context_chars: int,
    snippet_chars: int,
    hidden_attr: str | None = None,
) -> LinkRecord:
    hidden = None
    if hidden_attr is not None and (mark := element.attrib.pop(hidden_attr, None)) is not None:
        hidden = mark == "1"
    tag = str(element.tag)
    left, right = link_context(element, context_chars)
    title = element.get("title")
    return LinkRecord(
        href=href,
        url=url,
        tag=tag,
        anchor=anchor_text(element),
        alt=_alt(element),
        title=None if title is None else _squash(title),
        rel=rel_tokens(element.get("rel")),
        position=link_position(element),
        left=left,
        right=right,
        snippet=etree.tostring(element, encoding="unicode", method="html", with_tail=False)[:snippet_chars],
        hidden=hidden,
    )


def rel_tokens(rel: str | None) -> tuple[str, ...]:
    """The tokens of a ``rel`` attribute: ASCII-lower-cased, in order, without duplicates.

    Split on ASCII whitespace only, as browsers do (HTML's ordered set of tokens): in
    ``rel="nofollow&nbsp;sponsored"`` the no-break space is part of one unknown token, so the link is
    followed. ``str.split()`` would see two tokens and report it nofollow.
    """
    if not rel:
        return ()
    tokens = _ASCII_WHITESPACE.split(rel.translate(_ASCII_LOWER))
    return tuple(dict.fromkeys(token for token in tokens if token))


def _alt(element: etree._Element) -> str | None:
    """The alt text of an ``<area>``, or of the first ``<img alt>`` inside an ``<a>``."""
    if element.tag == "area":
        alt = element.get("alt")
        return None if alt is None else _squash(alt)
    for img in element.iter("img"):
        alt = img.get("alt")
        if alt is not None:
            return _squash(alt)
    return None


def link_position(element: etree._Element) -> Position:
    """The innermost landmark around ``element`` (by tag or ARIA role), else main content."""
    for ancestor in element.iterancestors():
        role = (ancestor.get("role") or "").split()
        if role and role[0].lower() in _LANDMARK_ROLES:
            return _LANDMARK_ROLES[role[0].lower()]
        tag = ancestor.tag
        if tag in ("header", "footer") and any(a.tag in _SECTIONING for a in ancestor.iterancestors()):
            continue
        if tag in _LANDMARK_TAGS:
            return _LANDMARK_TAGS[tag]
    return Position.MAIN


def _squash(text: str) -> str:
    return " ".join(text.split())


def visible_text(element: etree._Element) -> str:
    """The whitespace-normalised text ``element`` renders, by element names only: no script,
    style or template, words kept apart. The page text behind the content hash."""
    return _squash("".join(_text_forward(element, _shown_tag)))


def anchor_text(link: etree._Element) -> str:
    """A link's anchor as a browser's ``innerText`` gives it: :func:`visible_text` without the
    elements that ``hidden`` or an inline ``display: none`` hide. The link's own attributes are
    not read: innerText of an element that is not rendered is all its text, so a hidden link keeps
    its anchor (the render reports it ``hidden``)."""
    return _squash("".join(_text_forward(link, _shown, check_top=False)))


# visible_text for a whole page, in C: XSLT's built-in rules already skip comments and processing
# instructions; these templates skip invisible elements and put a space around blocks.
# normalize-space squashes only ASCII whitespace, so text with other whitespace is squashed again.
_PAGE_TEXT = etree.XSLT(
    etree.XML(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="UTF-8"/>'
        '<xsl:template match="/"><xsl:variable name="t"><xsl:apply-templates/></xsl:variable>'
        '<xsl:value-of select="normalize-space($t)"/></xsl:template>'
        f'<xsl:template match="{"|".join(sorted(_HIDDEN_TEXT))}"/>'
        f'<xsl:template match="{"|".join(sorted(_BLOCK))}">'
        '<xsl:text> </xsl:text><xsl:apply-templates/><xsl:text> </xsl:text></xsl:template>'
        "</xsl:stylesheet>"
    )
)
# The same, with each block on a line of its own and no squashing: a page's sentences, for the
# mentions, must not run from the navigation into the first paragraph.
_BLOCK_LINES = etree.XSLT(
    etree.XML(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="UTF-8"/>'
        f'<xsl:template match="{"|".join(sorted(_HIDDEN_TEXT))}"/>'
        f'<xsl:template match="{"|".join(sorted(_BLOCK))}">'
        '<xsl:text>&#8233;</xsl:text><xsl:apply-templates/><xsl:text>&#8233;</xsl:text></xsl:template>'
        "</xsl:stylesheet>"
    )
)
_NON_ASCII_SPACE = re.compile("[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def page_text(element: etree._Element) -> str:
    """:func:`visible_text`, identical, for a large element (a page's ``<body>``): about 3x faster
    there, slower for a single link."""
    try:
        text = str(_PAGE_TEXT(element))
    except etree.XSLTApplyError:  # nested deeper than libxslt's template recursion limit
        return visible_text(element)
    return _squash(text) if _NON_ASCII_SPACE.search(text) else text


def block_lines(element: etree._Element) -> str:
    """:func:`page_text` with a line per block (paragraph, heading, list item...), each squashed."""
    try:
        text = str(_BLOCK_LINES(element))
    except etree.XSLTApplyError:  # nested deeper than libxslt's template recursion limit
        return visible_text(element)
    # U+2029 (paragraph separator) marks the blocks: a line break in the source is only a space.
    lines = (" ".join(_NON_ASCII_SPACE.sub(" ", line).split()) for line in text.split("\u2029"))
    return "\n".join(line for line in lines if line)


def _shown_tag(node: etree._Element) -> bool:
    """Whether a node's own text renders, by its name: elements do, comments, PIs and scripts do not."""
    return isinstance(node.tag, str) and node.tag not in _HIDDEN_TEXT


def _shown(node: etree._Element) -> bool:
    """:func:`_shown_tag`, and not hidden by the ``hidden`` attribute or an inline ``display: none``
    (what can be known without the style sheets). Only for a link's text: an XSLT template per
    attribute test made :func:`page_text` three to six times slower."""
    if not _shown_tag(node):
        return False
    attrib = node.attrib
    if not attrib:
        return True
    if "hidden" in attrib:
        return False
    style = attrib.get("style")
    return style is None or _DISPLAY_NONE not in style.translate(_STYLE_FOLD).lower()


def _text_forward(
    top: etree._Element, shown: Callable[[etree._Element], bool] = _shown, *, check_top: bool = True
) -> Iterator[str]:
    """The visible text inside ``top`` in document order, a space at each block boundary.

    ``top``'s own tail is left out. Iterative, because parsel parses with ``huge_tree`` and a
    malformed page can nest deeper than Python's recursion limit; lazy, so callers stop early.
    ``shown`` decides which elements count; ``check_top`` false reads ``top`` even if its
    attributes hide it.
    """
    if not (shown(top) if check_top else _shown_tag(top)):
        return
    if top.tag in _BLOCK:
        yield " "
    if top.text:
        yield top.text
    stack = [(top, iter(top))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if node.tag in _BLOCK:
                yield " "
            if stack and node.tail:
                yield node.tail
        elif shown(child):
            if child.tag in _BLOCK:
                yield " "
            if child.text:
                yield child.text
            stack.append((child, iter(child)))
        elif child.tail:
            yield child.tail


def _text_backward(top: etree._Element) -> Iterator[str]:
    """:func:`_text_forward` read from the end: the same pieces in reverse order."""
    if not _shown(top):
        return
    if top.tag in _BLOCK:
        yield " "
    stack = [(top, reversed(top))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if node.text:
                yield node.text
            if node.tag in _BLOCK:
                yield " "
            continue
        if child.tail:
            yield child.tail
        if _shown(child):
            if child.tag in _BLOCK:
                yield " "
            stack.append((child, reversed(child)))


def _text_before(link: etree._Element) -> Iterator[str]:
    """The visible text of the page body before ``link``, nearest first."""
    node = link
    while node.tag != "body":
        parent = node.getparent()
        if parent is None:
            return
        for sibling in node.itersiblings(preceding=True):
            if sibling.tail:
                yield sibling.tail
            yield from _text_backward(sibling)
        if parent.text:
            yield parent.text
        if parent.tag in _BLOCK:
            yield " "
        node = parent


def _text_after(link: etree._Element) -> Iterator[str]:
    """The visible text of the page body after ``link``, nearest first."""
    node = link
    while node.tag != "body":
        parent = node.getparent()
        if parent is None:
            return
        if node.tail:
            yield node.tail
        for sibling in node.itersiblings():
            yield from _text_forward(sibling)
            if sibling.tail:
                yield sibling.tail
        if parent.tag in _BLOCK:
            yield " "
        node = parent


def link_context(link: etree._Element, chars: int) -> tuple[str, str]:
    """About ``chars`` characters of visible text just before and just after ``link``, cut at words.

    Walks outwards from the link and stops as soon as it has enough, so the cost does not grow with
    the page. Script and style text is skipped; a link that is not rendered (inside ``<template>``
    or ``<noscript>``) has no context.
    """
    if any(ancestor.tag in _HIDDEN_TEXT for ancestor in link.iterancestors()):
        return "", ""
    before = _collect(_text_before(link), chars)
    after = _collect(_text_after(link), chars)
    return _last_words(_squash("".join(reversed(before))), chars), _first_words(_squash("".join(after)), chars)


def _collect(pieces: Iterable[str], chars: int) -> list[str]:
    """Take pieces until they hold more than ``chars`` non-space characters plus a word's slack."""
    taken: list[str] = []
    seen = 0
    for piece in pieces:
        taken.append(piece)
        seen += len(piece) - piece.count(" ") - piece.count("\n")
        if seen > chars + 1:
            break
    return taken


def _last_words(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    cut = text[-chars:]
    # Drop a word cut in half, unless the whole tail is one word.
    if text[-chars - 1] != " " and " " in cut:
        cut = cut.split(" ", 1)[1]
    return cut.strip()


def _first_words(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    cut = text[:chars]
    if text[chars] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.strip()
