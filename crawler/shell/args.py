"""Spider arguments of `scrapy crawl verify`, validated at the boundary with a message that names the fix."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crawler.core.outcome import Status
from crawler.core.render_policy import RenderMode

ONLY_CHOICES = tuple(s.value for s in Status) + ("unchecked",)


class ArgumentError(ValueError):
    """A bad `-a name=value`; the message names each problem and the fix."""


class VerifyArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int | None = Field(default=None, ge=1)  # stop after this many backlinks (whole pages)
    tag: str | None = None
    all: bool = False  # re-check everything now, due or not
    only: tuple[str, ...] = ()
    render: RenderMode | None = None  # never | auto | always; None: the BACKLINKS_RENDER setting
    # Scale-out (docs/production.md): processes given the same run key share one run and split its
    # referring domains; shard/shards restrict this process to crc32(domain) % shards == shard.
    run: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
    shard: int | None = Field(default=None, ge=0)
    shards: int | None = Field(default=None, ge=1)

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("only", mode="before")
    @classmethod
    def _only(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(v.strip() for v in value.split(",") if v.strip())
        for item in value:  # type: ignore[union-attr]
            if item not in ONLY_CHOICES:
                raise ValueError(f"unknown status {item!r}; choose from {', '.join(ONLY_CHOICES)}")
        return value

    @model_validator(mode="after")
    def _shard(self) -> VerifyArgs:
        if (self.shard is None) != (self.shards is None):
            raise ValueError("give both shard and shards (e.g. -a shard=0 -a shards=4), or neither")
        if self.shard is not None and self.shards is not None and self.shard >= self.shards:
            raise ValueError(f"shard must be below shards: 0..{self.shards - 1}")
        return self

    @classmethod
    def parse(cls, raw: dict[str, object]) -> VerifyArgs:
        """Validate `-a name=value` strings; raise :class:`ArgumentError` naming every problem."""
        given = {k: v for k, v in raw.items() if v is not None}
        if given.get("all") in ("", "1", "true", "yes", "True"):
            given["all"] = True
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            problems = "; ".join(_problem(e) for e in exc.errors())
            raise ArgumentError(f"bad spider argument: {problems}") from None


def _problem(error: Any) -> str:
    name = ".".join(map(str, error["loc"])) or "argument"
    if error["type"] == "extra_forbidden":
        return f"-a {name}: unknown argument; use {', '.join(VerifyArgs.model_fields)}"
    return f"-a {name}: {error['msg']}"
