"""Scrapy settings for the backlink verifier.

Grouped like Scrapy's own ``default_settings.py``; every project setting carries the ``BACKLINKS_``
prefix and is documented in README.md. Tuned for the shape of this work: a known list of pages
spread over many hosts, one or two pages per host, fetched once per night.
"""

import os

from pipelines.db import database_url

BOT_NAME = "backlinks"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- Storage ---------------------------------------------------------------------------------
# Any SQLAlchemy URL; the environment variable wins over the SQLite file in the current directory,
# and `-s BACKLINKS_DATABASE_URL=...` wins over both.
BACKLINKS_DATABASE_URL = database_url()
BACKLINKS_BATCH_SIZE = 500  # observations written per transaction
BACKLINKS_BATCH_SECONDS = 5.0  # ...or after this long, so a slow crawl still saves as it goes

# --- What to check and when ------------------------------------------------------------------
BACKLINKS_RECHECK_HOURS = 20.0  # a backlink checked less than this long ago is not due yet
BACKLINKS_CONFIRM_MISSES = 2  # consecutive conclusive misses before a backlink is lost
# utm_*, gclid, fbclid...: a link with them still points to the target page.
BACKLINKS_STRIP_TRACKING = True
BACKLINKS_START_CHUNK = 500  # referring pages read from the database at a time

# --- Name resolution for simulated webs ----------------------------------------------------------
# "*.test=127.0.0.1" style rules (comma-separated) so the demo, tests and benchmarks can serve
# thousands of fake hosts from one loopback server. Empty in production.
BACKLINKS_RESOLVE = os.environ.get("BACKLINKS_RESOLVE", "")
TWISTED_DNS_RESOLVER = "crawler.resolver.MappedResolver"

# --- Items ---------------------------------------------------------------------------------------
ITEM_PIPELINES = {"pipelines.storage.StoragePipeline": 300}
EXTENSIONS = {"crawler.progress.Progress": 500}
BACKLINKS_PROGRESS_SECONDS = 30.0

# --- Politeness ----------------------------------------------------------------------------------
USER_AGENT = (
    "Mozilla/5.0 (compatible; BacklinksVerify/0.1; "
    "+https://github.com/backlinks-verify/backlinks-verify)"
)
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
CONCURRENT_REQUESTS = 64
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
REDIRECT_MAX_TIMES = 5
REACTOR_THREADPOOL_MAXSIZE = 20
# Every status reaches the spider: a 404 is evidence, a 403 is an inconclusive result to record.
HTTPERROR_ALLOW_ALL = True
# Broad crawl: spread requests over hosts instead of draining one host's queue at a time.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"

# --- Output ------------------------------------------------------------------------------------------
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 60.0
FEED_EXPORT_ENCODING = "utf-8"
