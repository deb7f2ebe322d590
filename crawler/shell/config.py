"""The ``BACKLINKS_*`` settings, each declared once: name, type, default, check and meaning.

:class:`BacklinksSettings` is built from Scrapy's settings (the settings module, ``-s``, Scrapyd's
settings) whenever a component needs it; nothing else holds a default. A few settings may also come
from an environment variable of the same name, read when the object is built (never when a module
is imported), for cron lines and the demo; a setting given to Scrapy wins over the environment.

A typo in ``-s BACKLINKS_BATCH_SIZE=1O`` or ``BACKLINKS_ALLOWED_NETWORKS=127.0.0.1/8,locahost``
would otherwise surface as a bare ``invalid literal for int()`` deep in a pipeline, after the run
was recorded, or not at all. The spider calls :func:`check_settings` first thing, before the
database is touched: it raises :class:`SettingsError` listing every problem.

README.md's settings table lists these fields with their defaults and descriptions
(``tests/test_settings.py`` holds them to it).
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, model_validator
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from sqlalchemy.engine import make_url

from crawler.core.alerts import split_tags, split_urls
from crawler.core.mentions import parse_tag_terms, parse_terms
from crawler.core.guard import parse_networks
from crawler.core.hostmap import parse_rules
from crawler.core.render_policy import RenderMode
from crawler.core.robotstxt import check_product_token
from crawler.core.targets import parse_own_pages
from crawler.reports.notify import NotifyConfig
from crawler.reports.senders import NOT_INSTALLED
from pipelines.db import DEFAULT_URL

logger = logging.getLogger(__name__)


class SettingsError(ValueError):
    """One or more settings are wrong; the message says which and how to fix them."""


# Each check takes what Scrapy holds (a string from -s or Scrapyd, or a value from a settings
# module) and returns the typed value, or raises ValueError with the end of a sentence that starts
# with the setting's name.


def _whole(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = minimum - 1
        if isinstance(value, bool) or number < minimum:
            raise ValueError(f"must be a whole number of at least {minimum}")
        return number

    return check


def _number(minimum: float, *, strict: bool) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        try:
            number = float(str(value).strip())
        except ValueError:
            number = float("nan")
        if not (number > minimum or (number == minimum and not strict)) or number == float("inf"):
            raise ValueError(f"must be a number {'above' if strict else 'of at least'} {minimum:g}")
        return number

    return check


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "none", "")


def _flag(value: Any) -> bool:
    word = str(value).strip().lower()
    if word not in _TRUE + _FALSE:
        raise ValueError("must be true or false (1 or 0)")
    return word in _TRUE


def _share(value: Any) -> float:
    share = _number(0, strict=True)(value)
    if share > 1:
        raise ValueError("must be a share above 0 and at most 1 (e.g. 0.5)")
    return share


def _render_mode(value: Any) -> RenderMode:
    modes = [mode.value for mode in RenderMode]
    word = str(value).strip().lower()
    if word not in modes:
        raise ValueError(f"must be one of {', '.join(modes)}")
    return RenderMode(word)


def _database(value: Any) -> str:
    try:
        make_url(str(value))
    except Exception:
        # The value may hold a password: never repeat it.
        raise ValueError("is not an SQLAlchemy URL such as sqlite:///backlinks.sqlite") from None
    return str(value)


def _spec(parse: Callable[[str], object]) -> Callable[[Any], str]:
    """A comma-separated list (a settings module may give a list), checked by ``parse``."""

    def check(value: Any) -> str:
        spec = ",".join(map(str, value)) if isinstance(value, Iterable) and not isinstance(value, str) else str(value or "")
        parse(spec)
        return spec

    return check


def _apprise_urls(value: Any) -> str:
    spec = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value or "")
    split_urls(spec)  # names an entry by its place only: it may hold a password
    if spec.strip() and importlib.util.find_spec("apprise") is None:
        raise ValueError(f"is set, but {NOT_INSTALLED}")
    return spec


def _webhook_url(value: Any) -> str:
    url = str(value or "").strip()
    if url and not url.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


Count = Annotated[int, BeforeValidator(_whole(1))]
Megabytes = Annotated[int, BeforeValidator(_whole(0))]
Positive = Annotated[float, BeforeValidator(_number(0, strict=True))]
NonNegative = Annotated[float, BeforeValidator(_number(0, strict=False))]
Flag = Annotated[bool, BeforeValidator(_flag)]
Share = Annotated[float, BeforeValidator(_share)]
Mode = Annotated[RenderMode, BeforeValidator(_render_mode)]
DatabaseUrl = Annotated[str, BeforeValidator(_database)]
Networks = Annotated[str, BeforeValidator(_spec(parse_networks))]
HostRules = Annotated[str, BeforeValidator(_spec(parse_rules))]
AppriseUrls = Annotated[SecretStr, BeforeValidator(_apprise_urls)]
WebhookUrl = Annotated[SecretStr, BeforeValidator(_webhook_url)]
Tags = Annotated[str, BeforeValidator(_spec(split_tags))]
BrandTerms = Annotated[str, BeforeValidator(_spec(parse_terms))]
OwnPages = Annotated[str, BeforeValidator(_spec(parse_own_pages))]
TagTerms = Annotated[str, BeforeValidator(_spec(parse_tag_terms))]

ENV = {"env": True}  # json_schema_extra of a setting an environment variable may give
# ...that holds a password or a token: never shown, not even in an error about its value.
SECRET = {"env": True, "secret": True}


class BacklinksSettings(BaseModel):
    """Every project setting. Field name = setting name; ``description`` is its README line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- Storage ---
    BACKLINKS_DATABASE_URL: DatabaseUrl = Field(
        DEFAULT_URL, description="any SQLAlchemy URL; `postgresql://...` uses psycopg 3", json_schema_extra=ENV
    )
    BACKLINKS_BATCH_SIZE: Count = Field(500, description="observations written per database transaction")
    # So a slow crawl still saves as it goes.
    BACKLINKS_BATCH_SECONDS: Positive = Field(5.0, description="a batch not yet full is written after this many seconds")
    # Locked by an import or another crawl; closing: finished, or stopped by a signal.
    BACKLINKS_STORE_GRACE_SECONDS: NonNegative = Field(
        60.0,
        description="a batch finding the database locked is retried with back-off while the crawl runs, "
        "and this many seconds more once it is closing",
    )

    # --- What to check and when ---
    BACKLINKS_RECHECK_HOURS: NonNegative = Field(20.0, description="a backlink checked less than this many hours ago is not due")
    BACKLINKS_CONFIRM_MISSES: Count = Field(2, description="consecutive conclusive misses before `lost`")
    # utm_*, gclid, fbclid...
    BACKLINKS_STRIP_TRACKING: Flag = Field(True, description="tracking parameters do not make a link point elsewhere")
    BACKLINKS_START_CHUNK: Count = Field(500, description="referring pages read from the database at a time")
    # Too many timeouts, blocks, 5xx...: an outage or a blocked crawler, not the web. Its losses wait
    # for a healthy run.
    BACKLINKS_DEGRADED_SHARE: Share = Field(
        0.5, description="a run with a larger share of inconclusive results is `degraded` and moves no backlink to `lost`"
    )

    # --- Reading pages (crawler/shell/pagepool.py) ---
    # Parsing runs in worker processes, never on the reactor; two, so one pathological page (one
    # element with a million attributes) never stalls the others. Its worker is replaced.
    BACKLINKS_PARSE_WORKERS: Count = Field(2, description="worker processes that parse pages (never the reactor)")
    BACKLINKS_PARSE_SECONDS: Positive = Field(
        10.0, description="a page not parsed within this many seconds is `too_large` `parse_timeout`"
    )

    # --- Scale-out: several processes, one run (docs/production.md) ---
    # Processes claim referring registrable domains with a lease, extended while they work; a dead
    # process's domains are claimed again once its lease runs out.
    BACKLINKS_LEASE_SECONDS: Positive = Field(300.0, description="scale-out: seconds a claimed referring domain is leased")
    BACKLINKS_CLAIM_DOMAINS: Count = Field(50, description="scale-out: referring domains claimed at a time")
    BACKLINKS_CLAIM_POLL_SECONDS: Positive = Field(
        5.0, description="scale-out: how often (seconds) an idle process looks for a dead one's domains"
    )

    # --- Name resolution and the address guard (docs/reliability.md) ---
    # Empty in production: the demo, tests and benchmarks serve thousands of fake hosts from one
    # loopback server.
    BACKLINKS_RESOLVE: HostRules = Field(
        "", description="`*.test=127.0.0.1` style host mapping for simulated webs", json_schema_extra=ENV
    )
    # Only http and https are ever fetched, whatever this says.
    BACKLINKS_ALLOWED_NETWORKS: Networks = Field(
        "",
        description="CIDRs the crawler may reach although private, loopback or link-local "
        "(refused by default, also after redirects and DNS)",
        json_schema_extra=ENV,
    )

    # --- JavaScript rendering (scrapy-playwright; docs/rendering.md) ---
    # auto: static HTML first, the browser only where it can change the answer (a static miss on a
    # page that runs scripts), or at once for pages and domains that needed it lately.
    BACKLINKS_RENDER: Mode = Field(RenderMode.AUTO, description="`never`, `auto` or `always` (the `render` argument wins)")
    # Off: only pages with signs of client-side rendering (empty app root, noscript fallback,
    # little text) are rendered to confirm a miss.
    BACKLINKS_RENDER_CONFIRM_MISSES: Flag = Field(
        True, description="`auto`: every static miss on a page with scripts is confirmed by one render"
    )
    BACKLINKS_RENDER_MEMORY_DAYS: NonNegative = Field(
        30.0, description="`auto`: pages and domains that needed a render this many days back go to the browser at once"
    )
    # Checked by the browser finder (crawler/shell/render/browser.py), which names what it tried.
    BACKLINKS_BROWSER_PATH: str = Field(
        "auto",
        description="a Chromium executable; `auto` finds chromium-headless-shell, chromium or Playwright's",
        json_schema_extra=ENV,
    )
    BACKLINKS_RENDER_WAIT: NonNegative = Field(
        3.0, description="seconds after DOMContentLoaded a page may take to insert the target's link"
    )
    # In their own download slot ("backlinks-browser"), so renders never starve plain requests.
    BACKLINKS_RENDER_CONCURRENCY: Count = Field(
        4, description="pages rendered at once; also `PLAYWRIGHT_MAX_PAGES_PER_CONTEXT`"
    )
    BACKLINKS_RENDER_CONTEXT_PAGES: Count = Field(
        100, description="renders per browser context before it is closed and replaced"
    )
    # So renders far apart do not keep renderer processes (~75 MB each) alive between them.
    BACKLINKS_RENDER_PAGE_IDLE: Positive = Field(
        30.0, description="a page left by a finished render serves the next; one unused this many seconds is closed"
    )
    BACKLINKS_RENDER_JS_HEAP_MB: Megabytes = Field(
        512, description="a page's JavaScript heap; beyond it the tab crashes, not the machine (0: no limit)"
    )

    # --- Unlinked mentions (crawler/core/mentions.py) ---
    BACKLINKS_BRAND_TERMS: BrandTerms = Field(
        "",
        description="comma-separated names of your brand: a referring page that lost its link but still names one "
        "is a mention to reclaim (`backlinks mentions`)",
        json_schema_extra=ENV,
    )
    # An agency's clients: each tag's backlinks are searched for that client's names too.
    BACKLINKS_BRAND_TERMS_BY_TAG: TagTerms = Field(
        "",
        description="brand terms of a tag's backlinks only: `client-a=Acme, Acme Corp; client-b=Widgets Inc`",
        json_schema_extra=ENV,
    )

    # --- Target health and your own pages (crawler/core/targets.py) ---
    BACKLINKS_TARGET_CHECKS: Flag = Field(
        True, description="fetch each distinct target URL once per run: a 4xx, redirected or noindex target wastes "
        "the links to it (`backlinks targets`)"
    )
    BACKLINKS_OWN_PAGES: OwnPages = Field(
        "",
        description="your own pages (a links or partners page), comma-separated, checked with the targets: a "
        "referring domain they link to is a reciprocal link (`backlinks signals`)",
        json_schema_extra=ENV,
    )
    # Your own site, probably on one host: checked gently, beside the referring pages, not among them.
    BACKLINKS_TARGET_CONCURRENCY: Count = Field(
        2, description="target checks at once, in their own download slot `backlinks-targets`"
    )
    BACKLINKS_TARGET_DELAY: NonNegative = Field(0.5, description="seconds between two target checks")

    # --- Evidence: page snapshots (crawler/core/snapshots.py; docs/inventory.md) ---
    BACKLINKS_SNAPSHOTS: Flag = Field(
        False,
        description="keep a gzip copy of the page's HTML with each check that changed something (`backlinks snapshot ID`)",
        json_schema_extra=ENV,
    )
    # Of the page as fetched: a bigger one is kept up to the bound and marked truncated.
    BACKLINKS_SNAPSHOT_MAX_KB: Count = Field(
        512, description="snapshots: KiB of a page kept at most, before compression; the rest is cut", json_schema_extra=ENV
    )
    BACKLINKS_SNAPSHOT_DAYS: Count = Field(
        90, description="snapshots older than this many days are deleted at the end of each run", json_schema_extra=ENV
    )

    # --- Output ---
    BACKLINKS_PROGRESS_SECONDS: NonNegative = Field(30.0, description="seconds between progress lines in the log (0: off)")

    # --- Alerts after each run (docs/alerts.md) ---
    # Secrets: better given as environment variables than with -s, which `ps` shows to everyone.
    BACKLINKS_NOTIFY_URLS: AppriseUrls = Field(
        "",
        validate_default=True,
        description="Apprise URLs (comma or space separated: `mailto://`, `slack://`, `msteams://`, `discord://`, "
        "`ntfy://`, ...) that get a digest of each run's confirmed changes; needs the `notify` extra",
        json_schema_extra=SECRET,
    )
    BACKLINKS_NOTIFY_TAGS: Tags = Field(
        "", description="comma-separated tags: one digest per tag, each with only that tag's backlinks", json_schema_extra=ENV
    )
    BACKLINKS_NOTIFY_LIMIT: Count = Field(
        10, description="changes listed per kind in a digest; the rest are counted (`and N more`)", json_schema_extra=ENV
    )
    BACKLINKS_WEBHOOK_URL: WebhookUrl = Field(
        "",
        validate_default=True,
        description="an http(s) URL each run's confirmed changes are POSTed to as signed JSON",
        json_schema_extra=SECRET,
    )
    BACKLINKS_WEBHOOK_SECRET: SecretStr = Field(
        "",
        validate_default=True,
        description="the webhook's shared secret: `X-Backlinks-Signature` is its HMAC-SHA256 of the body "
        "(required with `BACKLINKS_WEBHOOK_URL`)",
        json_schema_extra=SECRET,
    )
    BACKLINKS_WEBHOOK_TIMEOUT: Positive = Field(
        10.0, description="seconds the webhook may take to connect, and then to answer", json_schema_extra=ENV
    )
    BACKLINKS_NOTIFY_ATTEMPTS: Count = Field(
        3,
        description="tries per message (webhook or digest) before it is recorded failed; the next run tries again",
        json_schema_extra=ENV,
    )
    BACKLINKS_NOTIFY_BACKOFF: NonNegative = Field(
        2.0, description="seconds before a message's second try, doubled before each further one", json_schema_extra=ENV
    )

    @model_validator(mode="after")
    def _webhook_signed(self) -> Self:
        if self.BACKLINKS_WEBHOOK_URL.get_secret_value() and not self.BACKLINKS_WEBHOOK_SECRET.get_secret_value():
            # A receiver could not tell our requests from anyone's.
            raise ValueError("BACKLINKS_WEBHOOK_SECRET must be set when BACKLINKS_WEBHOOK_URL is (the webhook is always signed)")
        return self

    def notify_config(self) -> NotifyConfig:
        return NotifyConfig(
            apprise_urls=tuple(split_urls(self.BACKLINKS_NOTIFY_URLS.get_secret_value())),
            tags=tuple(split_tags(self.BACKLINKS_NOTIFY_TAGS)),
            limit=self.BACKLINKS_NOTIFY_LIMIT,
            webhook_url=self.BACKLINKS_WEBHOOK_URL.get_secret_value(),
            webhook_secret=self.BACKLINKS_WEBHOOK_SECRET.get_secret_value(),
            timeout=self.BACKLINKS_WEBHOOK_TIMEOUT,
            attempts=self.BACKLINKS_NOTIFY_ATTEMPTS,
            backoff=self.BACKLINKS_NOTIFY_BACKOFF,
        )

    @classmethod
    def from_settings(cls, settings: BaseSettings, environ: Mapping[str, str] | None = None) -> Self:
        """The typed settings, or :class:`SettingsError` naming every bad value."""
        values, found = cls._validated(settings, os.environ if environ is None else environ)
        if values is None:
            raise SettingsError("bad settings:\n  " + "\n  ".join(found))
        return values

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls.from_settings(crawler.settings)

    @classmethod
    def environment_names(cls) -> set[str]:
        """The settings an environment variable of the same name may give."""
        return {name for name, field in cls.model_fields.items() if (field.json_schema_extra or {}).get("env")}

    @classmethod
    def secret_names(cls) -> set[str]:
        """Settings that hold a password or a token: never shown."""
        return {name for name, field in cls.model_fields.items() if (field.json_schema_extra or {}).get("secret")}

    @classmethod
    def _validated(cls, settings: BaseSettings, environ: Mapping[str, str]) -> tuple[Self | None, list[str]]:
        given = {name: settings[name] for name in cls.model_fields if name in settings}
        # An empty variable counts as unset, as an empty --database does.
        given |= {name: environ[name] for name in cls.environment_names() - set(given) if environ.get(name)}
        try:
            return cls(**given), []
        except ValidationError as exc:
            return None, [_problem(error) for error in exc.errors()]


