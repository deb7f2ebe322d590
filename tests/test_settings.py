"""The project's Scrapy settings: what a nightly crawl must never run, where the BACKLINKS_*
settings are declared (once, in crawler.shell.config) and documented (README.md), and how the add-on
wires rendering into a crawl."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator, MutableMapping
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.extensions.remote_control import RemoteControl
from scrapy.extensions.telnet import TelnetConsole
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

import settings as project
from crawler.shell.config import BacklinksSettings
from crawler.shell.render import setup as render_setup
from crawler.shell.render.setup import RENDER_SLOT
from crawler.shell.spiders.verify import VerifySpider

README = Path(__file__).resolve().parents[1] / "README.md"


def _enabled_extensions() -> set[type]:
    values = Settings()
    values.setmodule(project, priority="project")
    crawler = get_crawler(Spider, values.copy_to_dict())
    crawler._apply_settings()  # builds the extension manager as `scrapy crawl` does
    return {type(extension) for extension in crawler.extensions.middlewares}


@pytest.mark.parametrize("extension", [RemoteControl, TelnetConsole])
def test_no_code_execution_endpoint_listens_during_a_crawl(extension: type) -> None:
    # Both run code sent to a loopback port (RemoteControl: Scrapy 2.19's HTTP /execute, on by
    # default, its token in a file under the user's home); a nightly job has no use for either.
    assert extension not in _enabled_extensions()


# --- One declaration -------------------------------------------------------------------------------


def test_the_settings_module_repeats_no_default() -> None:
    ours = {name: value for name, value in vars(project).items() if name.startswith("BACKLINKS_")}
    assert ours == {}, "BACKLINKS_* defaults live in crawler.shell.config.BacklinksSettings"


def test_every_setting_has_a_description() -> None:
    for name, field in BacklinksSettings.model_fields.items():
        assert field.description and "\n" not in field.description, name


def _shown(value: Any) -> str:
    """A default as README.md writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return f"`{value}`" if value else "empty"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _expected_rows() -> list[tuple[str, str, str]]:
    env = BacklinksSettings.environment_names()
    return [
        (f"`{name}`" + (" (env too)" if name in env else ""), _shown(field.default), str(field.description))
        for name, field in BacklinksSettings.model_fields.items()
    ]


def _readme_rows() -> list[tuple[str, str, str]]:
    """The rows of README.md's table of settings (the one under "## Settings")."""
    section = README.read_text().split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `BACKLINKS_"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows.append((cells[0], cells[1], cells[2]))
    return rows


def test_the_readme_lists_every_setting_with_its_default() -> None:
    expected = _expected_rows()
    table = "\n".join(f"| {name} | {default} | {meaning} |" for name, default, meaning in expected)
    assert _readme_rows() == expected, f"README.md's settings table should read:\n{table}"


class _Recording(MutableMapping[str, str]):
    """os.environ, noting every name that is read."""

    def __init__(self, environ: MutableMapping[str, str]) -> None:
        self.environ = environ
        self.read: list[str] = []

    def __getitem__(self, name: str) -> str:
        self.read.append(name)
        return self.environ[name]

    def __setitem__(self, name: str, value: str) -> None:
        self.environ[name] = value

    def __delitem__(self, name: str) -> None:
        del self.environ[name]

    def __iter__(self) -> Iterator[str]:
        self.read.append("*")
        return iter(self.environ)

    def __len__(self) -> int:
        return len(self.environ)


def test_importing_the_settings_reads_no_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKLINKS_DATABASE_URL", "sqlite:///from-env.sqlite")
    recording = _Recording(os.environ)
    monkeypatch.setattr(os, "environ", recording)
    importlib.reload(project)
    assert recording.read == []
    # ...the variable counts when the settings are built.
    values = Settings()
    values.setmodule(project, priority="project")
    assert BacklinksSettings.from_settings(values).BACKLINKS_DATABASE_URL == "sqlite:///from-env.sqlite"
    assert "BACKLINKS_DATABASE_URL" in recording.read


# --- The add-on ---------------------------------------------------------------------------------------


def _verify_crawler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render: str, **cmdline: Any) -> Any:
    """The settings of a verify crawl once Scrapy applied the add-ons, with a browser found."""
    monkeypatch.setattr(render_setup, "find_browser", lambda configured: "/opt/chromium/chrome")
    values = Settings()
    values.setmodule(project, priority="project")
    values.setdict({"BACKLINKS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", **cmdline}, priority="cmdline")
    crawler = Crawler(VerifySpider, values)  # settings not applied yet, as in a real crawl
    before = crawler.settings.copy_to_dict()
    VerifySpider.from_crawler(crawler, render=render)
    assert crawler.settings.copy_to_dict() == before  # the spider rewrites no setting
    crawler.addons.load_settings(crawler.settings)  # as Scrapy does once the spider exists
    return crawler.settings


def test_the_addon_wires_rendering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _verify_crawler(
        tmp_path, monkeypatch, "auto",
        BACKLINKS_RENDER_CONCURRENCY="3",
        PLAYWRIGHT_LAUNCH_OPTIONS='{"args": ["--lang=de"]}',
        PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT="3000",
    )
    handler = "crawler.shell.render.handler.SharedPlaywrightHandler"
    assert settings.getdict("DOWNLOAD_HANDLERS") == {"http": handler, "https": handler}
    assert settings.getdict("DOWNLOAD_SLOTS")[RENDER_SLOT] == {"concurrency": 3, "delay": 0.0}
    assert settings.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT") == 3
    options = settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert options["executable_path"] == "/opt/chromium/chrome" and options["args"][0] == "--lang=de"
    assert "--js-flags=--max-old-space-size=512" in options["args"]
    assert settings.getint("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT") == 3000  # -s wins over the add-on's
    assert settings.getint("PLAYWRIGHT_MAX_CONTEXTS") == 2
    assert "backlinks-0" in settings.getdict("PLAYWRIGHT_CONTEXTS")
    assert "BrowserContexts" in str(settings.getdict("DOWNLOADER_MIDDLEWARES"))


def test_the_render_argument_decides_the_wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # BACKLINKS_RENDER says always; -a render=never wins, so no Playwright at all.
    settings = _verify_crawler(tmp_path, monkeypatch, "never", BACKLINKS_RENDER="always")
    assert settings.getdict("DOWNLOAD_HANDLERS") == {}
    assert "PLAYWRIGHT_LAUNCH_OPTIONS" not in settings and RENDER_SLOT not in settings.getdict("DOWNLOAD_SLOTS")
    assert "BrowserContexts" not in str(settings.getdict("DOWNLOADER_MIDDLEWARES"))


def _number_or_word(cell: str) -> float | str:
    text = cell.strip("` ").removesuffix(" ms").removesuffix(" s")
    if text == "empty":  # an empty string, as README's table writes it
        return ""
    try:
        return float(text)
    except ValueError:
        return text.lower()


@pytest.mark.parametrize("doc", sorted((README.parent / "docs").glob("*.md")), ids=lambda path: path.name)
def test_the_docs_give_each_default_as_declared(doc: Path) -> None:
    # docs/*.md repeat a few defaults in their own tables, next to what each setting does there.
    for line in doc.read_text().splitlines():
        found = re.match(r"\| `(BACKLINKS_[A-Z_]+)` \| ([^|]+) \|", line)
        if found is None:
            continue
        name, cell = found.groups()
        default = BacklinksSettings.model_fields[name].default
        expected = default.value if isinstance(default, Enum) else default
        assert _number_or_word(cell) == (str(expected).lower() if isinstance(expected, (str, bool)) else float(expected)), line
