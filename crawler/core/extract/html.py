"""Parse a page into the tree a browser builds, as far as links are concerned.

lxml (libxml2) parses fast but does not follow the HTML standard's tree building everywhere. The
two differences that change which links a page has, or their anchors, are undone here, on lxml's
tree, so extraction keeps lxml's speed (an HTML5 tree builder handing lxml trees over costs ~2.7x
lxml's parse, see docs/parsing.md):

- ``<template>`` content is not part of the document (it lives in a separate fragment): a link,
  a meta robots or a canonical in a template is not the page's. lxml keeps it as ordinary children.
- ``<a><table>...</table></a>``: lxml closes the link at the table's start tag, leaving an empty
  anchor next to the table. Where the tree shows that shape, selectolax (lexbor, an HTML5 parser)
  is asked whether the table really was inside the link; only then is it moved back in. Pages
  without the shape pay nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import parsel
from lxml import etree
from selectolax.lexbor import LexborHTMLParser


def parse_html(text: str) -> parsel.Selector:
    """A :class:`parsel.Selector` over ``text`` whose tree is the browser's in the ways above."""
    sel = parsel.Selector(text=text, type="html")
    root = sel.root
    if isinstance(root, etree._Element):
        _empty_templates(root)
        _tables_back_into_links(root, text)
    return sel


def _empty_templates(root: etree._Element) -> None:
    for template in list(root.iter("template")):
        for child in list(template):
            template.remove(child)  # also drops the child's tail, which is template content too
        template.text = None


def _candidates(root: etree._Element) -> list[tuple[etree._Element, etree._Element]]:
    """Links directly followed by a table, nothing but whitespace between: what lxml leaves of
    ``<a ...>...<table>``, and also what a link closed before a table looks like."""
    found = []
    for table in root.iter("table"):
        link = table.getprevious()
        if link is not None and link.tag == "a" and not (link.tail or "").strip():
            found.append((link, table))
    return found


# A page with more links right before tables than this is not repaired (table-layout pages put an
# image link before many tables; a hostile page nests thousands): it bounds the work per page.
MAX_REPAIRS = 50
_KEY_CHARS = 64  # the start of a table's text, enough to tell tables apart
_KEY_NODES = 200  # nodes read at most to find it, so deeply nested tables cost no more


def _tables_back_into_links(root: etree._Element, text: str) -> None:
    candidates = _candidates(root)
    if not candidates or len(candidates) > MAX_REPAIRS:
        return
    inside = _tables_inside_links(text)
    if not inside:
        return
    for link, table in candidates:
        goes_on = inside.get((link.get("href"), _prefix(table.itertext())))
        if goes_on is None:
            continue
        tail = table.tail
        link.append(table)  # moves the table, and its tail with it
        if not goes_on:
            table.tail = None
            link.tail = (link.tail or "") + (tail or "")


def _tables_inside_links(text: str) -> dict[tuple[str | None, str], bool]:
    """(href, start of the table's text) of every table an HTML5 parser puts directly inside a
    link, and whether the link goes on after the table (then the text lxml left after the table
    is the link's)."""
    found = LexborHTMLParser(text).css("a > table")
    if len(found) > MAX_REPAIRS:
        return {}
    inside = {}
    for node in found:
        link = node.parent
        if link is not None:
            pieces = (n.text_content or "" for n in islice(node.traverse(include_text=True), _KEY_NODES) if n.tag == "-text")
            inside[(link.attributes.get("href"), _prefix(pieces))] = node.next is not None
    return inside


def _prefix(pieces: Iterable[str]) -> str:
    """The first ``_KEY_CHARS`` characters of the whitespace-normalised text, reading no more
    pieces than needed (the two parsers split whitespace differently, so squash before cutting)."""
    taken = []
    size = 0
    for piece in pieces:
        taken.append(piece)
        size += len(piece) - sum(c.isspace() for c in piece)
        if size > _KEY_CHARS:
            break
    return _squash("".join(taken))[:_KEY_CHARS]


def _squash(text: str) -> str:
    return " ".join(text.split())
