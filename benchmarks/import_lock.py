"""How long `backlinks import` keeps other SQLite writers waiting, and whether a writer gets through.

Writes N rows in our CSV format, imports them into a fresh SQLite file while a second process-like
thread tries a one-row write every 0.1 s (busy timeout 0.2 s), and reports the import's time, the
longest a writer had to wait, and how many of its writes failed.

    .venv/bin/python benchmarks/import_lock.py --rows 400000
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from crawler.core.importers import read_backlinks
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines import imports
from pipelines.imports import import_rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "links.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match"])
            for n in range(args.rows):
                writer.writerow([f"https://site{n % 5000}.example.org/post/{n}", "https://shop.example.com/", "exact"])
        db = Path(tmp) / "b.sqlite"
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        probe = sqlite3.connect(db, timeout=0.2, isolation_level=None, check_same_thread=False)
        probe.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
        stop, waits, failures = threading.Event(), [], [0]

        def write() -> None:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    probe.execute("BEGIN IMMEDIATE")
                    probe.execute("INSERT INTO probe VALUES (1)")
                    probe.execute("COMMIT")
                except sqlite3.OperationalError:
                    failures[0] += 1
                waits.append(time.monotonic() - began)
                time.sleep(0.1)

        # The write lock is taken by _take_turn and held until import_rows returns.
        turn: list[float] = []
        take_turn = imports._take_turn

        def timed_turn(*args: object) -> None:
            take_turn(*args)  # type: ignore[arg-type]
            turn.append(time.monotonic())

        imports._take_turn = timed_turn  # type: ignore[assignment]
        thread = threading.Thread(target=write)
        thread.start()
        began = time.monotonic()
        report = import_rows(make_sessionmaker(engine), read_backlinks(path), datetime.now(UTC))
        took = time.monotonic() - began
        stop.set()
        thread.join()
        # Writers that failed waited through the busy timeout and again: the lock was held from the
        # first failure to the last one (consecutive failures at 0.3 s intervals).
        longest = held = 0.0
        for wait in waits:
            held = held + 0.1 + wait if wait >= 0.2 else 0.0
            longest = max(longest, held)
        held = began + took - turn[0]
        print(f"rows {args.rows:,}: import {took:.1f} s (added {report.added:,}), write lock held {held:.1f} s; "
              f"a writer trying every 0.1 s: {len(waits)} attempts, {failures[0]} failed, "
              f"longest blocked stretch ~{longest:.1f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
