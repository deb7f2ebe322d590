"""Run the demo web until Ctrl-C: ``python -m crawler.demo [--port 8123] [--csv backlinks.csv]``.

The first line printed is ``port=N`` so a script that starts this in the background can read the port.
The night is switched with ``curl -X POST http://127.0.0.1:N/_demo/night/2``.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from crawler.demo.site import NIGHTS, SCENARIOS, DemoSite, write_backlinks_csv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.demo", description="Serve the demo web on 127.0.0.1 until Ctrl-C."
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--night", type=int, choices=NIGHTS, default=1)
    parser.add_argument("--delay-scale", type=float, default=1.0, help="scales the slow page's delay")
    parser.add_argument("--csv", type=Path, help="write the demo backlinks in our import format here")
    args = parser.parse_args(argv)

    with DemoSite(port=args.port, delay_scale=args.delay_scale) as site:
        site.night = args.night
        print(f"port={site.port}", flush=True)
        if args.csv:
            rows = write_backlinks_csv(args.csv, site.port, site.closed_port)
            print(f"wrote {rows} backlinks to {args.csv}")
        for scenario in SCENARIOS:
            print(f"  {scenario.name:26} {site.url(scenario)}")
        print(f"night {site.night}; switch with: curl -X POST http://127.0.0.1:{site.port}/_demo/night/2")
        print("Ctrl-C stops the server.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
