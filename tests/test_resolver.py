"""Host mapping rules for simulated webs (BACKLINKS_RESOLVE)."""

from __future__ import annotations

import pytest

from crawler.core.hostmap import lookup, parse_rules


def test_parse_rules() -> None:
    assert parse_rules("") == ()
    assert parse_rules(" *.test = 127.0.0.1 ,Demo.Example=127.0.0.2,") == (
        ("*.test", "127.0.0.1"), ("demo.example", "127.0.0.2"),
    )


@pytest.mark.parametrize("spec", ["*.test", "=127.0.0.1", "*.test=", "a=b,c"])
def test_bad_rules_name_the_setting(spec: str) -> None:
    with pytest.raises(ValueError, match="BACKLINKS_RESOLVE rule"):
        parse_rules(spec)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("news.test", "127.0.0.1"),
        ("NEWS.TEST.", "127.0.0.1"),
        ("a.b.test", "127.0.0.1"),
        ("test", None),
        ("news.test.example.com", None),
        ("demo.example", "127.0.0.2"),
        ("www.demo.example", None),
    ],
)
def test_lookup(host: str, address: str | None) -> None:
    rules = parse_rules("*.test=127.0.0.1,demo.example=127.0.0.2")
    assert lookup(rules, host) == address
