"""The import formats, in one place: adding an importer means a module and a line here.

Every delimited format is a module that fits :class:`~crawler.core.importers.tabular.TabularFormat`;
``json`` and ``list`` have readers of their own.
"""

from __future__ import annotations

from crawler.core.importers import ahrefs, gsc, majestic, moz, ours, semrush
from crawler.core.importers.tabular import TabularFormat

FORMATS: tuple[str, ...] = ("csv", "json", "list", "gsc", "ahrefs", "semrush", "majestic", "moz")
TABULAR: dict[str, TabularFormat] = {m.NAME: m for m in (ours, gsc, ahrefs, semrush, majestic, moz)}
# These exports say a page links to the site, not to which URL of it: their match defaults to domain.
SITE_TARGET_FORMATS = frozenset({"gsc", "list"})
