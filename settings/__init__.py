"""Scrapy settings for the backlink verifier.

Grouped like Scrapy's own ``default_settings.py``; every project setting carries the ``BACKLINKS_``
prefix and is documented in README.md. Tuned for the shape of this work: a known list of pages
spread over many hosts, one or two pages per host, fetched once per night.
"""

import os

from pipelines.db import database_url

BOT_NAME = "backlinks"
SPIDER_MODULES = ["crawler.shell.spiders"]
NEWSPIDER_MODULE = "crawler.shell.spiders"
# Our `crawl` replaces Scrapy's: its exit status says whether everything was stored (crawler/cli/app/exitcode.py).
COMMANDS_MODULE = "crawler.cli.commands"

# --- Storage ---------------------------------------------------------------------------------
# Any SQLAlchemy URL; the environment variable wins over the SQLite file in the current directory,
# and `-s BACKLINKS_DATABASE_URL=...` wins over both.
BACKLINKS_DATABASE_URL = database_url()
BACKLINKS_BATCH_SIZE = 500  # observations written per transaction
BACKLINKS_BATCH_SECONDS = 5.0  # ...or after this long, so a slow crawl still saves as it goes
# A batch that finds the database locked (an import, another crawl) is tried again with back-off for
# as long as the crawl runs; once it is closing (finished, or stopped by a signal), for this long more.
BACKLINKS_STORE_GRACE_SECONDS = 60.0

# --- What to check and when ------------------------------------------------------------------
BACKLINKS_RECHECK_HOURS = 20.0  # a backlink checked less than this long ago is not due yet
BACKLINKS_CONFIRM_MISSES = 2  # consecutive conclusive misses before a backlink is lost
# utm_*, gclid, fbclid...: a link with them still points to the target page.
BACKLINKS_STRIP_TRACKING = True
BACKLINKS_START_CHUNK = 500  # referring pages read from the database at a time
# A run with a larger share of inconclusive results (timeouts, blocks, 5xx...) is degraded: an outage
# or a blocked crawler, not the web. It moves no backlink to lost (its losses wait for a healthy run).
BACKLINKS_DEGRADED_SHARE = 0.5

# --- Reading pages (crawler/shell/pagepool.py) ---------------------------------------------------------
# Parsing and extraction run in worker processes, never on the reactor: a page lxml cannot read in
# BACKLINKS_PARSE_SECONDS (e.g. one element with a million attributes) is `too_large`,
# `parse_timeout`, and its worker is replaced. Two workers: one such page never stalls the others.
BACKLINKS_PARSE_WORKERS = 2
BACKLINKS_PARSE_SECONDS = 10.0

# --- Scale-out: several processes, one run (docs/production.md) ---------------------------------
# Processes claim referring registrable domains with a lease, extended while they work; a dead
# process's domains are claimed again once its lease runs out.
BACKLINKS_LEASE_SECONDS = 300.0
BACKLINKS_CLAIM_DOMAINS = 50  # domains claimed at a time
BACKLINKS_CLAIM_POLL_SECONDS = 5.0  # when all is claimed, how often to look for expired leases

# --- Name resolution for simulated webs ----------------------------------------------------------
# "*.test=127.0.0.1" style rules (comma-separated) so the demo, tests and benchmarks can serve
# thousands of fake hosts from one loopback server. Empty in production.
BACKLINKS_RESOLVE = os.environ.get("BACKLINKS_RESOLVE", "")
TWISTED_DNS_RESOLVER = "crawler.shell.resolver.MappedResolver"

