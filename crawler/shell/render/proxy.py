"""The address guard for everything the browser connects to: a SOCKS5 proxy on loopback.

Chromium routes only the first request of a navigation or fetch through Playwright's route handler;
the hops of a redirect are followed inside the browser, unseen. A referring page could redirect a
script's ``fetch()`` (or the page itself) to ``http://169.254.169.254/``. So the browser is launched
with ``--proxy-server=socks5://127.0.0.1:PORT`` and this proxy makes every TCP connection for it:
each redirect hop, sub-resource, WebSocket and service request is a new connection, and each is
judged by the same rules as plain requests (``BACKLINKS_RESOLVE`` mapping, then
:class:`crawler.core.guard.AddressGuard` on the address really connected to, so DNS rebinding gains
nothing). SOCKS5 rather than an HTTP proxy: Chromium hands it the host *name* for http and https
alike, and the proxy only relays bytes, so TLS stays end to end and no HTTP is parsed here.

A refused connection gets SOCKS reply 2 ("not allowed by ruleset"); Chromium reports every SOCKS
failure as ``net::ERR_SOCKS_CONNECTION_FAILED``, an inconclusive ``network_error`` for the page.
The proxy runs in its own thread and event loop: relaying never competes with the crawl's reactor.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import threading
from collections import Counter
from collections.abc import Sequence
from enum import IntEnum

from crawler.core.guard import SETTING as GUARD_SETTING
from crawler.core.guard import AddressGuard, RefusalLog, parse_host
from crawler.core.hostmap import NXDOMAIN, lookup
from crawler.shell.webserver import BackgroundServer

logger = logging.getLogger(__name__)

VERSION = 5
NO_AUTH, NO_ACCEPTABLE_METHOD = 0x00, 0xFF
CONNECT = 1
IPV4, DOMAIN, IPV6 = 1, 3, 4
_CHUNK = 64 * 1024


class Reply(IntEnum):
    """SOCKS5 reply codes (RFC 1928, section 6)."""

    SUCCEEDED = 0
    GENERAL_FAILURE = 1
    NOT_ALLOWED = 2
    NETWORK_UNREACHABLE = 3
    HOST_UNREACHABLE = 4
    CONNECTION_REFUSED = 5
    TTL_EXPIRED = 6
    COMMAND_NOT_SUPPORTED = 7
    ADDRESS_TYPE_NOT_SUPPORTED = 8


class SocksError(Exception):
    """The connection cannot be made; ``reply`` is what the client is told (None: just hang up)."""

    def __init__(self, reply: Reply | None, message: str):
        super().__init__(message)
        self.reply = reply


class Refused(SocksError):
    """The destination is an address the guard refuses."""

    def __init__(self, host: str, address: str, kind: str):
        super().__init__(Reply.NOT_ALLOWED, f"{host} is a {kind} address ({address})")
        self.kind = kind


def reply(code: Reply) -> bytes:
    """A reply with an empty bound address: Chromium does not use it."""
    return bytes((VERSION, code, 0, IPV4)) + bytes(6)


async def read_greeting(reader: asyncio.StreamReader) -> bool:
    """Read the client's method offer; whether it accepts "no authentication"."""
    version, count = await reader.readexactly(2)
    if version != VERSION:
        raise SocksError(None, f"not SOCKS5 (version byte {version})")
    return NO_AUTH in await reader.readexactly(count)


async def read_request(reader: asyncio.StreamReader) -> tuple[str, int]:
    """Read a CONNECT request; its destination host (name or address) and port."""
    version, command, _reserved, kind = await reader.readexactly(4)
    if version != VERSION:
        raise SocksError(None, f"not SOCKS5 (version byte {version})")
    if kind == IPV4:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif kind == IPV6:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    elif kind == DOMAIN:
        (length,) = await reader.readexactly(1)
        host = (await reader.readexactly(length)).decode("ascii")  # Chromium sends IDNs as punycode
    else:
        raise SocksError(Reply.ADDRESS_TYPE_NOT_SUPPORTED, f"address type {kind}")
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    if command != CONNECT:  # BIND and UDP ASSOCIATE: the browser never needs them
        raise SocksError(Reply.COMMAND_NOT_SUPPORTED, f"command {command}")
    if not host:
        raise SocksError(Reply.HOST_UNREACHABLE, "empty host name")
    return host, port


