"""Every BACKLINKS_* setting is checked before a crawl, with a message naming the setting and the fix."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

import settings as project
from crawler.shell.config import CHECKS, SettingsError, check_settings, problems, project_setting_names, unknown


def project_settings(**overrides: object) -> Settings:
    values = Settings()
    values.setmodule(project, priority="project")
    values.setdict(overrides, priority="cmdline")
    return values


def test_the_defaults_are_valid() -> None:
    assert problems(project_settings()) == []


def test_every_project_setting_with_a_value_to_check_is_checked() -> None:
    # A new BACKLINKS_* setting needs a check here (BROWSER_PATH is checked by the browser finder).
    assert project_setting_names() - set(CHECKS) == {"BACKLINKS_BROWSER_PATH"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BACKLINKS_BATCH_SIZE", "1O", "BACKLINKS_BATCH_SIZE must be a whole number of at least 1 (got '1O')"),
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
