"""Every BACKLINKS_* setting is checked before a crawl, with a message naming the setting and the fix."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

import settings as project
from crawler.shell.config import BacklinksSettings, SettingsError, check_settings, problems, project_setting_names, unknown

# A wrong value for every setting that has a check: a new setting needs one here.
CHECKS = {
    "BACKLINKS_BRAND_TERMS": "Example Shop, ???",
    "BACKLINKS_BRAND_TERMS_BY_TAG": "client-a: Acme",
    "BACKLINKS_DATABASE_URL": "postgresql://u:p@:::/x::",
    "BACKLINKS_BATCH_SIZE": "0",
    "BACKLINKS_BATCH_SECONDS": "0",
    "BACKLINKS_STORE_GRACE_SECONDS": "-1",
    "BACKLINKS_RECHECK_HOURS": "soon",
    "BACKLINKS_CONFIRM_MISSES": "0",
    "BACKLINKS_STRIP_TRACKING": "maybe",
    "BACKLINKS_START_CHUNK": "many",
    "BACKLINKS_DEGRADED_SHARE": "2",
    "BACKLINKS_PARSE_WORKERS": "0",
    "BACKLINKS_PARSE_SECONDS": "0",
    "BACKLINKS_LEASE_SECONDS": "0",
    "BACKLINKS_CLAIM_DOMAINS": "0",
    "BACKLINKS_CLAIM_POLL_SECONDS": "inf",
    "BACKLINKS_RESOLVE": "*.test",
    "BACKLINKS_ALLOWED_NETWORKS": "localhost",
    "BACKLINKS_RENDER": "sometimes",
    "BACKLINKS_RENDER_CONFIRM_MISSES": "2",
    "BACKLINKS_RENDER_MEMORY_DAYS": "-1",
    "BACKLINKS_RENDER_WAIT": "-1",
    "BACKLINKS_RENDER_CONCURRENCY": "0",
    "BACKLINKS_RENDER_CONTEXT_PAGES": "0",
    "BACKLINKS_RENDER_PAGE_IDLE": "0",
    "BACKLINKS_RENDER_JS_HEAP_MB": "-1",
    "BACKLINKS_SNAPSHOTS": "sometimes",
    "BACKLINKS_SNAPSHOT_MAX_KB": "0",
    "BACKLINKS_SNAPSHOT_DAYS": "0",
    "BACKLINKS_PROGRESS_SECONDS": "-1",
    "BACKLINKS_TARGET_CHECKS": "often",
    "BACKLINKS_OWN_PAGES": "https://me.test/links, partners.html",
    "BACKLINKS_TARGET_CONCURRENCY": "0",
    "BACKLINKS_TARGET_DELAY": "-1",
    "BACKLINKS_NOTIFY_URLS": "not-a-url",
    "BACKLINKS_NOTIFY_LIMIT": "0",
    "BACKLINKS_WEBHOOK_URL": "ftp://hooks.example/",
    "BACKLINKS_WEBHOOK_TIMEOUT": "0",
    "BACKLINKS_NOTIFY_ATTEMPTS": "0",
    "BACKLINKS_NOTIFY_BACKOFF": "-1",
}


def project_settings(**overrides: object) -> Settings:
    values = Settings()
    values.setmodule(project, priority="project")
    values.setdict(overrides, priority="cmdline")
    return values


def test_the_defaults_are_valid() -> None:
    assert problems(project_settings()) == []


def test_every_project_setting_with_a_value_to_check_is_checked() -> None:
    # A new BACKLINKS_* setting needs a check here (BROWSER_PATH is checked by the browser finder;
    # any text is a list of tags or a webhook secret).
    assert project_setting_names() - set(CHECKS) == {"BACKLINKS_BROWSER_PATH", "BACKLINKS_NOTIFY_TAGS", "BACKLINKS_WEBHOOK_SECRET"}
    for name, value in CHECKS.items():
        (found,) = problems(project_settings(**{name: value}))
        assert found.startswith(name)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BACKLINKS_BATCH_SIZE", "1O", "BACKLINKS_BATCH_SIZE must be a whole number of at least 1 (got '1O')"),
        ("BACKLINKS_BRAND_TERMS", "Example Shop, ???", "brand term '???': needs a letter or a digit"),
        ("BACKLINKS_BATCH_SIZE", "0", "at least 1"),
        ("BACKLINKS_CONFIRM_MISSES", "-1", "at least 1"),
        ("BACKLINKS_RECHECK_HOURS", "soon", "must be a number of at least 0"),
        ("BACKLINKS_BATCH_SECONDS", "0", "must be a number above 0"),
        ("BACKLINKS_STRIP_TRACKING", "maybe", "must be true or false"),
        ("BACKLINKS_ALLOWED_NETWORKS", "127.0.0.1/8,locahost", "BACKLINKS_ALLOWED_NETWORKS"),
        ("BACKLINKS_RESOLVE", "*.test", "BACKLINKS_RESOLVE rule"),
        ("BACKLINKS_DEGRADED_SHARE", "1.5", "a share above 0 and at most 1"),
        ("BACKLINKS_DEGRADED_SHARE", "0", "above 0"),
        ("BACKLINKS_LEASE_SECONDS", "0", "above 0"),
        ("BACKLINKS_CLAIM_DOMAINS", "many", "whole number"),
        ("BACKLINKS_RENDER", "sometimes", "must be one of never, auto, always"),
        ("BACKLINKS_RENDER_CONCURRENCY", "0", "at least 1"),
        ("BACKLINKS_RENDER_WAIT", "-3", "at least 0"),
        ("BACKLINKS_RENDER_JS_HEAP_MB", "lots", "whole number of at least 0"),
        ("BACKLINKS_RENDER_PAGE_IDLE", "0", "must be a number above 0"),
        ("BACKLINKS_OWN_PAGES", "https://me.test/links, partners.html", "own page 'partners.html': "),
        ("BACKLINKS_OWN_PAGES", "ftp://me.test/", "unsupported scheme"),
    ],
)
def test_bad_values_are_named(name: str, value: str, message: str) -> None:
    found = problems(project_settings(**{name: value}))
    assert len(found) == 1 and found[0].startswith(name) and message in found[0]


def test_database_url_problem_never_echoes_the_value() -> None:
    (found,) = problems(project_settings(BACKLINKS_DATABASE_URL="postgresql://u:s3cret@:::/x::"))
    assert "BACKLINKS_DATABASE_URL" in found and "s3cret" not in found


def test_all_problems_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        check_settings(project_settings(BACKLINKS_BATCH_SIZE="x", BACKLINKS_RENDER="x"))
    assert "BACKLINKS_BATCH_SIZE" in str(info.value) and "BACKLINKS_RENDER " in str(info.value)


def test_unknown_names_get_a_suggestion() -> None:
    found = unknown(project_settings(BACKLINKS_CONFIRM_MISS="3"), project_setting_names())
    assert found == ["unknown setting BACKLINKS_CONFIRM_MISS; did you mean BACKLINKS_CONFIRM_MISSES?"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7), (" 7 ", 7), (7, 7)],
)
def test_values_come_typed(value: object, expected: int) -> None:
    assert check_settings(project_settings(BACKLINKS_BATCH_SIZE=value)).BACKLINKS_BATCH_SIZE == expected


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("True", True), ("on", True), ("0", False), ("false", False), (False, False)])
def test_flags_read_as_scrapy_writes_them(value: object, expected: bool) -> None:
    assert BacklinksSettings.from_settings(project_settings(BACKLINKS_STRIP_TRACKING=value)).BACKLINKS_STRIP_TRACKING is expected


def test_progress_can_be_switched_off() -> None:
    # 0: no progress lines (crawler.shell.progress raises NotConfigured for it).
    assert BacklinksSettings.from_settings(project_settings(BACKLINKS_PROGRESS_SECONDS="0")).BACKLINKS_PROGRESS_SECONDS == 0


def test_a_setting_wins_over_the_environment_and_the_environment_over_the_default() -> None:
    environ = {"BACKLINKS_DATABASE_URL": "sqlite:///env.sqlite", "BACKLINKS_RESOLVE": "*.test=127.0.0.1", "BACKLINKS_BATCH_SIZE": "9"}
    built = BacklinksSettings.from_settings(project_settings(BACKLINKS_DATABASE_URL="sqlite:///cmdline.sqlite"), environ)
    assert built.BACKLINKS_DATABASE_URL == "sqlite:///cmdline.sqlite"
    assert built.BACKLINKS_RESOLVE == "*.test=127.0.0.1"
    assert built.BACKLINKS_BATCH_SIZE == 500  # not one the environment may give
    assert BacklinksSettings.from_settings(project_settings(), {"BACKLINKS_DATABASE_URL": ""}).BACKLINKS_DATABASE_URL == (
        "sqlite:///backlinks.sqlite"  # an empty variable is no value, as for the CLI's --database
    )


def test_a_bad_environment_variable_is_named() -> None:
    with pytest.raises(SettingsError, match="BACKLINKS_ALLOWED_NETWORKS: 'nowhere' is not a network"):
        BacklinksSettings.from_settings(project_settings(), {"BACKLINKS_ALLOWED_NETWORKS": "nowhere"})
