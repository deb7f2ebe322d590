"""Scrapy settings for the backlink verifier.

Grouped like Scrapy's own ``default_settings.py``. Tuned for the shape of this work: a known list
of pages spread over many hosts, one or two pages per host, fetched once per night.

Only Scrapy's settings live here. The project's own ``BACKLINKS_*`` settings are declared, with
their defaults and checks, in ``crawler/shell/config.py`` (README.md lists them); set one here only
to differ from its default. The Scrapy settings that follow from them or from the crawl's render
mode (download handlers, the browser's download slot, scrapy-playwright's) are set by the add-on.
Nothing here reads the environment.
"""

BOT_NAME = "backlinks"
SPIDER_MODULES = ["crawler.shell.spiders"]
NEWSPIDER_MODULE = "crawler.shell.spiders"
# Our `crawl` replaces Scrapy's: its exit status says whether everything was stored (crawler/cli/exitcode.py).
COMMANDS_MODULE = "crawler.cli.commands"
# Wires rendering (scrapy-playwright) into Scrapy for each crawl (crawler/shell/addon.py).
ADDONS = {"crawler.shell.addon.BacklinksAddon": 0}

# --- Name resolution ------------------------------------------------------------------------------
# BACKLINKS_RESOLVE's host mapping, then DNS; either way the address guard judges the address.
# Scrapy builds the resolver from the process's settings, before any crawler and its add-ons.
TWISTED_DNS_RESOLVER = "crawler.shell.resolver.MappedResolver"

# --- Address guard (docs/reliability.md) -----------------------------------------------------------
# Loopback, private, link-local, metadata and other non-public addresses are refused, after DNS and
# after every redirect, unless BACKLINKS_ALLOWED_NETWORKS lists them.
DOWNLOADER_MIDDLEWARES = {
    "crawler.shell.middlewares.guard.AddressGuardMiddleware": 50,  # first: nothing forbidden is fetched
    # robots.txt that times out or answers 5xx disallows the host (RFC 9309), instead of allowing all.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.shell.middlewares.robots.RobotsPolicyMiddleware": 100,
    # Only an immediate (0 s) refresh, meta tag or Refresh header, is a redirect (docs/reliability.md).
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.shell.middlewares.refresh.RefreshMiddleware": 580,
}

# --- Items ---------------------------------------------------------------------------------------
ITEM_PIPELINES = {"crawler.shell.storage.StoragePipeline": 300}
# The run service owns the database for the spider and the storage pipeline (crawler/shell/runservice.py).
EXTENSIONS = {"crawler.shell.runservice.RunService": 0, "crawler.shell.progress.Progress": 500}

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
# A page that still fails after its retry is an expected outcome, stored as an inconclusive status
# (timeout, server_error, ...): INFO, not Scrapy's ERROR, so ERROR lines in a cron log mean a fault of ours.
RETRY_GIVE_UP_LOG_LEVEL = "INFO"
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
