"""Spider arguments fail fast with a message that names the fix."""

from __future__ import annotations

import pytest

from crawler.shell.args import VerifyArgs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, VerifyArgs()),
        ({"limit": "10"}, VerifyArgs(limit=10)),
        ({"all": "1"}, VerifyArgs(all=True)),
        ({"all": ""}, VerifyArgs(all=True)),
        ({"all": "0"}, VerifyArgs(all=False)),
        ({"tag": " client-a "}, VerifyArgs(tag="client-a")),
        ({"only": "lost,missing_unconfirmed"}, VerifyArgs(only=("lost", "missing_unconfirmed"))),
        ({"only": "unchecked"}, VerifyArgs(only=("unchecked",))),
        ({"limit": None, "tag": None}, VerifyArgs()),
    ],
)
def test_valid(raw: dict[str, object], expected: VerifyArgs) -> None:
    assert VerifyArgs.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"limit": "ten"}, "-a limit"),
        ({"limit": "0"}, "greater than or equal to 1"),
        ({"only": "gone"}, "unknown status 'gone'; choose from live"),
        ({"all": "maybe"}, "-a all"),
        ({"colour": "blue"}, "-a colour: unknown argument; use limit, tag, all, only"),
    ],
)
def test_invalid(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="bad spider argument") as info:
        VerifyArgs.parse(raw)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"run": "nightly-2026-11-26", "shard": "1", "shards": "3"}, VerifyArgs(run="nightly-2026-11-26", shard=1, shards=3)),
        ({"shard": "0", "shards": "1"}, VerifyArgs(shard=0, shards=1)),
    ],
)
def test_scale_out_arguments(raw: dict[str, object], expected: VerifyArgs) -> None:
    assert VerifyArgs.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"shard": "1"}, "give both shard and shards"),
        ({"shards": "2"}, "give both shard and shards"),
        ({"shard": "2", "shards": "2"}, "shard must be below shards: 0..1"),
        ({"shard": "-1", "shards": "2"}, "-a shard"),
        ({"run": "night 1"}, "-a run"),
        ({"run": ""}, "-a run"),
    ],
)
def test_bad_scale_out_arguments(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="bad spider argument") as info:
        VerifyArgs.parse(raw)
    assert message in str(info.value)
