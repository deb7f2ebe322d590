"""Which browser scrapy-playwright launches, and how: executable detection, launch arguments,
what the browser may download, and what a browser failure means.

The executable is the ``BACKLINKS_BROWSER_PATH`` setting; ``auto`` (the default) takes the first
that exists of Debian's ``chromium-headless-shell`` (fastest, smallest), ``chromium`` on the PATH,
and a browser that ``playwright install`` put in Playwright's cache.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request as PlaywrightRequest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from crawler.core.outcome import Status
from crawler.shell.failures import classify_failure

logger = logging.getLogger(__name__)

SETTING = "BACKLINKS_BROWSER_PATH"
AUTO = "auto"
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
# Debian's packages; `playwright install` puts its builds under PLAYWRIGHT_BROWSERS_PATH or ~/.cache.
SYSTEM_NAMES = ("chromium", "chromium-browser")
PLAYWRIGHT_GLOBS = (
    "chromium_headless_shell-*/chrome-*/chrome-headless-shell",
    "chromium_headless_shell-*/chrome-*/headless_shell",
    "chromium-*/chrome-*/chrome",
)
# As root in a container Chromium needs --no-sandbox; there is no GPU; /dev/shm is often 64 MB.
# The background-networking flags stop Chromium's own calls home, which a closed network refuses.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)
# Never needed to find a link, and the bulk of a page's bytes; beacons, manifests and captions
# cannot add a link either.
ABORTED_RESOURCES = frozenset({"image", "font", "media", "ping", "manifest", "texttrack"})


class BrowserNotFound(RuntimeError):
    """No usable browser; the message names the setting and how to fix it."""


def playwright_cache() -> Path:
    configured = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if configured and configured != "0":
        return Path(configured)
    return Path.home() / ".cache" / "ms-playwright"


def candidates(
    which: Callable[[str], str | None] = shutil.which, cache: Path | None = None
) -> list[str]:
    """Every browser ``auto`` would consider, best first (existing or not for the first)."""
    found = [HEADLESS_SHELL]
    found += [path for name in SYSTEM_NAMES if (path := which(name))]
    root = cache if cache is not None else playwright_cache()
    for pattern in PLAYWRIGHT_GLOBS:
        found += sorted(glob.glob(str(root / pattern)), reverse=True)  # newest build first
    return found


def find_browser(
    configured: str | None,
    *,
    which: Callable[[str], str | None] = shutil.which,
    cache: Path | None = None,
    usable: Callable[[str], bool] | None = None,
) -> str:
    """The browser executable to launch, or :class:`BrowserNotFound` naming ``BACKLINKS_BROWSER_PATH``."""
    usable = usable or _executable
    value = (configured or AUTO).strip()
    if value.lower() != AUTO:
        path = shutil.which(value) or value  # a bare name is looked up on the PATH
        if usable(path):
            return path
        raise BrowserNotFound(
            f"{SETTING}={value!r} is not an executable browser; point it at Chromium "
            f"(e.g. {HEADLESS_SHELL}) or set it to {AUTO!r}"
        )
    tried = candidates(which, cache)
    for path in tried:
        if usable(path):
            return path
    raise BrowserNotFound(
        f"no browser found for JavaScript rendering ({SETTING}=auto looked for {', '.join(tried)}); "
        f"install one (`apt-get install chromium-headless-shell`, or `playwright install chromium`), "
        f"set {SETTING} to its executable, or crawl with `-a render=never`"
    )


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def launch_options(executable: str, base: dict[str, Any], js_heap_mb: int = 0) -> dict[str, Any]:
    """PLAYWRIGHT_LAUNCH_OPTIONS for ``executable``: the base options plus our flags, each once.

    ``js_heap_mb`` caps each page's JavaScript heap: a page that eats memory crashes its own tab
    (reported as ``render_crashed``) instead of swelling the machine. The browser's proxy flags
    are added when it launches (:mod:`crawler.shell.render.handler`).
    """
    if "proxy" in base:
        # Every browser connection goes through the address guard's own proxy (crawler.shell.render.proxy).
        logger.warning("PLAYWRIGHT_LAUNCH_OPTIONS['proxy'] is ignored: the browser connects through the address guard")
        base = {key: value for key, value in base.items() if key != "proxy"}
    args = list(base.get("args", ()))
    extra = [f"--js-flags=--max-old-space-size={js_heap_mb}"] if js_heap_mb > 0 else []
    for arg in (*LAUNCH_ARGS, *extra):
        if arg not in args:
            args.append(arg)
    return {**base, "executable_path": executable, "args": args, "headless": True}


def abort_request(request: PlaywrightRequest) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: what a render never loads.

    Images, fonts, media, beacons, and the documents of frames (ads, embeds, trackers): a frame's
    links are not the page's (the page's DOM, which is extracted, does not hold them) and a
    cross-site frame cannot touch the page, but each brings its own sub-resources and renderer.
    Scripts, stylesheets and data requests stay, third-party ones too: scripts are often what
    inserts a link, and stylesheets decide which links are hidden. Addresses are not judged
    here: Chromium routes only the first request of a redirect chain, so the guard sits in the
    browser's proxy (:mod:`crawler.shell.render.proxy`), which sees every hop."""
    if request.resource_type in ABORTED_RESOURCES:
        return True
    return request.resource_type == "document" and _in_a_frame(request)


def _in_a_frame(request: PlaywrightRequest) -> bool:
    try:
        return request.frame.parent_frame is not None
    except PlaywrightError:  # a service worker's request has no frame
        return False


_CRASH_WORDS = ("crash", "target closed", "has been closed", "browser has disconnected", "connection closed")


def classify_render_failure(exc: BaseException) -> tuple[Status, str]:
    """An inconclusive status for a failed render; a render failure is never a miss."""
    if isinstance(exc, PlaywrightTimeoutError):
        return Status.TIMEOUT, "render_timeout"
    if isinstance(exc, PlaywrightError):
        message = (exc.message or str(exc)).lower()
        if "launch" in message:  # the configured executable would not start
            return Status.NETWORK_ERROR, "render_launch_failed"
        if any(word in message for word in _CRASH_WORDS):
            return Status.NETWORK_ERROR, "render_crashed"
        if "net::err_" in message:
            code = message.split("net::err_", 1)[1].split()[0].strip(" .:'\"")
            if code in ("timed_out", "connection_timed_out"):
                return Status.TIMEOUT, "render_timeout"
            return Status.NETWORK_ERROR, f"render_{code}"[:255]
        return Status.NETWORK_ERROR, "render_error"
    return classify_failure(exc)