# --- Address guard (docs/reliability.md) -----------------------------------------------------------
# Loopback, private, link-local, metadata and other non-public addresses are refused, after DNS and
# after every redirect, unless listed here: comma-separated CIDRs, e.g. "127.0.0.0/8" for a web
# served on loopback. Only http and https are ever fetched.
BACKLINKS_ALLOWED_NETWORKS = os.environ.get("BACKLINKS_ALLOWED_NETWORKS", "")
DOWNLOADER_MIDDLEWARES = {
    "crawler.shell.middlewares.guard.AddressGuardMiddleware": 50,  # first: nothing forbidden is fetched
    # robots.txt that times out or answers 5xx disallows the host (RFC 9309), instead of allowing all.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.shell.middlewares.robots.RobotsPolicyMiddleware": 100,
    # Only an immediate (0 s) refresh, meta tag or Refresh header, is a redirect (docs/reliability.md).
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.shell.middlewares.refresh.RefreshMiddleware": 580,
    # Next to the downloader: names each render's browser context and recycles retired ones.
    "crawler.shell.render.middleware.BrowserContexts": 950,
}

# --- JavaScript rendering (scrapy-playwright; docs/rendering.md) ----------------------------------
# never | auto | always; the `render` spider argument wins. auto: static HTML first, the browser only
# where it can change the answer (a static miss on a page that runs scripts), or at once for pages
# and domains that needed it in the last BACKLINKS_RENDER_MEMORY_DAYS.
BACKLINKS_RENDER = "auto"
# auto: confirm every static miss on a page with scripts by one render before it counts. Off: only
# pages with signs of client-side rendering (empty app root, noscript fallback, little text) are.
BACKLINKS_RENDER_CONFIRM_MISSES = True
BACKLINKS_RENDER_MEMORY_DAYS = 30.0
# "auto": /usr/lib/chromium/chromium-headless-shell, then chromium on the PATH, then a browser that
# `playwright install` downloaded; or the path of a Chromium executable.
BACKLINKS_BROWSER_PATH = os.environ.get("BACKLINKS_BROWSER_PATH", "auto")
BACKLINKS_RENDER_WAIT = 3.0  # seconds after DOMContentLoaded a page may take to insert the target's link
# Pages rendered at once, in their own download slot ("backlinks-browser") so renders never starve
# plain requests; also PLAYWRIGHT_MAX_PAGES_PER_CONTEXT (the spider sets both from this).
BACKLINKS_RENDER_CONCURRENCY = 4
BACKLINKS_RENDER_CONTEXT_PAGES = 100  # renders per browser context before it is closed and replaced
# A page left by a finished render serves the next render; one unused this many seconds is closed,
# so renders far apart do not keep renderer processes (~75 MB each) alive between them.
BACKLINKS_RENDER_PAGE_IDLE = 30.0
BACKLINKS_RENDER_JS_HEAP_MB = 512  # a page's JavaScript heap; beyond it the tab crashes, not the box
# scrapy-playwright's handler, one instance (one Playwright driver, one browser) for both schemes;
# it passes every request without meta["playwright"] to Scrapy's plain HTTP handler.
DOWNLOAD_HANDLERS = {
    "http": "crawler.shell.render.handler.SharedPlaywrightHandler",
    "https": "crawler.shell.render.handler.SharedPlaywrightHandler",
}
PLAYWRIGHT_BROWSER_TYPE = "chromium"
# The spider adds executable_path and the flags of crawler.shell.render.browser.LAUNCH_ARGS (no sandbox as
# root, no GPU, no calls home); the handler adds its guard proxy (crawler.shell.render.proxy).
PLAYWRIGHT_LAUNCH_OPTIONS: dict = {"headless": True}
PLAYWRIGHT_ABORT_REQUEST = "crawler.shell.render.browser.abort_request"  # images, fonts, media, beacons, frames
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 20_000  # ms until DOMContentLoaded; beyond it the render failed
PLAYWRIGHT_MAX_CONTEXTS = 2  # the current context and the one being retired
# Playwright in an event loop of its own thread (scrapy-playwright's Windows mechanism, enabled by
# this underscore setting): on the crawl's loop, busy with hundreds of static pages, each of a
# render's ~15 round trips to the browser waited its turn, creating a page took ~2 s, and in
# `render=auto` the renders trailed after the static crawl instead of running beside it.
_PLAYWRIGHT_THREADED_LOOP = True
PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER = True  # a crashed browser is relaunched for the next render

