"""WHATWG's URL test data (web-platform-tests, vendored in tests/fixtures/wpt/ with its licence) as
the test of href resolution and host normalisation: every case whose base or input is http(s) must
resolve to WHATWG's href, or to one that is the same URL under our documented rules (normalise()),
and every case WHATWG fails must be refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.core.extract.links import _Resolver, resolve_href
from crawler.core.urls import normalise

DATA = json.loads((Path(__file__).parent / "fixtures" / "wpt" / "urltestdata.json").read_text(encoding="utf-8"))
WEB = ("http:", "https:")


def _web(text: str | None) -> bool:
    return text is not None and text.strip().lower().startswith(WEB)


def _cases(failure: bool) -> list[tuple[str, str, str | None]]:
    chosen = []
    for case in DATA:
        if not isinstance(case, dict) or "input" not in case:
            continue  # comments
        base = case.get("base") or "about:blank"
        if bool(case.get("failure")) != failure:
            continue
        if failure and not (_web(base) or _web(case["input"])):
            continue
        if not failure and not (_web(case["href"]) or _web(base)):
            continue
        chosen.append((case["input"], base, case.get("href")))
    return chosen


RESOLVES = _cases(failure=False)
FAILS = _cases(failure=True)


def _id(case: tuple[str, str, str | None]) -> str:
    return ascii(case[0])[1:-1][:60] + " @ " + case[1][:30]


def test_the_vendored_data_has_the_cases() -> None:
    assert len(RESOLVES) > 250 and len(FAILS) > 150


@pytest.mark.parametrize("case", RESOLVES, ids=_id)
def test_href_resolves_as_whatwg_does(case: tuple[str, str, str | None]) -> None:
    href, base, expected = case
    resolved = resolve_href(href, base)
    if not _web(expected):
        assert resolved is None  # a valid URL, but not a web page: not a link we report
        return
    assert resolved is not None
    assert normalise(resolved) == normalise(expected)


@pytest.mark.parametrize("case", FAILS, ids=_id)
def test_what_whatwg_fails_is_refused(case: tuple[str, str, str | None]) -> None:
    href, base, _ = case
    assert resolve_href(href, base) is None


@pytest.mark.parametrize("case", [c for c in RESOLVES if _web(c[1]) and _web(c[2])], ids=_id)
def test_the_quick_pass_over_a_pages_links_agrees(case: tuple[str, str, str | None]) -> None:
    """Link extraction decides which links to keep on a quicker resolution than
    :func:`resolve_href`: it must never lose a link a browser has, nor move it elsewhere."""
    href, base, expected = case
    quick = _Resolver(base)(href)
    assert quick is not None and normalise(quick) == normalise(expected or "")
