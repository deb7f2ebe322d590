"""``python -m tests.support.simweb --port 0 [--seed 1 --latency-ms 50 ...]``: serve the simulated web.

Prints the port it listens on (one line, then flushes), serves until terminated. With
``--backlinks N --csv FILE`` it also writes the first N known backlinks for that port first.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from dataclasses import fields
from pathlib import Path

from tests.support.simweb.backlinks import write_backlinks_csv
from tests.support.simweb.model import SimConfig
from tests.support.simweb.server import config_from_arguments, make_app
from crawler.shell.webserver import start_runner


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.support.simweb", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--backlinks", type=int, default=0, help="write this many known backlinks...")
    parser.add_argument("--csv", type=Path, help="...to this CSV file (our import format)")
    for field in fields(SimConfig):
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=f"sim_{field.name}", type=str)
    return parser


async def _serve(config: SimConfig, listening: socket.socket) -> None:
    runner = await start_runner(make_app(config), listening)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Only now: whoever reads the port may stop us at once, and that must be a clean stop.
    print(listening.getsockname()[1], flush=True)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    options = _parser().parse_args(argv)
    given = {k.removeprefix("sim_"): v for k, v in vars(options).items() if k.startswith("sim_") and v is not None}
    config = config_from_arguments(given)
    if not options.host.startswith("127.") and options.host != "::1":
        sys.exit("simweb serves loopback only (127.0.0.0/8 or ::1)")
    listening = socket.create_server((options.host, options.port), backlog=1024)
    port = listening.getsockname()[1]
    if options.backlinks:
        if options.csv is None:
            sys.exit("--backlinks needs --csv FILE")
        write_backlinks_csv(options.csv, config, port, options.backlinks)
    asyncio.run(_serve(config, listening))


if __name__ == "__main__":
    main()
