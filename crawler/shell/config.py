"""Checking the ``BACKLINKS_*`` settings before a crawl starts, with a message that names the fix.

A typo in ``-s BACKLINKS_BATCH_SIZE=1O`` or ``BACKLINKS_ALLOWED_NETWORKS=127.0.0.1/8,locahost``
would otherwise surface as a bare ``invalid literal for int()`` deep in a pipeline, after the run
was recorded, or not at all. The spider calls :func:`check_settings` first thing, before the
database is touched: it raises :class:`SettingsError` listing every problem.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from typing import Any

from scrapy.settings import BaseSettings
from sqlalchemy.engine import make_url

from crawler.core.guard import parse_networks
from crawler.core.render_policy import RenderMode
from crawler.shell.resolver import parse_rules
from crawler.core.robotstxt import check_product_token

logger = logging.getLogger(__name__)


class SettingsError(ValueError):
    """One or more settings are wrong; the message says which and how to fix them."""


def _whole(minimum: int) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = minimum - 1
        if isinstance(value, bool) or number < minimum:
            raise ValueError(f"must be a whole number of at least {minimum}")

    return check


def _number(minimum: float, *, strict: bool) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        try:
            number = float(str(value).strip())
        except ValueError:
            number = float("nan")
        if not (number > minimum or (number == minimum and not strict)) or number == float("inf"):
            raise ValueError(f"must be a number {'above' if strict else 'of at least'} {minimum:g}")

    return check


def _flag(value: Any) -> None:
    if str(value).strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off", "none", ""):
        raise ValueError("must be true or false (1 or 0)")


def _database(value: Any) -> None:
    try:
        make_url(str(value))
    except Exception:
        # The value may hold a password: never repeat it.
        raise ValueError("is not an SQLAlchemy URL such as sqlite:///backlinks.sqlite") from None


def _share(value: Any) -> None:
    _number(0, strict=True)(value)
    if float(str(value).strip()) > 1:
        raise ValueError("must be a share above 0 and at most 1 (e.g. 0.5)")


def _render_mode(value: Any) -> None:
    modes = [mode.value for mode in RenderMode]
    if str(value).strip().lower() not in modes:
        raise ValueError(f"must be one of {', '.join(modes)}")


CHECKS: dict[str, Callable[[Any], None]] = {
    "BACKLINKS_DATABASE_URL": _database,
    "BACKLINKS_BATCH_SIZE": _whole(1),
    "BACKLINKS_BATCH_SECONDS": _number(0, strict=True),
    "BACKLINKS_STORE_GRACE_SECONDS": _number(0, strict=False),
    "BACKLINKS_RECHECK_HOURS": _number(0, strict=False),
    "BACKLINKS_CONFIRM_MISSES": _whole(1),
    "BACKLINKS_START_CHUNK": _whole(1),
    "BACKLINKS_PROGRESS_SECONDS": _number(0, strict=True),
    "BACKLINKS_STRIP_TRACKING": _flag,
    "BACKLINKS_ALLOWED_NETWORKS": lambda value: parse_networks(value or ""),
    "BACKLINKS_RESOLVE": lambda value: parse_rules(value or ""),
    "BACKLINKS_DEGRADED_SHARE": _share,
    "BACKLINKS_LEASE_SECONDS": _number(0, strict=True),
    "BACKLINKS_CLAIM_DOMAINS": _whole(1),
    "BACKLINKS_CLAIM_POLL_SECONDS": _number(0, strict=True),
    "BACKLINKS_RENDER": _render_mode,
    "BACKLINKS_RENDER_CONCURRENCY": _whole(1),
    "BACKLINKS_RENDER_CONFIRM_MISSES": _flag,
    "BACKLINKS_RENDER_CONTEXT_PAGES": _whole(1),
    "BACKLINKS_RENDER_JS_HEAP_MB": _whole(0),
    "BACKLINKS_PARSE_WORKERS": _whole(1),
    "BACKLINKS_PARSE_SECONDS": _number(0, strict=True),
    "BACKLINKS_RENDER_MEMORY_DAYS": _number(0, strict=False),
    "BACKLINKS_RENDER_PAGE_IDLE": _number(0, strict=True),
    "BACKLINKS_RENDER_WAIT": _number(0, strict=False),
    # Scrapy's, but ours to choose: the robots.txt group that applies to us (crawler.core.robotstxt).
    "ROBOTSTXT_USER_AGENT": lambda value: check_product_token(str(value or "")),
}


def problems(settings: BaseSettings) -> list[str]:
    """Every wrong value among the ``BACKLINKS_*`` settings, one line each."""
    found = []
    for name, check in CHECKS.items():
        if name not in settings:
            continue
        value = settings[name]
        try:
            check(value)
        except (ValueError, TypeError) as exc:
            message = str(exc)
            if message.startswith(name):
                found.append(message)
            else:
                shown = "" if name == "BACKLINKS_DATABASE_URL" else f" (got {str(value)[:80]!r})"
                found.append(f"{name} {message}{shown}")
    return found


def unknown(settings: BaseSettings, known: set[str]) -> list[str]:
    """``BACKLINKS_*`` names the project does not define (a typo is otherwise silently ignored)."""
    found = []
    for name in sorted(n for n in settings if isinstance(n, str) and n.startswith("BACKLINKS_")):
        if name not in known and settings.getpriority(name) > 20:  # set on the command line or by Scrapyd
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            found.append(f"unknown setting {name}{hint}")
    return found


def project_setting_names() -> set[str]:
    import settings as project

    return {name for name in vars(project) if name.startswith("BACKLINKS_")}


def check_settings(settings: BaseSettings) -> None:
    """Raise :class:`SettingsError` listing every wrong ``BACKLINKS_*`` value; warn about unknown
    names (components set internal ones, so an unknown name is not an error)."""
    found = problems(settings)
    if found:
        raise SettingsError("bad settings:\n  " + "\n  ".join(found))
    for message in unknown(settings, project_setting_names()):
        logger.warning("%s", message)
