"""Host mapping rules (``BACKLINKS_RESOLVE``): chosen host patterns get fixed addresses. Pure.

Simulated webs (demo, tests, benchmarks) serve thousands of fake ``*.test`` hosts from one loopback
server. The plain handler's resolver (:mod:`crawler.shell.resolver`) and the browser's proxy
(:mod:`crawler.shell.render.proxy`) both map names by these rules; the settings check
(:mod:`crawler.shell.config`) parses them before a crawl starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

NXDOMAIN = "!"  # the address of a rule whose hosts do not exist


def parse_rules(spec: str) -> tuple[tuple[str, str], ...]:
    """``"*.test=127.0.0.1, demo.example=127.0.0.2, dead.test=!"`` -> ((pattern, address), ...)."""
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        pattern, sep, address = part.partition("=")
        if not sep or not pattern.strip() or not address.strip():
            raise ValueError(f"BACKLINKS_RESOLVE rule {part!r} is not PATTERN=ADDRESS")
        rules.append((pattern.strip().lower(), address.strip()))
    return tuple(rules)


def lookup(rules: Sequence[tuple[str, str]], host: str) -> str | None:
    host = host.lower().rstrip(".")
    return next((address for pattern, address in rules if fnmatchcase(host, pattern)), None)
