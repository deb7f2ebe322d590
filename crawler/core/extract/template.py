"""A page's template fingerprint: what stays the same on every page built from one site theme. Pure.

Link farms (private blog networks) are often many domains on one theme: the same stylesheets and
the same class names in header, navigation, sidebar and footer, with different words. The
fingerprint hashes exactly that and nothing the content changes: the stylesheet paths (no host, no
query, so ``?ver=`` and CDNs do not matter) and the class names used in the template regions, each
once (so a longer menu is the same template). A page with too little of either (no stylesheet and
fewer than :data:`MIN_CLASSES` template classes) has no fingerprint: bare markup says nothing about
who built it.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from lxml import etree

from crawler.core.extract.links import resolve_href

_REGIONS = ("header", "nav", "aside", "footer")
MIN_CLASSES = 3
DIGITS = 16  # hex digits kept: a fingerprint to group by, not a security hash


def template_fingerprint(document: etree._Element | None, page_url: str) -> str | None:
    if document is None:
        return None
    sheets = sorted(set(_stylesheet_paths(document, page_url)))
    classes = sorted(_template_classes(document))
    if not sheets and len(classes) < MIN_CLASSES:
        return None
    material = "\n".join(["sheets", *sheets, "classes", *classes])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:DIGITS]


def _stylesheet_paths(document: etree._Element, page_url: str) -> list[str]:
    paths = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        href = link.get("href")
        if "stylesheet" in rel and href:
            url = resolve_href(href.strip(), page_url)
            if url is not None:
                paths.append(urlsplit(url).path.lower())
    return paths


def _template_classes(document: etree._Element) -> set[str]:
    classes: set[str] = set()
    for region in _REGIONS:
        for top in document.iter(region):
            for element in top.iter():
                if isinstance(element.tag, str):
                    classes.update(f"{element.tag}.{name}" for name in (element.get("class") or "").split())
    return classes
