"""Which robots.txt group applies to us: the one naming our product token (RFC 9309, 2.2.1).

RFC 9309 and Google match a group's ``User-agent`` line against the crawler's *product token*
(``BacklinksVerify``), case-insensitively, and read only the token at the start of the line
(``BacklinksVerify/2.0`` names us; Google's parser stops at the first character that is not a
letter, ``-`` or ``_``). Without a group of ours, the ``*`` group applies; without either, nothing is
disallowed.

Protego, Scrapy's parser, does the parsing and the rule matching (longest match, ``*`` and ``$``,
percent-encoding) and is kept for both. Its group selection is made for whole User-Agent headers:
a group applies when its name appears anywhere in the string, at the start of a word, and the
longest such name wins. Given ``Mozilla/5.0 (compatible; BacklinksVerify/0.1; +https://github.com/
backlinks-verify/...)``, groups named ``Mozilla``, ``compatible``, ``github`` or ``backlinks-verify``
applied to us; given the token alone, any group named by a prefix of it (``backlinks``) still did.
"""

from __future__ import annotations

import re

from protego import Protego

# RFC 9309's product token: identifier = 1*(%x2D / %x41-5A / %x5F / %x61-7A)
_IDENTIFIER = re.compile(r"[A-Za-z_-]+")
GLOBAL_GROUP = "*"


def check_product_token(value: str) -> None:
    """Raise ValueError unless ``value`` can name our group in a robots.txt (RFC 9309's identifier)."""
    if _IDENTIFIER.fullmatch(value) is None:
        raise ValueError(
            "must be our robots.txt product token: letters, '-' and '_' only, e.g. BacklinksVerify"
        )


def named_token(user_agent_line: str) -> str | None:
    """The product token a ``User-agent`` value names, lower-cased: its leading identifier
    (``googlebot`` for ``Googlebot/2.1``), ``*`` for the global group, None when it names none."""
    value = user_agent_line.strip()
    if value == GLOBAL_GROUP:
        return GLOBAL_GROUP
    match = _IDENTIFIER.match(value)
    return match.group().lower() if match else None


class ProductTokenRobots(Protego):
    """Protego with RFC 9309's group selection; ``user_agent`` arguments are product tokens."""

    # Overrides a private method of Protego 0.7 (pinned in pyproject.toml; its group selection is by
    # design, see the module docstring, so there is no upstream bug to wait for).
    # tests/test_robots.py fails if the method or the attribute it reads goes away.
    def _get_matching_rule_set(self, user_agent: str):  # type: ignore[no-untyped-def]
        token = user_agent.lower()
        groups = self._user_agents  # lower-cased User-agent value -> its rules, in file order
        if token in groups:
            return groups[token]
        # Another spelling of our token (``BacklinksVerify/2.0``). Google merges every group that
        # names the token; Protego keeps one per spelling, so the first one in the file is used.
        for name, rules in groups.items():
            if named_token(name) == token:
                return rules
        return groups.get(GLOBAL_GROUP)
