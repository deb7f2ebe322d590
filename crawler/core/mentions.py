"""Unlinked brand mentions: a referring page that names the brand but no longer links to the site.

The cheapest link to win back is on a page that still talks about you (the seed's "reclaim"
advice). Only pages the crawl reads anyway are searched: the referring pages of known backlinks,
when their link is missing. Matching is on the page's visible text (never scripts, styles or
attributes), Unicode-aware (case folding, whole words), and a term inside a URL or a domain name
("exampleshop.com/widgets") is not a mention. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
