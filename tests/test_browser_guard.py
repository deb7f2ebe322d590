"""The address guard for the browser: the SOCKS5 proxy that every browser connection goes through.

127.0.0.1 is the allowed test network and 127.0.0.2 stands in for a forbidden address (as in the
fault crawl): a server there only counts connections, and must count none. Nothing here touches an
address outside loopback.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from aiohttp import web
from scrapy.utils.defer import deferred_f_from_coro_f

from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from crawler.core.guard import AddressGuard
from crawler.shell.render.proxy import GuardProxy, Reply, SocksError, _pipe, read_greeting, read_request
from crawler.shell.webserver import BackgroundServer
from pipelines.db import make_engine, make_sessionmaker
from pipelines.queries import iter_current

SHOP = "https://www.example-shop.test/"
ALLOWED = "127.0.0.1/32"
FORBIDDEN = "127.0.0.2"
RULES = (("dead.test", "!"), ("internal.test", FORBIDDEN), ("*.test", "127.0.0.1"))


# --- The protocol, on bytes ------------------------------------------------------------------------


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50", ("127.0.0.1", 80)),
        (b"\x05\x01\x00\x03\x09site.test\x01\xbb", ("site.test", 443)),
        (b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x1f\x90", ("::1", 8080)),
        (b"\x05\x01\x00\x03\x10xn--bcher-kva.ch\x00\x50", ("xn--bcher-kva.ch", 80)),
    ],
)
@deferred_f_from_coro_f
async def test_connect_requests_are_read(data: bytes, expected: tuple[str, int]) -> None:
    assert await read_request(_reader(data)) == expected


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (b"\x04\x01\x00\x01\x7f\x00\x00\x01\x00\x50", None),  # SOCKS4: hang up
        (b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50", Reply.COMMAND_NOT_SUPPORTED),  # BIND
        (b"\x05\x03\x00\x01\x7f\x00\x00\x01\x00\x50", Reply.COMMAND_NOT_SUPPORTED),  # UDP ASSOCIATE
        (b"\x05\x01\x00\x02\x7f\x00\x00\x01\x00\x50", Reply.ADDRESS_TYPE_NOT_SUPPORTED),
        (b"\x05\x01\x00\x03\x00\x00\x50", Reply.HOST_UNREACHABLE),  # an empty name
    ],
)
@deferred_f_from_coro_f
async def test_bad_requests_are_refused(data: bytes, reply: Reply | None) -> None:
    with pytest.raises(SocksError) as raised:
        await read_request(_reader(data))
    assert raised.value.reply == reply


@pytest.mark.parametrize(
    "data",
    [
        b"\x05\x01\x00\x01\x7f\x00",  # truncated address
        b"\x05\x01\x00\x03\x09site",  # truncated name
        b"\x05\x01\x00\x03\x02\xff\xfe\x00\x50",  # a name that is not ASCII
    ],
)
@deferred_f_from_coro_f
async def test_broken_requests_raise_and_never_hang(data: bytes) -> None:
    with pytest.raises((asyncio.IncompleteReadError, ValueError)):
        await read_request(_reader(data))


@pytest.mark.parametrize(
    ("data", "accepted"),
    [(b"\x05\x01\x00", True), (b"\x05\x02\x02\x00", True), (b"\x05\x01\x02", False)],
)
@deferred_f_from_coro_f
async def test_only_no_authentication_is_accepted(data: bytes, accepted: bool) -> None:
    assert await read_greeting(_reader(data)) is accepted


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_get_a_destination_or_a_clean_refusal(data: bytes) -> None:
    async def read() -> tuple[str, int]:
        reader = _reader(data)
        await read_greeting(reader)
        return await read_request(reader)

    # On a thread of its own: the reactor's event loop owns this one.
    with ThreadPoolExecutor(1) as pool:
        try:
            host, port = pool.submit(asyncio.run, read()).result()
        except (SocksError, asyncio.IncompleteReadError, ValueError):
            return
    assert host and 0 <= port <= 65535


# --- The proxy, with a plain socket client ----------------------------------------------------------


class Counting(BackgroundServer):
    """Accepts and counts connections on ``host``, and says nothing."""

    thread_name = "counting"

    def __init__(self, host: str) -> None:
        super().__init__(host, 0)
        self.connections = 0

    async def _serve(self, listening: socket.socket) -> None:
        async def count(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self._server = await asyncio.start_server(count, sock=listening)

    async def _shutdown(self) -> None:
        self._server.close()
        await super()._shutdown()


class Pages(BackgroundServer):
    """An allowed web on 127.0.0.1: a rendered page's redirects and scripts try to leave it."""

    thread_name = "pages"

    def __init__(self, forbidden_port: int) -> None:
        super().__init__("127.0.0.1", 0)
        self.forbidden_port = forbidden_port

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/plain", self._text("hello"))
        app.router.add_get("/robots.txt", self._text("User-agent: *\nAllow: /\n"))
        app.router.add_get("/nav-hop", self._to_secret)
        app.router.add_get("/hop", self._to_secret)
        app.router.add_get("/fetch-hop", self._fetch_hop)
        app.router.add_get("/fine", self._fine)
        return app

    @staticmethod
    def _text(text: str) -> Any:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(text=text)

        return handler

    async def _to_secret(self, _request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://internal.test:{self.forbidden_port}/latest/meta-data/")

    async def _fetch_hop(self, _request: web.Request) -> web.Response:
        # The link appears only once the redirected fetch() has failed or returned: by the time the
        # render finds it, the browser has tried the hop.
        script = (
            "fetch('/hop').then((r) => r.text()).catch(() => null).finally(() => {"
            f"  const a = document.createElement('a'); a.href = {SHOP!r}; a.textContent = 'Shop';"
            "  document.body.append(a); });"
        )
        return _html(f"<p>Partners</p><script>{script}</script>")

    async def _fine(self, _request: web.Request) -> web.Response:
        return _html(f'<p>We recommend <a href="{SHOP}">the shop</a>.</p>')


def _html(body: str) -> web.Response:
    page = f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>"
    return web.Response(text=page, content_type="text/html")


@pytest.fixture(scope="module")
def forbidden() -> Iterator[Counting]:
    with Counting(FORBIDDEN) as server:
        yield server


@pytest.fixture(scope="module")
def pages(forbidden: Counting) -> Iterator[Pages]:
    with Pages(forbidden.port) as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[GuardProxy]:
    with GuardProxy(AddressGuard.from_spec(ALLOWED), RULES, connect_timeout=2) as running:
        yield running


def _socks_connect(proxy: GuardProxy, host: str, port: int) -> tuple[int, socket.socket]:
    """A SOCKS5 CONNECT through ``proxy``; the reply code and the socket."""
    client = socket.create_connection((proxy.host, proxy.port), timeout=5)
    client.sendall(b"\x05\x01\x00")
    assert client.recv(2) == b"\x05\x00"
    name = host.encode()
    client.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
    answer = client.recv(10)
    assert len(answer) == 10 and answer[0] == 5
    return answer[1], client


def test_an_allowed_destination_is_relayed(proxy: GuardProxy, pages: Pages) -> None:
    code, client = _socks_connect(proxy, "blog.test", pages.port)
    with client:
        assert code == Reply.SUCCEEDED
        client.sendall(b"GET /plain HTTP/1.1\r\nHost: blog.test\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(b"hello")


@pytest.mark.parametrize(
    "host",
    [
        "internal.test",  # a name mapped to the forbidden address
        FORBIDDEN,  # the address itself
        "2130706434",  # 127.0.0.2 as one number, as Chromium never sends it but a client could
    ],
)
def test_a_forbidden_destination_is_refused_and_never_contacted(
    proxy: GuardProxy, forbidden: Counting, host: str
) -> None:
    before = forbidden.connections
    code, client = _socks_connect(proxy, host, forbidden.port)
    client.close()
    assert code == Reply.NOT_ALLOWED
    assert forbidden.connections == before
    assert proxy.counts["forbidden_address"] == 1


@pytest.mark.parametrize(
    ("host", "reply"),
    [("dead.test", Reply.HOST_UNREACHABLE), ("closed.test", Reply.CONNECTION_REFUSED)],
)
def test_unreachable_destinations_get_their_reply(proxy: GuardProxy, host: str, reply: Reply) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    with closed:
        code, client = _socks_connect(proxy, host, closed.getsockname()[1])
    client.close()
    assert code == reply
    assert proxy.counts["unreachable"] == 1 and proxy.counts["forbidden_address"] == 0


class _GoneWriter:
    """A stream writer whose peer has gone: shutdown(SHUT_WR) fails with ENOTCONN, as on Linux."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    async def drain(self) -> None:
        return None

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

    def close(self) -> None:
        self.closed = True


@deferred_f_from_coro_f
async def test_a_peer_that_has_gone_ends_the_relay_quietly() -> None:
    # Relaying the end of a stream to a peer that has gone raised OSError [Errno 107] out of the
    # relay, which asyncio logged as an unhandled error of the proxy's server.
    writer = _GoneWriter()
    await _pipe(_reader(b"last bytes"), writer)  # type: ignore[arg-type]
    assert writer.written == b"last bytes" and writer.closed


def test_a_connection_the_browser_gave_up_is_closed_upstream(proxy: GuardProxy) -> None:
    # A sub-resource whose server never answers: the browser cancels it (closes its socket) when
    # the render ends. The proxy must then end the relay, not hold the socket and a task until the
    # server gives up, which a hanging tracker never does.
    hang = socket.create_server(("127.0.0.1", 0))
    with hang:
        code, client = _socks_connect(proxy, "tracker.test", hang.getsockname()[1])
        assert code == Reply.SUCCEEDED
        upstream, _ = hang.accept()
        with upstream:
            client.sendall(b"GET /hang.js HTTP/1.1\r\nHost: tracker.test\r\n\r\n")
            assert proxy.relaying == 1
            client.close()
            deadline = time.monotonic() + 3
            while proxy.relaying and time.monotonic() < deadline:
                time.sleep(0.02)
            assert proxy.relaying == 0


def test_stopping_with_connections_open_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    # The crawl ends while sub-resources still hang: the proxy stops with relays open. Cancelled
    # handlers were logged by asyncio as "Exception in callback ...", an error in every such crawl.
    hang = socket.create_server(("127.0.0.1", 0))
    with hang, GuardProxy(AddressGuard.from_spec(ALLOWED), RULES, connect_timeout=2) as running:
        code, client = _socks_connect(running, "tracker.test", hang.getsockname()[1])
        upstream, _ = hang.accept()
        assert code == Reply.SUCCEEDED
        with client, upstream:
            running.stop()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


# --- A real browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(browser: str, pages: Pages, forbidden: Counting, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("browser-guard")
    paths = ("/fine", "/fetch-hop", "/nav-hop")
    url = backlinks_database(workdir, [(f"http://blog.test:{pages.port}{path}", SHOP, "exact") for path in paths])
    before = forbidden.connections
    settings = {
        "BACKLINKS_RESOLVE": ",".join(f"{pattern}={address}" for pattern, address in RULES),
        "BACKLINKS_ALLOWED_NETWORKS": ALLOWED,
        "BACKLINKS_RENDER_WAIT": "2",
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": "5000",
    }
    result = crawl(url, ["all=1", "render=always"], settings, log_level="INFO")
    assert result.returncode == 0, result.stderr[-4000:]
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        rows = {Path(row["referring_url"]).name: row for row in iter_current(session)}
    engine.dispose()
    return {"rows": rows, "stderr": result.stderr, "contacted": forbidden.connections - before}


@pytest.mark.browser
def test_the_browser_never_contacts_a_forbidden_address(rendered: dict[str, Any]) -> None:
    assert rendered["contacted"] == 0
    refused = re.search(r"'backlinks/browser_proxy/forbidden_address': (\d+)", rendered["stderr"])
    assert refused and int(refused.group(1)) >= 2  # the navigation's hop and the fetch()'s hop
    assert "Refused a browser connection to internal.test" in rendered["stderr"]


@pytest.mark.browser
def test_a_rendered_page_redirected_to_a_forbidden_address_is_inconclusive(rendered: dict[str, Any]) -> None:
    # The render fails (net::ERR_SOCKS_CONNECTION_FAILED) with no HTML of the page; the static
    # fetch that replaces it is refused by the plain handler's guard in turn.
    row = rendered["rows"]["nav-hop"]
    assert (row["status"], row["reason"]) == ("network_error", "forbidden_address")
    assert "'backlinks/render/failed/network_error': 1," in rendered["stderr"]


@pytest.mark.browser
def test_a_refused_fetch_does_not_spoil_the_page(rendered: dict[str, Any]) -> None:
    assert (rendered["rows"]["fetch-hop"]["status"], rendered["rows"]["fetch-hop"]["found_in"]) == ("live", "rendered")
    assert (rendered["rows"]["fine"]["status"], rendered["rows"]["fine"]["found_in"]) == ("live", "both")
