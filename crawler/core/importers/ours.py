"""Our own import format, as CSV (``csv``) or as JSON / JSON Lines (``json``).

Columns (or keys): ``referring_url``, ``target_url``, ``match`` (exact|prefix|domain), and optionally
``expected_anchor`` (text, ``contains:TEXT`` or ``regex:PATTERN``), ``expected_rel`` (a rule such as
``follow, not ugc``), ``expected_target`` (the landing page), ``tags`` (``|`` or ``;`` separated, or a
JSON list), ``notes``, and a placed link's ``cost``, ``currency``, ``placed_on``, ``expires_on``.
The rules are checked and normalised by :mod:`crawler.core.expect`; ``follow`` alone is stored as
``""``, the same value the tool importers use for a followed link.
"""

from __future__ import annotations

import json
import re
from datetime import date
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from crawler.core.importers.base import (
    Convert,
    ImportRow,
    Options,
    RowError,
    field_url,
    make_backlink,
    parse_match,
)
from crawler.core.importers.header import Sample, check_width, normalise
from crawler.core.importers.text import (
    Head,
    numbered_lines,
    open_text,
    too_long_message,
    undecodable,
    undecodable_message,
)
from crawler.core.expect import ExpectationError, check_anchor_rule, normalise_rel_rule
from crawler.core.items import BacklinkIn
from crawler.core.metrics import MetricError, parse_date, parse_number

NAME = "csv"
JSON_NAME = "json"
FIELDS = (
    "referring_url", "target_url", "match", "expected_anchor", "expected_rel", "expected_target", "tags", "notes",
    # A placed or paid link: what it cost, when it went live, until when it is paid for.
    "cost", "currency", "placed_on", "expires_on",
)
_KEYS = {normalise(f): f for f in FIELDS}  # "referring url" -> "referring_url"

_TAG_SEPARATORS = re.compile(r"[|;]")

JSON_CHUNK_CHARS = 64 * 1024
MAX_JSON_OBJECT_CHARS = 1024 * 1024


def recognises(sample: Sample) -> bool:
    return sample.header.has("referring url")


def bind(sample: Sample, options: Options) -> Convert:
    header = sample.header
    columns = {field: header.find(normalise(field)) for field in FIELDS}
    header.require(NAME, "referring url")
    if options.target is None:
        header.require(NAME, "target url")
    present = [(field, i) for field, i in columns.items() if i is not None]

    def convert(cells: Sequence[str]) -> BacklinkIn:
        cells = check_width(cells, header)
        return from_fields(NAME, {field: cells[i] for field, i in present}, options)

    return convert


def from_fields(fmt: str, fields: Mapping[str, object], options: Options) -> BacklinkIn:
    """Build a backlink from our field names; values are strings, or a list for ``tags``."""
    text = {field: _string(field, fields.get(field)) for field in FIELDS if field != "tags"}
    return make_backlink(
        fmt,
        options,
        referring_url=text["referring_url"],
        target_url=text["target_url"],
        match=parse_match(text["match"]),
        expected_anchor=_anchor(text["expected_anchor"]),
        expected_rel=_rel(text["expected_rel"]),
        expected_target=_landing(text["expected_target"]),
        tags=_tags(fields.get("tags")),
        notes=text["notes"],
        placement=_placement(text),
    )


_CURRENCY = re.compile(r"[A-Z]{3}")


def _placement(text: Mapping[str, str | None]) -> dict[str, object]:
    """``cost``, ``currency``, ``placed_on``, ``expires_on``: the blank ones left out."""
    found: dict[str, object] = {}
    for name, parse in (("cost", parse_number), ("placed_on", _day), ("expires_on", _day)):
        if (value := (text[name] or "").strip()):
            try:
                found[name] = parse(value)
            except MetricError as exc:
                raise RowError(f"{name}: {exc}") from None
    if (currency := (text["currency"] or "").strip().upper()):
        if not _CURRENCY.fullmatch(currency):
            raise RowError(f"currency: {text['currency']!r} is not an ISO 4217 code like EUR or USD")
        found["currency"] = currency
    placed, expires = found.get("placed_on"), found.get("expires_on")
    if isinstance(placed, date) and isinstance(expires, date) and expires < placed:
        raise RowError("expires_on: before placed_on")
    return found


def _day(text: str) -> date:
    return date.fromisoformat(parse_date(text))


