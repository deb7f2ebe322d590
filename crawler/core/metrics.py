"""The vendor metrics users pay for, kept from their exports: one registry of names and kinds, and
the parsing of the numbers and dates spreadsheets write in every locale. Pure.

A metric is a fact a tool reported about a referring page or domain on the day of its export
(Ahrefs' Domain Rating, Majestic's Trust Flow, ...). The crawler never computes one; it keeps the
last value each import gave, with its source and date (``pipelines.models.Metric``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MetricKind(StrEnum):
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    kind: MetricKind
    meaning: str


METRICS: dict[str, MetricSpec] = {
    "domain_rating": MetricSpec(MetricKind.NUMBER, "Ahrefs Domain Rating (DR) of the referring domain, 0-100"),
    "url_rating": MetricSpec(MetricKind.NUMBER, "Ahrefs URL Rating (UR) of the referring page, 0-100"),
    "domain_traffic": MetricSpec(MetricKind.NUMBER, "Ahrefs estimated monthly organic traffic of the referring domain"),
    "page_traffic": MetricSpec(MetricKind.NUMBER, "estimated monthly organic traffic of the referring page (Ahrefs)"),
    "referring_domains": MetricSpec(MetricKind.NUMBER, "referring domains of the referring page or domain, as the tool counts them"),
    "linked_domains": MetricSpec(MetricKind.NUMBER, "domains the referring page links to (Ahrefs)"),
    "external_links": MetricSpec(MetricKind.NUMBER, "external links on the referring page (Ahrefs, Semrush)"),
    "internal_links": MetricSpec(MetricKind.NUMBER, "internal links on the referring page (Semrush)"),
    "page_ascore": MetricSpec(MetricKind.NUMBER, "Semrush Authority Score of the referring page, 0-100"),
    "trust_flow": MetricSpec(MetricKind.NUMBER, "Majestic Trust Flow of the referring page, 0-100"),
    "citation_flow": MetricSpec(MetricKind.NUMBER, "Majestic Citation Flow of the referring page, 0-100"),
    "domain_authority": MetricSpec(MetricKind.NUMBER, "Moz Domain Authority of the referring domain, 1-100"),
    "page_authority": MetricSpec(MetricKind.NUMBER, "Moz Page Authority of the referring page, 1-100"),
    "spam_score": MetricSpec(MetricKind.NUMBER, "Moz Spam Score (as the export gives it: 0-17 flags or a percentage)"),
    "source_title": MetricSpec(MetricKind.TEXT, "the referring page's title, as the tool saw it"),
    "vendor_first_seen": MetricSpec(MetricKind.DATE, "when the tool first saw the link"),
    "vendor_last_seen": MetricSpec(MetricKind.DATE, "when the tool last saw the link"),
}

Value = float | str  # a NUMBER is a float; TEXT and DATE (ISO yyyy-mm-dd) are strings

_BLANK = frozenset({"", "-", "--", "n/a", "na", "null", "none", "—"})
_GROUPED = re.compile(r"\d{1,3}(?:[,.' \u00a0\u202f]\d{3})+")


class MetricError(ValueError):
    """A metric cell that is neither blank nor a value of its kind."""


def parse_metric(name: str, text: str | None) -> Value | None:
    """The value of metric ``name`` in a cell; None when the tool left it blank (``-``, ``n/a``)."""
    cell = (text or "").strip()
    if cell.casefold() in _BLANK:
        return None
    kind = METRICS[name].kind
    if kind is MetricKind.NUMBER:
        return parse_number(cell)
    if kind is MetricKind.DATE:
        return parse_date(cell)
    return cell


def parse_number(text: str) -> float:
    """A number as a spreadsheet in any locale writes it: ``1,204`` and ``1.204.000`` (grouped),
    ``0,5`` and ``0.5`` (decimal), ``1.234,5`` and ``1,234.5``, ``1 234``, ``45%``.

    One separator followed by exactly three digits is read as grouping when it is a comma
    (``1,204``: an English export) and as a decimal point when it is a dot (``1.204``): a three-
    decimal metric is rare either way, and this is what each locale's exports do most.
    """
    cell = text.strip().rstrip("%").strip()
    negative = cell.startswith(("-", "\u2212"))
    digits = cell[1:].strip() if cell[:1] in ("-", "\u2212", "+") else cell
    if not digits or not digits[0].isdigit():
        raise MetricError(f"{text!r} is not a number")
    if "," in digits and "." in digits:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
        digits = digits.replace("." if decimal == "," else ",", "").replace(decimal, ".")
    elif _GROUPED.fullmatch(digits) and not (digits.count(".") == 1 and "," not in digits and " " not in digits):
        digits = re.sub(r"[,.' \u00a0\u202f]", "", digits)
    else:
        digits = digits.replace(",", ".").replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    try:
        value = float(digits)
    except ValueError:
        raise MetricError(f"{text!r} is not a number") from None
    return -value if negative else value


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d", "%d %b %Y", "%b %d, %Y")


def parse_date(text: str) -> str:
    """An ISO day (``2024-03-01``) from the tools' and spreadsheets' spellings; a time is dropped.

    ``01/02/2024`` is read day first (every tool here writes ISO; a re-saved sheet outside the US
    writes day first): a US sheet should be re-saved with ISO dates.
    """
    cell = text.strip()
    try:
        return datetime.fromisoformat(cell.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    day = cell.split("T")[0].split(" ")[0] if re.match(r"\d{4}-\d\d-\d\d[ T]", cell) else cell
    for layout in _DATE_FORMATS:
        try:
            return datetime.strptime(day, layout).date().isoformat()
        except ValueError:
            continue
    raise MetricError(f"{text!r} is not a date")
