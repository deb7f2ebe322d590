"""Unlinked brand mentions: a referring page that names the brand but no longer links to the site.

The cheapest link to win back is on a page that still talks about you (the seed's "reclaim"
advice). Only pages the crawl reads anyway are searched: the referring pages of known backlinks,
when their link is missing. Matching is on the page's visible text (never scripts, styles or
attributes), Unicode-aware (case folding, whole words), and a term inside a URL or a domain name
("exampleshop.com/widgets") is not a mention. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crawler.core.clean import storable

MAX_TERMS = 50
MAX_TERM_CHARS = 100
MAX_MENTIONS = 3  # sentences kept per page
SENTENCE_CHARS = 300

# A sentence ends at . ! ? (or their CJK forms) followed by space, or at a line break.
_SENTENCES = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+|\n+")
# URLs and domain names: a term inside one is the address, not a mention.
_ADDRESSES = re.compile(r"\S*(?:://|www\.)\S*|\S+\.[^\W\d_]{2,}(?:/\S*)?", re.UNICODE)


class BrandTermsError(ValueError):
    """Brand terms that cannot be searched for; the message names the fix."""


def parse_terms(text: str) -> tuple[str, ...]:
    """``"Example Shop, ExampleShop"`` -> ``("Example Shop", "ExampleShop")``: comma-separated."""
    terms = tuple(dict.fromkeys(" ".join(term.split()) for term in text.split(",") if term.strip()))
    if len(terms) > MAX_TERMS:
        raise BrandTermsError(f"{len(terms)} brand terms: at most {MAX_TERMS}")
    for term in terms:
        if len(term) > MAX_TERM_CHARS:
            raise BrandTermsError(f"brand term {term[:40]!r}...: at most {MAX_TERM_CHARS} characters")
        if not any(c.isalnum() for c in term):
            raise BrandTermsError(f"brand term {term!r}: needs a letter or a digit")
    return terms


def parse_tag_terms(text: str) -> dict[str, tuple[str, ...]]:
    """``"client-a=Acme, Acme Corp; client-b=Widgets Inc"`` -> each tag's terms: ``;`` between tags."""
    found: dict[str, tuple[str, ...]] = {}
    for part in filter(None, (part.strip() for part in text.split(";"))):
        tag, sep, terms = part.partition("=")
        if not sep or not tag.strip() or not terms.strip():
            raise BrandTermsError(f"{part[:60]!r} is not TAG=TERMS (e.g. client-a=Acme, Acme Corp)")
        found[tag.strip()] = tuple(dict.fromkeys((*found.get(tag.strip(), ()), *parse_terms(terms))))
    return found


@dataclass(frozen=True)
class Brands:
    """Whose names a page is searched for: the terms for every backlink (``BACKLINKS_BRAND_TERMS``)
    and those of a tag for its backlinks only (``BACKLINKS_BRAND_TERMS_BY_TAG``: an agency's clients)."""

    everywhere: tuple[str, ...] = ()
    by_tag: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a tuple: hashable, and cheap to send to a worker

    @classmethod
    def of(cls, everywhere: Iterable[str], by_tag: Mapping[str, Iterable[str]]) -> Brands:
        return cls(tuple(everywhere), tuple((tag, tuple(terms)) for tag, terms in by_tag.items()))

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(tag for tag, _ in self.by_tag)

    def terms(self, tags: Iterable[str]) -> tuple[str, ...]:
        """The terms for a backlink with ``tags``."""
        mine = set(tags)
        extra = [term for tag, terms in self.by_tag if tag in mine for term in terms]
        return tuple(dict.fromkeys((*self.everywhere, *extra)))

    def __bool__(self) -> bool:
        return bool(self.everywhere or self.by_tag)


def find_mentions(text: str, terms: Iterable[str]) -> list[str]:
    """The sentences of ``text`` (a page's visible text) that name one of ``terms``, at most
    :data:`MAX_MENTIONS`, each cut to :data:`SENTENCE_CHARS` around the first mention."""
    patterns = [_pattern(term) for term in terms]
    if not patterns:
        return []
    found = []
    for sentence in _SENTENCES.split(text):
        words = " ".join(sentence.split())
        searched = _ADDRESSES.sub(lambda m: " " * len(m.group()), words).casefold()
        hit = next((m for p in patterns if (m := p.search(searched))), None)
        if hit is None:
            continue
        found.append(storable(_around(words, hit.start()), SENTENCE_CHARS))
        if len(found) == MAX_MENTIONS:
            break
    return found


def _pattern(term: str) -> re.Pattern[str]:
    # Whole words on both sides; the term's own spaces match any run of spaces.
    body = r"\s+".join(re.escape(part.casefold()) for part in term.split())
    return re.compile(rf"(?<!\w){body}(?!\w)")


def _around(sentence: str, at: int) -> str:
    if len(sentence) <= SENTENCE_CHARS:
        return sentence
    start = max(0, min(at - SENTENCE_CHARS // 3, len(sentence) - SENTENCE_CHARS))
    return ("…" if start else "") + sentence[start:start + SENTENCE_CHARS - 2].strip() + "…"
