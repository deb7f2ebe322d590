"""A backlinks database for a crawl test or a benchmark, imported from a CSV file as a user's would be."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from pipelines.imports import import_clean


def backlinks_database(workdir: Path, rows: Iterable[tuple[str, str, str]]) -> str:
    """A fresh SQLite database in ``workdir`` holding ``rows`` (referring URL, target URL, match),
    imported from a CSV file as a user's would be; its URL."""
    url = f"sqlite:///{workdir / 'backlinks.sqlite'}"
    path = workdir / "backlinks.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["referring_url", "target_url", "match"])
        writer.writerows(rows)
    import_clean(url, path)
    return url
