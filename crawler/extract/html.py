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


def _tables_back_into_links(root: etree._Element, text: str) -> None:
    candidates = _candidates(root)
    if not candidates:
        return
    # (href, table text) of every table an HTML5 parser puts directly inside a link, and whether
    # the link goes on after the table (then the text lxml left after the table is the link's).
    inside: dict[tuple[str | None, str], bool] = {}
    for node in LexborHTMLParser(text).css("a > table"):
        link = node.parent
        if link is not None:
            inside[(link.attributes.get("href"), _squash(node.text(deep=True)))] = node.next is not None
    for link, table in candidates:
        goes_on = inside.get((link.get("href"), _squash("".join(table.itertext()))))
        if goes_on is None:
            continue
        tail = table.tail
        link.append(table)  # moves the table, and its tail with it
        if not goes_on:
            table.tail = None
            link.tail = (link.tail or "") + (tail or "")


def _squash(text: str) -> str:
    return " ".join(text.split())
