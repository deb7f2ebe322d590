"""What every importer shares: the row type, the two kinds of error, and field conversions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from crawler.core.items import BacklinkIn, MatchMode
from crawler.core.urls import InvalidURL, check_url, site_url


class ImportFormatError(ValueError):
    """The whole file cannot be imported; the message says what to do instead."""


class RowError(ValueError):
    """One row cannot be imported; the message is short and names the field."""


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One row of an import file: a backlink, or the reason the row was rejected.

    ``line`` is the 1-based physical line where the row starts. Exactly one of ``backlink`` and
    ``error`` is set. ``error`` carries no line number; ``str(row)`` gives ``"line 7: <error>"``.
    """

    line: int
    backlink: BacklinkIn | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.backlink is None) == (self.error is None):
            raise ValueError("ImportRow needs exactly one of backlink and error")

    def __str__(self) -> str:
        return f"line {self.line}: {self.error}" if self.error else f"line {self.line}: ok"


@dataclass(frozen=True, slots=True)
class Options:
    """The caller's overrides, applied to every row of every format."""

    target: str | None = None  # already checked with check_url
    match: MatchMode | None = None


# A bound row converter: cells of one record in, a backlink out, RowError when the row is bad.
Convert = Callable[[Sequence[str]], BacklinkIn]

REL_TOKENS = ("nofollow", "sponsored", "ugc")  # the rel values that withhold equity, sorted


def field_url(field: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise RowError(f"{field}: missing")
    try:
        return _valid_url(value)
    except InvalidURL as exc:
        raise RowError(f"{field}: {exc}") from None


# Exports repeat a handful of target URLs on every row; checking each once halves the import time.
_valid_url = lru_cache(maxsize=4096)(check_url)
_valid_site = lru_cache(maxsize=4096)(site_url)


def field_target(value: str | None, match: MatchMode) -> str:
    """The target URL of a row; with ``match=domain`` a bare host (``example.com``) will do."""
    if match is not MatchMode.DOMAIN:
        try:
            return field_url("target_url", value)
        except RowError as exc:
            if "not an absolute URL" in str(exc):
                raise RowError(f"{exc} (a bare host will do with match=domain)") from None
            raise
    if value is None or not value.strip():
        raise RowError("target_url: missing")
    try:
        return _valid_site(value)
    except InvalidURL as exc:
        raise RowError(f"target_url: {exc}") from None


def optional_text(value: str | None) -> str | None:
    """Empty cells mean "not given", never an expectation of empty text."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_match(value: str | None) -> MatchMode | None:
    text = optional_text(value)
    if text is None:
        return None
    try:
        return MatchMode(text.lower())
    except ValueError:
        allowed = ", ".join(m.value for m in MatchMode)
        raise RowError(f"match: {text!r} is not one of {allowed}") from None


# Excel writes its booleans in the user's language when a sheet is re-saved as CSV: a Semrush export
# re-saved in German says WAHR/FALSCH. Compared case-folded.
_TRUE = frozenset({
    "true", "1", "yes", "y",
    "wahr", "vrai", "verdadero", "vero", "waar", "verdadeiro", "sant", "sand", "sann", "tosi", "prawda",
    "pravda", "igaz", "doğru", "истина", "ja", "oui", "sí", "si", "sim",
})
_FALSE = frozenset({
    "false", "0", "no", "n",
    "falsch", "faux", "falso", "onwaar", "falskt", "falsk", "usann", "epätosi", "fałsz", "nepravda",
    "hamis", "yanlış", "yanliş", "ложь", "nein", "non", "não", "nej", "nee",
})


def parse_flag(field: str, value: str | None) -> bool | None:
    """A tool's boolean cell; empty means the tool did not say."""
    text = (value or "").strip().casefold()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(f"{field}: expected true/false or 1/0, got {value!r}")


def rel_from_flags(flags: Iterable[tuple[str, bool | None]]) -> str | None:
    """Turn per-token booleans into an ``expected_rel``.

    ``"nofollow sponsored"`` lists the true tokens in sorted order, ``""`` means the tool saw a
    followed link (no equity-withholding token), ``None`` means the tool said nothing at all.
    """
    flags = list(flags)
    if all(value is None for _, value in flags):
        return None
    return " ".join(sorted(token for token, value in flags if value))


def make_backlink(
    fmt: str,
    options: Options,
    *,
    referring_url: str | None,
    target_url: str | None = None,
    match: MatchMode | None = None,
    expected_anchor: str | None = None,
    expected_rel: str | None = None,
    expected_target: str | None = None,
    tags: Sequence[str] = (),
    notes: str | None = None,
    metrics: dict[str, float | str] | None = None,
    placement: dict[str, object] | None = None,
) -> BacklinkIn:
    referring = field_url("referring_url", referring_url)
    mode = options.match or match or MatchMode.EXACT
    target = options.target if options.target is not None else field_target(target_url, mode)
    return BacklinkIn(
        referring_url=referring,
        target_url=target,
        match=mode,
        expected_anchor=optional_text(expected_anchor),
        expected_rel=expected_rel,
        expected_target=expected_target,
        tags=list(tags),
        notes=optional_text(notes),
        source=fmt,
        metrics=metrics or {},
        **(placement or {}),
    )
