"""The user's expectations of a backlink, and whether the links found meet them. Pure.

Written at import, checked on every live check (:func:`crawler.core.observe.expectation_mismatch`):

- anchor: the text exactly (case and spacing aside), ``contains:TEXT``, or ``regex:PATTERN``
  (Python syntax, searched case-insensitively);
- rel, a rule of words: ``follow`` (the link passes equity: no nofollow, sponsored or ugc, and no
  page-level nofollow), ``nofollow`` / ``sponsored`` / ``ugc`` (the token is there), ``not ugc``
  (it is not). Stored as sorted tokens, ``!`` for "not"; ``""`` is "follow", as the tool importers
  store a link their tool saw followed;
- landing page (``expected_target``): the link points to exactly this URL, not just to the site.

A paid link (tagged ``paid``, or with a cost) whose rel lacks ``sponsored`` is flagged too: search
engines ask for it on paid links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REL_WORDS = ("follow", "nofollow", "sponsored", "ugc")
FOLLOW_WORDS = frozenset({"follow", "followed", "dofollow"})  # how exports and users write "a followed link"
_NEGATIONS = ("not", "no", "!")
CONTAINS, REGEX = "contains:", "regex:"
PAID_TAG = "paid"  # the tag that marks a paid link (a cost does too)
MAX_PATTERN_CHARS = 500


class ExpectationError(ValueError):
    """An expectation that cannot be checked; the message names the field and the fix."""


def check_anchor_rule(rule: str) -> str:
    """``rule`` as stored, or :class:`ExpectationError` for a pattern that does not compile."""
    if rule.lower().startswith(REGEX):
        pattern = rule[len(REGEX):]
        if len(pattern) > MAX_PATTERN_CHARS:
            raise ExpectationError(f"expected_anchor: a pattern of more than {MAX_PATTERN_CHARS} characters")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ExpectationError(f"expected_anchor: {pattern!r} is not a valid regular expression: {exc}") from None
    return rule


def anchor_met(rule: str, anchors: Iterable[str]) -> bool:
    """Whether one of ``anchors`` (the matching links' texts) meets the anchor ``rule``."""
    texts = [" ".join(anchor.split()).casefold() for anchor in anchors]
    lowered = rule.lower()
    if lowered.startswith(REGEX):
        pattern = re.compile(rule[len(REGEX):], re.IGNORECASE)
        return any(pattern.search(text) for text in texts)
    if lowered.startswith(CONTAINS):
        wanted = " ".join(rule[len(CONTAINS):].split()).casefold()
        return any(wanted in text for text in texts)
    wanted = " ".join(rule.split()).casefold()
    return wanted in texts


def normalise_rel_rule(text: str) -> str:
    """``"Followed, not UGC"`` -> ``"!ugc follow"``; ``"follow"`` alone -> ``""``. Words other than
    :data:`REL_WORDS` (and their negations) are an :class:`ExpectationError`."""
    words = [w for w in re.split(r"[\s,]+", text.strip().lower()) if w]
    tokens: set[str] = set()
    negate = False
    for word in words:
        if word in _NEGATIONS:
            negate = True
            continue
        if word.startswith("!") and len(word) > 1:
            negate, word = True, word[1:]
        token = "follow" if word in FOLLOW_WORDS else word
        if token not in REL_WORDS:
            raise ExpectationError(
                f"expected_rel: {word!r} is not one of {', '.join(REL_WORDS)} (write 'not ugc' for a token that must be absent)"
            )
        tokens.add(f"!{token}" if negate else token)
        negate = False
    if negate:
        raise ExpectationError("expected_rel: 'not' must come before a word, as in 'not ugc'")
    if tokens == {"follow"}:
        return ""  # how every importer stores "a followed link"
    return " ".join(sorted(tokens))


def rel_met(rule: str, rel: Iterable[str], followed: bool) -> bool:
    """Whether a link with these ``rel`` tokens (``followed``: it passes equity) meets ``rule``."""
    tokens = set(rule.split())
    have = set(rel)
    if not tokens or "follow" in tokens:
        if not followed:
            return False
    required = {t for t in tokens if not t.startswith("!") and t != "follow"}
    forbidden = {t[1:] for t in tokens if t.startswith("!")}
    if "follow" in forbidden and followed:
        return False
    return required <= have and not (forbidden - {"follow"}) & have
