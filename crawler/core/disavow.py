"""Google's disavow file: reading one (to merge with, or to exclude from) and writing one.

The file (https://support.google.com/webmasters/answer/2648487) is UTF-8 text, one ``domain:host``
or URL per line, ``#`` comments; at most 100,000 lines and 2 MB. We write ASCII only (punycode hosts,
percent-encoded URLs) and never a URL over 2,048 characters: Search Console rejects the whole file
for one bad line. Which backlinks go in is the user's choice (a tag, a file, a domain), never a
status alone: a lost link is not a toxic one. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from crawler.core.urls import InvalidURL, href, normalise_host, registrable_domain

MAX_LINES = 100_000
MAX_BYTES = 2 * 1024 * 1024
MAX_URL_CHARS = 2048


class DisavowError(ValueError):
    """The file cannot be written within Google's limits, or one read is not a disavow file."""


@dataclass(frozen=True, slots=True)
class Listed:
    """What a disavow file (or an exclusion list) names: domains (disavowed with every subdomain) and URLs."""

    domains: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()

    def covers(self, url: str) -> bool:
        """Whether ``url`` is already named: itself, or its host or a parent domain of it."""
        if url in self.urls:
            return True
        host = _host(url)
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def covers_domain(self, domain: str) -> bool:
        return any(domain == d or domain.endswith("." + d) for d in self.domains)


def read_listed(text: str, *, source: str) -> tuple[Listed, list[str]]:
    """The domains and URLs of a disavow file or exclusion list, and its lines as they are (to keep
    them, comments included, when merging). A plain host counts as ``domain:host`` (exclusion lists
    are often written that way); anything else is a :class:`DisavowError` naming the line."""
    domains, urls, lines = set(), set(), []
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        lines.append(line)
        if not line or line.startswith("#"):
            continue
        try:
            if line.lower().startswith("domain:"):
                domains.add(_domain(line[len("domain:"):]))
            elif "://" in line:
                urls.add(href(line))
            else:
                domains.add(_domain(line))
        except InvalidURL as exc:
            raise DisavowError(f"{source}:{number}: {line[:80]!r}: {exc}") from None
    return Listed(frozenset(domains), frozenset(urls)), lines


def _domain(text: str) -> str:
    text = text.strip().rstrip("/")
    if not text or "/" in text:
        raise InvalidURL("expected a host, like example.com")
    return normalise_host(text)


def _host(url: str) -> str:
    return normalise_host(urlsplit(url).hostname or "")


@dataclass
class Disavow:
    """A disavow file being written, and what was left out of it (said to the user)."""

    lines: list[str] = field(default_factory=list)
    added: int = 0
    already: int = 0  # named by the merged file already
    excluded: int = 0
    too_long: list[str] = field(default_factory=list)  # URLs over MAX_URL_CHARS, left out

    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


def build(
    referring_urls: Iterable[str],
    *,
    domains: bool,
    reason: str,
    today: date,
    merge: Sequence[str] = (),
    merged: Listed = Listed(),
    exclude: Listed = Listed(),
) -> Disavow:
    """The disavow file for ``referring_urls`` (the user's selection): their registrable domains
    (``domains``) or the pages, after the lines of the file merged with, under one dated comment
    giving ``reason``; what the merged file or ``exclude`` names is left out."""
    result = Disavow(lines=list(merge))
    entries: dict[str, None] = {}
    for url in referring_urls:
        try:
            page = href(url)
        except InvalidURL:
            continue  # stored URLs were checked on import; one the browser refuses cannot be listed
        if exclude.covers(page):
            result.excluded += 1
            continue
        if domains:
            entry = registrable_domain(page)
            if exclude.covers_domain(entry):
                result.excluded += 1
            elif merged.covers_domain(entry):
                result.already += 1
            else:
                entries.setdefault(f"domain:{entry}")
            continue
        if merged.covers(page):
            result.already += 1
        elif len(page) > MAX_URL_CHARS:
            result.too_long.append(page)
        else:
            entries.setdefault(page)
    if entries:
        if result.lines and result.lines[-1]:
            result.lines.append("")
        result.lines.append(f"# {today.isoformat()}: {_comment(reason)}")
        result.lines.extend(entries)
        result.added = len(entries)
    _check_limits(result)
    return result


def _comment(reason: str) -> str:
    # One line, ASCII: a line break would end the comment and make the rest an entry.
    return "".join(c if " " <= c <= "~" else "?" for c in reason)


def _check_limits(result: Disavow) -> None:
    if len(result.lines) > MAX_LINES:
        raise DisavowError(
            f"{len(result.lines):,} lines, more than the {MAX_LINES:,} Google accepts: use --domains, or select fewer"
        )
    size = len(result.text().encode())
    if size > MAX_BYTES:
        raise DisavowError(f"{size:,} bytes, more than the 2 MB Google accepts: use --domains, or select fewer")