def _string(field: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if field == "cost" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # JSON gives a number
    raise RowError(f"{field}: expected a string, got {type(value).__name__}")


def _tags(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = _TAG_SEPARATORS.split(value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = value
    else:
        raise RowError("tags: expected text or a list of strings")
    return [tag for tag in (p.strip() for p in parts) if tag]


def _rel(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalise_rel_rule(value)
    except ExpectationError as exc:
        raise RowError(str(exc)) from None


def _anchor(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return check_anchor_rule(value.strip())
    except ExpectationError as exc:
        raise RowError(str(exc)) from None


def _landing(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return field_url("expected_target", value)


def read_json(path: Path, head: Head, options: Options) -> Iterator[ImportRow]:
    """A JSON array of objects, or JSON Lines; both are read incrementally."""
    is_array = head.text.lstrip("\ufeff \t\r\n").startswith("[")
    with open_text(path, head.encoding) as stream:
        read = _array_items if is_array else _jsonl_items
        items = read(stream, undecodable_message(head.encoding))
        for line, item, error in items:
            if error is None:
                try:
                    yield ImportRow(line, backlink=_from_object(item, options))
                except RowError as exc:
                    yield ImportRow(line, error=str(exc))
            else:
                yield ImportRow(line, error=error)


def _from_object(item: object, options: Options) -> BacklinkIn:
    if not isinstance(item, dict):
        raise RowError(f"expected a JSON object, got {type(item).__name__}")
    fields = {_KEYS[k]: v for key, v in item.items() if (k := normalise(str(key))) in _KEYS}
    for field, value in fields.items():
        if isinstance(value, str) and undecodable(value):
            # A "\\udc80" escape decodes to a lone surrogate, which no database can store.
            raise RowError(f"{field}: invalid character (lone surrogate)")
    return from_fields(JSON_NAME, fields, options)


def _jsonl_items(stream: TextIO, bad_bytes: str) -> Iterator[tuple[int, object, str | None]]:
    """``(line, item, error)`` per non-blank line; ``bad_bytes`` is the error for undecodable bytes."""
    for line, text in numbered_lines(stream):
        if text is None:
            yield line, None, too_long_message()
        elif text.strip():
            if undecodable(text):
                yield line, None, bad_bytes
                continue
            try:
                yield line, json.loads(text), None
            except json.JSONDecodeError as exc:
                yield line, None, f"invalid JSON: {exc.msg}"


def _array_items(stream: TextIO, bad_bytes: str) -> Iterator[tuple[int, object, str | None]]:
    """Like :func:`_jsonl_items`, for the elements of a top-level JSON array, read chunk by chunk.

    After a syntax error the array cannot be re-synchronised, so the error ends the file.
    """
    decoder = json.JSONDecoder()
    buf, pos, line, eof = "", 0, 1, False
    expecting = "["

    def more() -> bool:
        nonlocal buf, pos, eof
        chunk = "" if eof else stream.read(JSON_CHUNK_CHARS)
        eof = not chunk
        buf, pos = buf[pos:] + chunk, 0  # compacting here keeps the buffer near one chunk
        return bool(chunk)

    while True:
        while pos < len(buf) and buf[pos] in " \t\r\n\ufeff":
            line += buf[pos] == "\n"
            pos += 1
        if pos == len(buf):
            if more():
                continue
            if expecting != "end":
                yield line, None, "invalid JSON: the array is not closed"
            return
        char = buf[pos]
        if expecting == "[":
            if char != "[":
                yield line, None, "invalid JSON: expected '['"
                return
            pos, expecting = pos + 1, "value or ]"
        elif expecting == "end":
            yield line, None, "invalid JSON: text after the closing ']'"
            return
        elif char == "]" and expecting != "value":
            pos, expecting = pos + 1, "end"
        elif char == "," and expecting == ", or ]":
            pos, expecting = pos + 1, "value"
        elif expecting == ", or ]":
            yield line, None, "invalid JSON: expected ',' or ']'"
            return
        else:
            try:
                # A number cut by the chunk's end decodes short; it is an error row either way,
                # since elements must be objects, and an object cut short fails to decode.
                item, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if len(buf) - pos < MAX_JSON_OBJECT_CHARS and more():
                    continue  # the element may just be cut at the chunk's end
                yield line, None, f"invalid JSON: {exc.msg}"
                return
            yield (line, None, bad_bytes) if undecodable(buf[pos:end]) else (line, item, None)
            line += buf.count("\n", pos, end)
            pos, expecting = end, ", or ]"
