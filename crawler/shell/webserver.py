"""An aiohttp application served on loopback from a background thread with its own event loop.

The demo web, the JavaScript test web and the simulated web all run beside a crawl started from the
same process (tests, `backlinks demo`, benchmarks): each subclasses :class:`BackgroundServer` and
only says which application it serves. A server that is not an aiohttp application (the browser's
guard proxy) overrides ``_serve`` and ``_shutdown`` instead.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Self

from aiohttp import web

SHUTDOWN_TIMEOUT = 0.1


class BackgroundServer:
    thread_name = "web"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> Self:
        listening = socket.create_server((self.host, self.port), backlog=1024)
        self.port = listening.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(listening), self._loop).result()
        return self

    async def _serve(self, listening: socket.socket) -> None:
        self._runner = await start_runner(self.make_app(), listening)

    def listen_also(self, addresses: list[str]) -> set[str]:
        """Serve the application on ``addresses`` too, on the same port (after start()); returns the
        addresses it could bind."""
        bound = set()
        for address in addresses:
            try:
                listening = socket.create_server((address, self.port), backlog=1024)
            except OSError:
                continue
            asyncio.run_coroutine_threadsafe(self._add_site(listening), self._loop).result()  # type: ignore[arg-type]
            bound.add(address)
        return bound

    async def _add_site(self, listening: socket.socket) -> None:
        assert self._runner is not None, "listen_also() before start()"
        await web.SockSite(self._runner, listening, backlog=1024).start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # cleanup() cancels handlers it gave up waiting for but does not await them; let them finish
        # here, or closing the loop would destroy them while pending.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def start_runner(app: web.Application, listening: socket.socket) -> web.AppRunner:
    # handler_cancellation: when a crawler gives up on a slow page or a long stream, the handler is
    # cancelled instead of sleeping or writing on.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    await web.SockSite(runner, listening, backlog=1024).start()
    return runner