async def addresses(host: str, port: int, rules: Sequence[tuple[str, str]]) -> list[str]:
    """Where ``host`` points, as the plain handler's resolver sees it: rules first, then DNS."""
    if parse_host(host) is not None:
        return [host.strip("[]")]
    mapped = lookup(rules, host)
    if mapped == NXDOMAIN:
        raise SocksError(Reply.HOST_UNREACHABLE, f"{host} does not resolve (BACKLINKS_RESOLVE)")
    if mapped is not None:
        return [mapped]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise SocksError(Reply.HOST_UNREACHABLE, f"{host} does not resolve ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def allowed(host: str, found: Sequence[str], guard: AddressGuard) -> list[str]:
    """The addresses among ``found`` the guard lets us connect to; :class:`Refused` if none."""
    kept = [address for address in found if guard.refusal(address) is None]
    if not kept:
        raise Refused(host, found[0], guard.refusal(found[0]) or "unknown")
    return kept


class GuardProxy(BackgroundServer):
    """A SOCKS5 proxy on 127.0.0.1 that connects only where the address guard allows."""

    thread_name = "browser-guard-proxy"

    def __init__(self, guard: AddressGuard, rules: Sequence[tuple[str, str]] = (), connect_timeout: float = 10.0):
        super().__init__("127.0.0.1", 0)
        self.guard = guard
        self.rules = tuple(rules)
        self.connect_timeout = connect_timeout
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()  # written by the proxy's thread, read by the crawl's
        self._relaying = 0
        self._refusals = RefusalLog()  # used by the proxy's thread only
        self._server: asyncio.Server | None = None

    @property
    def counts(self) -> Counter[str]:
        """Connections relayed, refused (``forbidden_address``) and failed (``unreachable``)."""
        with self._counts_lock:
            return Counter(self._counts)

    @property
    def relaying(self) -> int:
        """Connections being relayed now."""
        with self._counts_lock:
            return self._relaying

    def _relay(self, step: int) -> None:
        with self._counts_lock:
            self._relaying += step

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    @property
    def launch_args(self) -> list[str]:
        """Chromium flags that send all its traffic here, loopback included (which Chromium would
        otherwise connect to directly), and keep WebRTC from sending UDP around the proxy."""
        return [
            f"--proxy-server=socks5://{self.host}:{self.port}",
            "--proxy-bypass-list=<-loopback>",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        ]

    async def _serve(self, listening: socket.socket) -> None:
        self._server = await asyncio.start_server(self._client, sock=listening)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await super()._shutdown()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            if not await read_greeting(reader):
                writer.write(bytes((VERSION, NO_ACCEPTABLE_METHOD)))
                return
            writer.write(bytes((VERSION, NO_AUTH)))
            host, port = await read_request(reader)
            try:
                up_reader, upstream = await self._connect(host, port)
            except SocksError as exc:
                self._note(host, port, exc)
                if exc.reply is not None:
                    writer.write(reply(exc.reply))
                return
            self._relay(1)
            to_browser: asyncio.Future[None] | None = None
            try:
                writer.write(reply(Reply.SUCCEEDED))
                self._count("connections")
                to_browser = asyncio.ensure_future(_pipe(up_reader, writer))
                # The browser never half-closes: once it is done (a cancelled request, a page
                # navigated away), the connection is over, even if the server never answers. Left
                # to the server, every hanging sub-resource held a socket and a task for good.
                await _pipe(reader, upstream)
            finally:
                if to_browser is not None:
                    to_browser.cancel()
                    await asyncio.gather(to_browser, return_exceptions=True)
                self._relay(-1)
        except (asyncio.IncompleteReadError, SocksError, OSError, ValueError) as exc:
            logger.debug("Browser proxy: dropped a connection: %r", exc)
        except asyncio.CancelledError:
            # The proxy is stopping with this connection open. Ending normally, not cancelled:
            # asyncio's stream server asks a cancelled handler for its exception, which raises,
            # and logs that as an error of the crawl.
            logger.debug("Browser proxy: closed a connection on shutdown")
        finally:
            for stream in (upstream, writer):
                if stream is not None:
                    stream.close()

    async def _connect(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        candidates = allowed(host, await addresses(host, port, self.rules), self.guard)
        failure: OSError | None = None
        for address in candidates:
            try:
                return await asyncio.wait_for(asyncio.open_connection(address, port), self.connect_timeout)
            except OSError as exc:  # refused, unreachable, or the connect timed out
                failure = exc
        code = Reply.CONNECTION_REFUSED if isinstance(failure, ConnectionRefusedError) else Reply.HOST_UNREACHABLE
        raise SocksError(code, f"{host}:{port} unreachable ({failure!r})")

    def _note(self, host: str, port: int, exc: SocksError) -> None:
        if not isinstance(exc, Refused):
            self._count("unreachable")
            logger.debug("Browser proxy: %s", exc)
            return
        self._count("forbidden_address")
        logger.log(self._refusals.level(host), "Refused a browser connection to %s:%d: %s; allow it with %s if it is yours",
                   host, port, exc, GUARD_SETTING)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the end on (half-close), so either side may finish first.

    Any socket error ends the relay quietly: a peer that has gone makes ``write_eof`` (``shutdown``)
    fail with ``ENOTCONN``, which is an ``OSError`` but not a ``ConnectionError``; unhandled, asyncio
    logged it as an error of the proxy's server for every such connection."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError as exc:  # ConnectionError included
        logger.debug("Browser proxy: a peer has gone: %r", exc)
        writer.close()