def _problem(error: Any) -> str:
    message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    if not error["loc"]:  # a check of several settings together: its message names them
        return message
    name = str(error["loc"][0])
    if message.startswith(name):
        return message
    hidden = BacklinksSettings.secret_names() | {"BACKLINKS_DATABASE_URL"}  # the URL may hold a password
    shown = "" if name in hidden else f" (got {str(error['input'])[:80]!r})"
    return f"{name} {message}{shown}"


# Scrapy's settings whose value is ours to choose, checked with ours.
SCRAPY_CHECKS: dict[str, Callable[[Any], None]] = {
    # The robots.txt group that applies to us (crawler.core.robotstxt).
    "ROBOTSTXT_USER_AGENT": lambda value: check_product_token(str(value or "")),
}


def problems(settings: BaseSettings) -> list[str]:
    """Every wrong value among the ``BACKLINKS_*`` settings (and ours of Scrapy's), one line each."""
    _values, found = BacklinksSettings._validated(settings, os.environ)
    for name, check in SCRAPY_CHECKS.items():
        if name not in settings:
            continue
        try:
            check(settings[name])
        except ValueError as exc:
            found.append(f"{name} {exc} (got {str(settings[name])[:80]!r})")
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
    return set(BacklinksSettings.model_fields)


def check_settings(settings: BaseSettings) -> BacklinksSettings:
    """The typed settings, or :class:`SettingsError` listing every wrong value; warn about unknown
    ``BACKLINKS_*`` names given on the command line or by Scrapyd (a typo is otherwise ignored)."""
    found = problems(settings)
    if found:
        raise SettingsError("bad settings:\n  " + "\n  ".join(found))
    for message in unknown(settings, project_setting_names()):
        logger.warning("%s", message)
    return BacklinksSettings.from_settings(settings)
