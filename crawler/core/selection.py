"""Which known backlinks an inventory command (``list``, ``show``, ``tag``, ``delete``) acts on.

A selection is what the user typed, checked and normalised once: the export filters (a
:class:`~crawler.core.scope.Scope`), referring-page or target URLs, the backlinks of an import file,
statuses. A command that changes or removes backlinks refuses an empty selection: "delete" with a
mistyped option must never mean "delete everything". Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from crawler.core.clean import TOKEN_CHARS, unstorable
from crawler.core.outcome import Status
from crawler.core.scope import Scope, ScopeError
from crawler.core.urls import InvalidURL, normalise

UNCHECKED = "unchecked"  # the status `status` and `list` give a backlink never checked yet
STATUSES = (*(status.value for status in Status), UNCHECKED)


class Selection(BaseModel):
    """Every part is optional; the backlinks kept are those that pass them all."""

    model_config = ConfigDict(frozen=True)

    scope: Scope = Scope()
    # Normalised URLs: the backlinks whose referring page, or whose target, is one of them.
    urls: tuple[str, ...] = ()
    # From an import file: (normalised referring URL, normalised target URL) of each of its rows.
    pairs: frozenset[tuple[str, str]] | None = None
    statuses: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing narrows it: it would select every backlink."""
        scope = self.scope
        return not (
            self.urls or self.pairs is not None or self.statuses
            or scope.tag or scope.referring_domain or scope.target_url or scope.target_domain
        )


def build_selection(
    *,
    scope: Scope = Scope(),
    urls: Iterable[str] = (),
    pairs: Iterable[tuple[str, str]] | None = None,
    statuses: Iterable[str] = (),
) -> Selection:
    """The selection a user asked for; a malformed URL or an unknown status is a :class:`ScopeError`."""
    if scope.since or scope.run or scope.kinds:
        raise ScopeError("select backlinks by --tag, --referring-domain, --target, --url, --file or --status")
    checked_urls = []
    for url in urls:
        try:
            checked_urls.append(normalise(url.strip()))
        except InvalidURL as exc:
            raise ScopeError(f"--url {url!r}: {exc}") from None
    unknown = [status for status in statuses if status not in STATUSES]
    if unknown:
        raise ScopeError(f"unknown status {', '.join(map(repr, unknown))}: choose from {', '.join(STATUSES)}")
    return Selection(
        scope=scope,
        urls=tuple(dict.fromkeys(checked_urls)),
        pairs=frozenset(pairs) if pairs is not None else None,
        statuses=tuple(dict.fromkeys(statuses)),
    )


def check_tag(tag: str) -> str:
    """``tag`` as it is stored (stripped), or a :class:`ScopeError`: the import's rule for tags."""
    tag = tag.strip()
    if not tag:
        raise ScopeError("a tag cannot be empty")
    if "|" in tag or ";" in tag:  # our CSV's tag separators: the tag could not be imported back
        raise ScopeError(f"tag {tag!r}: | and ; separate tags in our CSV; choose another character")
    problem = unstorable(tag, TOKEN_CHARS)
    if problem is not None:
        raise ScopeError(f"tag: {problem}")
    return tag
