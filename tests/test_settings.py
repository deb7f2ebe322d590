"""The project's Scrapy settings: what a nightly crawl must never run."""

from __future__ import annotations

import pytest
from scrapy import Spider
from scrapy.extensions.remote_control import RemoteControl
from scrapy.extensions.telnet import TelnetConsole
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

import settings as project


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
