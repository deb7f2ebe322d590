"""Making text from pages, headers and import files storable, the same on every database. Pure.

PostgreSQL refuses NUL in text and in jsonb, both databases' drivers refuse lone surrogates (which
``surrogateescape`` decoding and JSON's ``"\\udc80"`` escapes produce), and a VARCHAR(255) refuses
a longer value; SQLite stores all of it as given. So every value is cleaned where it enters (the
pydantic models of :mod:`crawler.core.items`) and both databases store the same thing:

- C0 control characters are removed (in one-line values tab, CR and LF become a space);
- a lone surrogate becomes U+FFFD, the replacement character;
- a value longer than its limit is cut, and the cut is marked with :data:`CUT` (the result,
  mark included, is exactly ``limit`` characters long).

The limits, in characters, are documented in docs/reliability.md ("Bounded values").
"""

from __future__ import annotations

import re
from typing import Any

CUT = "\u2026"  # "…": marks a value cut at its limit

# Limits per kind of value (characters).
URL_CHARS = 4096  # hrefs, final URLs, canonicals, redirects (the disavow file's limit is 2,048)
REASON_CHARS = 255  # checks.reason / states.reason are VARCHAR(255); a Content-Type flows into it
TEXT_CHARS = 1000  # an anchor, an alt or title attribute, a page title, an expected anchor
CONTEXT_CHARS = 200  # text just before or after a link
SNIPPET_CHARS = 2000  # a link's outer HTML
TOKEN_CHARS = 255  # a rel value, a tag (backlink_tags.tag is VARCHAR(255)), a language
NOTES_CHARS = 10_000  # an imported backlink's notes
LINKS_KEPT = 50  # matching links kept per observation; link_count still counts them all

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f"
_SURROGATES = "\ud800-\udfff"
_BAD_TEXT = re.compile(f"[{_CONTROLS}{_SURROGATES}]")
_BAD_LINE = re.compile(f"[{_CONTROLS}\t\n\r{_SURROGATES}]")
_SURROGATE = re.compile(f"[{_SURROGATES}]")
_LINE_BREAKS = re.compile("[\t\n\r]")
_CONTROL = re.compile(f"[{_CONTROLS}]")


def storable(value: str, limit: int, *, multiline: bool = False) -> str:
    """``value`` without control characters or lone surrogates, at most ``limit`` characters."""
    if (_BAD_TEXT if multiline else _BAD_LINE).search(value) is not None:  # rare: the fast path skips it
        value = _SURROGATE.sub("\ufffd", _CONTROL.sub("", value))
        if not multiline:
            value = _LINE_BREAKS.sub(" ", value)
    return value if len(value) <= limit else value[: limit - len(CUT)] + CUT


def unstorable(value: str, limit: int, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored as it is (for imports, which refuse rather than alter), or None."""
    bad = (_BAD_TEXT if multiline else _BAD_LINE).search(value)
    if bad is not None:
        char = bad.group()
        kind = "lone surrogate" if _SURROGATE.match(char) else "control character"
        return f"{kind} U+{ord(char):04X} at character {bad.start() + 1}; remove it"
    if len(value) > limit:
        return f"{len(value):,} characters, more than the {limit:,} allowed"
    return None


# A model's text fields and their limits: (name, limit, multiline). A field may hold a string, None,
# or a list or tuple of strings (rel tokens, redirects).
Fields = tuple[tuple[str, int, bool], ...]


def storable_fields(data: Any, fields: Fields) -> Any:
    """``data`` (a model's input, as a dict) with the text of ``fields`` made :func:`storable`.

    Used as a ``mode="before"`` model validator: one call per model, and the input is copied only
    when a value needs cleaning, so the common clean case costs a regex search per field."""
    if not isinstance(data, dict):
        return data
    cleaned = None
    for name, limit, multiline in fields:
        value = data.get(name)
        if isinstance(value, str):
            new: Any = storable(value, limit, multiline=multiline)
        elif isinstance(value, (list, tuple)):
            new = type(value)(storable(v, limit, multiline=multiline) if isinstance(v, str) else v for v in value)
        else:
            continue
        if new != value:
            if cleaned is None:
                cleaned = dict(data)
            cleaned[name] = new
    return data if cleaned is None else cleaned
