"""What an export or a list of changes covers: one scope, meaning the same on every ``export --what``
and on ``changes``, so that a report for one client never carries another client's rows.

Built from what a user typed (:func:`build_scope`), checked and normalised here, once; the database
layer applies it (:mod:`pipelines.queries`). Pure.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from crawler.core.changes import EventKind
from crawler.core.urls import InvalidURL, normalise, registrable_domain


class ScopeError(ValueError):
    """A filter that is malformed, or that cannot apply to what is asked for; the message names the fix."""


class Scope(BaseModel):
    """Every filter is optional; the rows kept are those that pass them all."""

    model_config = ConfigDict(frozen=True)

    tag: str | None = None
    # current: backlinks last checked since then; checks: checked since; events: happened since.
    since: datetime | None = None
    # current: backlinks whose last check was in this run; checks and events: of this run.
    run: int | None = None
    referring_domain: str | None = None  # registrable domain, as backlinks.domain holds it
    target_url: str | None = None  # normalised, as backlinks.target_key holds it
    target_domain: str | None = None  # registrable domain of the target
    kinds: tuple[EventKind, ...] = ()  # events only

    def require_no_kinds(self, what: str) -> None:
        if self.kinds:
            raise ScopeError(f"--kind applies to events only, not to {what}: drop it or use --what events")

    def require_no_run(self, what: str) -> None:
        if self.run is not None:
            raise ScopeError(f"--run does not apply to {what}: each day carries every run until then; use --since")


def build_scope(
    *,
    tag: str | None = None,
    since: datetime | None = None,
    run: int | None = None,
    referring_domain: str | None = None,
    target: str | None = None,
    kinds: tuple[str, ...] = (),
) -> Scope:
    """The scope a user asked for. ``target`` is a URL (that exact target, as imports normalise it)
    or a domain (every target on its registrable domain)."""
    values: dict[str, object] = {"tag": tag or None, "since": since, "run": run, "kinds": _kinds(kinds)}
    if referring_domain:
        values["referring_domain"] = _domain("--referring-domain", referring_domain)
    if target:
        if "://" in target:
            try:
                values["target_url"] = normalise(target)
            except InvalidURL as exc:
                raise ScopeError(f"--target {target!r}: {exc}") from None
        else:
            values["target_domain"] = _domain("--target", target)
    return Scope.model_validate(values)


def _domain(option: str, text: str) -> str:
    if "/" in text:
        raise ScopeError(f"{option} {text!r}: give a domain (example.com) or, for --target, a full URL")
    try:
        return registrable_domain(text.strip())
    except InvalidURL as exc:
        raise ScopeError(f"{option} {text!r}: {exc}") from None


def _kinds(names: tuple[str, ...]) -> tuple[EventKind, ...]:
    known = {kind.value: kind for kind in EventKind}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ScopeError(f"unknown event kind {', '.join(map(repr, unknown))}: choose from {', '.join(known)}")
    return tuple(dict.fromkeys(known[name] for name in names))


def target_in_domain(target_key: str, domain: str) -> bool:
    """Whether the target URL ``target_key`` is on the registrable ``domain``."""
    try:
        return registrable_domain(target_key) == domain
    except InvalidURL:
        return False