# --- Items ---------------------------------------------------------------------------------------
ITEM_PIPELINES = {"crawler.shell.storage.StoragePipeline": 300}
# The run service owns the database for the spider and the storage pipeline (crawler/shell/runservice.py).
EXTENSIONS = {"crawler.shell.runservice.RunService": 0, "crawler.shell.progress.Progress": 500}
BACKLINKS_PROGRESS_SECONDS = 30.0

# --- Politeness ----------------------------------------------------------------------------------
USER_AGENT = (
    "Mozilla/5.0 (compatible; BacklinksVerify/0.1; "
    "+https://github.com/backlinks-verify/backlinks-verify)"
)
ROBOTSTXT_OBEY = True
# robots.txt groups apply by product token (RFC 9309): the group naming BacklinksVerify, else `*`;
# never a group named after another word of USER_AGENT (Mozilla, compatible, github...).
ROBOTSTXT_USER_AGENT = "BacklinksVerify"
ROBOTSTXT_PARSER = "crawler.shell.middlewares.robots.ProductTokenRobotParser"
# One process is CPU-bound at ~100-200 pages/s (docs/benchmarks.md); 128 in flight keep it busy
# when pages take a second or more to arrive, and cost ~20 MiB of buffered responses.
CONCURRENT_REQUESTS = 128
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.0
# AutoThrottle's 5 s start delay would put every host's page 5 s behind its robots.txt.
AUTOTHROTTLE_ENABLED = False
COOKIES_ENABLED = False

# --- Downloads -------------------------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
DNS_TIMEOUT = 15
RETRY_ENABLED = True
RETRY_TIMES = 1
# 429 is a "slow down": retrying at once would ignore Retry-After; it is recorded as blocked_bot.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
REDIRECT_MAX_TIMES = 5
REACTOR_THREADPOOL_MAXSIZE = 20
# One or two pages per host: a kept-alive socket would sit idle for 240 s holding a file
# descriptor, and a big run runs out of them (pages lost, run still "finished"). Measured on the
# simulated web, closing costs no CPU worth counting (docs/benchmarks.md).
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
    "Connection": "close",
}
# Every status reaches the spider: a 404 is evidence, a 403 is an inconclusive result to record.
HTTPERROR_ALLOW_ALL = True
# Broad crawl: spread requests over hosts instead of draining one host's queue at a time
# (DownloaderAwarePriorityQueue), without starving the browser's one download slot.
SCHEDULER_PRIORITY_QUEUE = "crawler.shell.render.queue.RenderAwarePriorityQueue"
# Scrapy's downloader, but a slot's concurrency (per host, and the browser's) is kept when several
# requests wait in its queue: Scrapy 2.19 started them all at once (crawler/shell/upstream.py).
DOWNLOADER = "crawler.shell.upstream.SlotKeepingDownloader"
# Every observation passes each spider middleware; these only act on requests a callback follows
# (depth, referer, URL length), and verify follows no link (its render requests need none of
# them), so they would only cost CPU per item. RefererMiddleware stays, sending no Referer: without
# it the redirect middlewares warn on every crawl.
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
}
REFERRER_POLICY = "no-referrer"  # a verification visit claims to come from nowhere
TELNETCONSOLE_ENABLED = False  # a listening port nobody uses on a nightly job
# Scrapy 2.19's RemoteControl: an HTTP endpoint on loopback that executes Python sent to it (its
# token in a job file under the home directory). Off for the same reason as the telnet console.
REMOTE_CONTROL_ENABLED = False

# --- Output ------------------------------------------------------------------------------------------
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 60.0
FEED_EXPORT_ENCODING = "utf-8"
