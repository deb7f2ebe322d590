"""A hostile web on 127.0.0.1: servers that misbehave in every way a crawler meets in the wild.

aiohttp cannot lie about Content-Length, reset a connection mid-body or never answer, so this is a
raw asyncio TCP server speaking just enough HTTP/1.1. Every fault has its own fake host
(``<name>.test``, mapped to 127.0.0.1 by ``BACKLINKS_RESOLVE``) and states the status and reason a
backlink on it must get. Also here:

- a listening socket whose accept queue is full, so connecting to it times out;
- a *forbidden* server on 127.0.0.2 that only counts connections: redirects point at it, and the
  crawl's settings allow 127.0.0.1/32 only, so the count must stay zero.

Nothing here talks to any address outside 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

TARGET = "https://client.example/"
LINK = f'<a href="{TARGET}">our client</a>'
FORBIDDEN_HOST = "127.0.0.2"
SITE_PREFIX = "site-"
MAX_HEAD = 64 * 1024


def page(body: str = "", *, title: str = "A page") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body><p>{body}</p></body></html>"


LINKED_PAGE = page(f"Read about {LINK} here.")


@dataclass(frozen=True)
class Fault:
    name: str  # the host is f"{name}.test"
    note: str
    expect: tuple[str, str | None]  # (status, reason) stored for a backlink on the page
    scheme: str = "http"
    path: str = "/page"
    fetched: bool | None = None  # whether the page itself may be requested (None: do not care)

    @property
    def host(self) -> str:
        return f"{self.name}.test"


Writer = asyncio.StreamWriter
Handler = Callable[["FaultServer", Writer, str], Awaitable[None]]


def head(status: int, headers: dict[str, str] | None = None, *, reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def respond(writer: Writer, status: int, body: bytes | str, content_type: str = "text/html; charset=utf-8", **extra: str) -> None:
    data = body.encode("utf-8") if isinstance(body, str) else body
    headers = {"Content-Type": content_type, "Content-Length": str(len(data)), "Connection": "close"}
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    writer.write(head(status, headers) + data)
    await writer.drain()


async def hang(server: FaultServer, _writer: Writer, _path: str) -> None:
    await server.stopping.wait()


async def _read_timeout(s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    await hang(s, w, path)


async def _ok(_s: FaultServer, w: Writer, path: str) -> None:
    await respond(w, 404 if path == "/robots.txt" else 200, LINKED_PAGE)


async def _slow_loris(_s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    w.write(head(200, {"Content-Type": "text/html", "Content-Length": str(len(LINKED_PAGE))}))
    for char in LINKED_PAGE:  # one byte a second: the page would take minutes
        if w.is_closing() or _s.stopping.is_set():
            return
        w.write(char.encode())
        await w.drain()
        await asyncio.sleep(1)


async def _reset(_s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    w.write(head(200, {"Content-Type": "text/html", "Content-Length": "100000"}) + LINKED_PAGE.encode())
    await w.drain()
    sock = w.get_extra_info("socket")
    # SO_LINGER 0: close() sends RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.transport.abort()


async def _truncated(_s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    # Promises 5000 bytes, sends the page (with the link) and closes cleanly.
    w.write(head(200, {"Content-Type": "text/html", "Content-Length": "5000", "Connection": "close"}) + LINKED_PAGE.encode())
    await w.drain()


async def _chunked_cut(_s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    data = LINKED_PAGE.encode()
    w.write(head(200, {"Content-Type": "text/html", "Transfer-Encoding": "chunked"}) + b"%x\r\n%s\r\n" % (len(data), data))
    await w.drain()  # ...and no terminating zero-size chunk


BOMB = gzip.compress(b"<p>" + b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB in ~64 KiB


async def _gzip_bomb(_s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    await respond(w, 200, BOMB, Content_Encoding="gzip")


async def _too_large(s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    w.write(head(200, {"Content-Type": "text/html", "Content-Length": str(64 * 1024 * 1024)}) + LINKED_PAGE.encode())
    await w.drain()
    await hang(s, w, path)


async def _too_large_stream(_s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    w.write(head(200, {"Content-Type": "text/html", "Connection": "close"}) + LINKED_PAGE.encode())
    chunk = b"<p>" + b"x" * (64 * 1024) + b"</p>"
    for _ in range(1024):  # 64 MiB, no Content-Length: only the running count can stop it
        if w.is_closing():
            return
        w.write(chunk)
        await w.drain()


def _redirect(location: Callable[[FaultServer, str], str]) -> Handler:
    async def handler(s: FaultServer, w: Writer, path: str) -> None:
        if path == "/robots.txt":
            return await respond(w, 404, "")
        await respond(w, 302, "", Location=location(s, path))

    return handler


def _loop_location(_s: FaultServer, path: str) -> str:
    return "/b" if path == "/page" else "/page"


def _chain_location(_s: FaultServer, path: str) -> str:
    step = int(path.rsplit("/", 1)[1]) if path.startswith("/hop/") else 0
    return f"/hop/{step + 1}"


def _body(data: bytes, content_type: str) -> Handler:
    async def handler(_s: FaultServer, w: Writer, path: str) -> None:
        if path == "/robots.txt":
            return await respond(w, 404, "")
        await respond(w, 200, data, content_type)

    return handler


def _status(status: int, body: str, content_type: str = "text/html; charset=utf-8", **extra: str) -> Handler:
    async def handler(_s: FaultServer, w: Writer, path: str) -> None:
        if path == "/robots.txt":
            return await respond(w, 404, "")
        await respond(w, status, body, content_type, **extra)

    return handler


def _robots(robots: Handler) -> Handler:
    async def handler(s: FaultServer, w: Writer, path: str) -> None:
        if path == "/robots.txt":
            return await robots(s, w, path)
        await respond(w, 200, LINKED_PAGE)

    return handler


async def _robots_503(_s: FaultServer, w: Writer, _path: str) -> None:
    await respond(w, 503, "<h1>Service Unavailable</h1>")


async def _robots_404(_s: FaultServer, w: Writer, _path: str) -> None:
    await respond(w, 404, "<h1>Not Found</h1>")


async def _http10_headers_only(_s: FaultServer, w: Writer, path: str) -> None:
    if path == "/robots.txt":
        return await respond(w, 404, "")
    # HTTP/1.0 without Content-Length: the body ends when the connection does, here at once.
    w.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
    await w.drain()


REFRESH_TO = "/other"  # where every refresh fault points


def _refresh(*, meta: str | None = None, header: str | None = None, status: int = 200) -> Handler:
    """A page that refreshes to /other. An immediate refresh of a 200 is a redirect: the link is on
    /other only. A delayed one is not: the link is on the page, and /other (no link) must not be
    fetched; nor is it from an error page, whose status decides."""
    followed = (meta or header or "").startswith("0;") and status == 200

    async def handler(_s: FaultServer, w: Writer, path: str) -> None:
        if path == "/robots.txt":
            return await respond(w, 404, "")
        if path == REFRESH_TO:
            return await respond(w, 200, LINKED_PAGE if followed else page("Moved on, no link here."))
        tag = f'<meta http-equiv="refresh" content="{meta}">' if meta else ""
        html = page(f"Read about {LINK} here." if status == 200 and not followed else "Nothing to see.")
        await respond(w, status, html.replace("<title>", tag + "<title>"), **({"Refresh": header} if header else {}))

    return handler


async def _not_http(_s: FaultServer, w: Writer, _path: str) -> None:
    w.write(b"SSH-2.0-OpenSSH_9.6\r\n")
    await w.drain()


async def _close(_s: FaultServer, w: Writer, _path: str) -> None:
    w.close()


MANY_LINKS = page("".join(f'<a href="/p/{i}">link {i}</a> ' for i in range(100_000)) + LINK)
# lxml checks each attribute of an element against all before it: quadratic, hours for this one.
ATTRIBUTE_BOMB = "<!doctype html><html><body><div " + " ".join(f"a{i}=1" for i in range(150_000)) + ">" + LINK + "</div>"
DEEP_DOM = "<!doctype html><html><body>" + "<div>" * 50_000 + LINK + "</div>" * 50_000 + "</body></html>"
DEEP_UNCLOSED = "<html><body>" + "<span><b><i>" * 20_000 + LINK
MALFORMED = (
    "\0<html><head><title>broken</title><meta charset=nonsense><base href='::::'>"
    "<body><table><tr><td><a href=/x><a href=/y>nested</a></td></tr><div <a href='></div>"
    "<!-- unclosed comment <a href='/hidden'>no</a> --!>"
    "<p><b><i>mis</b>nested</i></p><a href=\"javascript:alert(1)\">js</a><a href=\"\t\nhttps://cli\nent.example/\t\">"
    "our client</a><![CDATA[ x ]]><svg><a xlink:href='/svg'>s</a></svg><form><a href=>empty</a>"
    "\x01\x02\x7f\ud7ff<a href=https://client.example/>again</a><script>document.write('<a href=x>')</script>"
    "</html></html><html><<<<>>>>&&&&#xffffffff;&#0;"
)
LATIN1_PAGE = page(f"Caf\u00e9 cr\u00e8me {LINK}").encode("latin-1")
GARBAGE = os.urandom(64 * 1024)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + os.urandom(4096) + b"\n%%EOF"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(4096)
CHALLENGE = page("Checking your browser before accessing... cf-chl-bypass", title="Just a moment...")

FAULTS: tuple[Fault, ...] = (
    Fault("ok", "a well-behaved page: the control", ("live", None), fetched=True),
    # A host that never completes a connection fails at its robots.txt, so nothing is fetched.
    Fault("connect-timeout", "the accept queue is full: no TCP connection completes", ("blocked_robots", "robots.txt timeout")),
    Fault("read-timeout", "accepts, reads the request, never answers", ("timeout", "timeout"), fetched=True),
    Fault("slow-loris", "answers one byte a second", ("timeout", "timeout"), fetched=True),
    Fault("reset", "connection reset (RST) mid-body", ("network_error", "data_loss"), fetched=True),
    Fault("truncated", "Content-Length 5000, closes after 250 bytes", ("network_error", "data_loss"), fetched=True),
    Fault("chunked-cut", "chunked body without its last chunk", ("network_error", "data_loss"), fetched=True),
    Fault("empty-reply", "closes the connection without a word", ("network_error", "download_failed")),
    Fault("not-http", "answers with something that is not HTTP", ("network_error", "download_failed")),
    Fault("gzip-bomb", "64 KiB of gzip that inflates to 64 MiB", ("too_large", "decompressed_maxsize"), fetched=True),
    Fault("too-large", "Content-Length of 64 MiB", ("too_large", "download_maxsize"), fetched=True),
    Fault("too-large-stream", "64 MiB streamed without Content-Length", ("too_large", "download_maxsize"), fetched=True),
    Fault("redirect-loop", "/page -> /b -> /page ...", ("server_error", "too_many_redirects"), fetched=True),
    Fault("redirect-chain", "/page -> /hop/1 -> /hop/2 -> ... (never ends)", ("server_error", "too_many_redirects"), fetched=True),
    Fault("redirect-forbidden", "redirects to 127.0.0.2 (forbidden in this crawl)", ("network_error", "forbidden_address"), fetched=True),
    Fault("redirect-forbidden-name", "redirects to a name that resolves to 127.0.0.2", ("network_error", "forbidden_address"), fetched=True),
    Fault("redirect-decimal", "redirects to http://2130706434/ (127.0.0.2 spelt as one number)", ("network_error", "forbidden_address"), fetched=True),
    Fault("redirect-file", "redirects to file:///etc/passwd", ("server_error", "302"), fetched=True),
    Fault("lying-charset", "says UTF-8, sends Latin-1", ("live", None), fetched=True),
    Fault("unknown-charset", "charset=x-no-such-charset", ("live", None), fetched=True),
    Fault("garbage", "64 KiB of random bytes as text/html", ("not_html", "text/html"), fetched=True),
    Fault("pdf-as-html", "a PDF served as text/html", ("not_html", "text/html"), fetched=True),
    Fault("png", "an image where the page was", ("not_html", "image/png"), fetched=True),
    Fault("empty-200", "200, Content-Length: 0", ("server_error", "empty_body"), fetched=True),
    Fault("blank-200", "200, a body of whitespace only", ("server_error", "empty_body"), fetched=True),
    Fault("http10-headers-only", "HTTP/1.0 200, closes right after the headers", ("server_error", "empty_body"), fetched=True),
    Fault("refresh-delayed", "has the link, <meta> refresh after 30 s to /other", ("live", None), fetched=True),
    Fault("refresh-header-delayed", "has the link, Refresh: 30 header to /other", ("live", None), fetched=True),
    Fault("refresh-now", "no link, <meta> refresh after 0 s to /other, which has it", ("live", None), fetched=True),
    Fault("refresh-header-now", "no link, Refresh: 0 header to /other, which has it", ("live", None), fetched=True),
    Fault("refresh-503", "503 with a <meta> refresh after 0 s to /other, a 200 without the link", ("server_error", "503"), fetched=True),
    Fault("challenge-403", "403 bot challenge page", ("blocked_bot", "403"), fetched=True),
    Fault("challenge-503", "503 with cf-mitigated: challenge", ("blocked_bot", "503"), fetched=True),
    Fault("rate-limited", "429 with Retry-After: 3600", ("blocked_bot", "429"), fetched=True),
    Fault("robots-timeout", "robots.txt never answers", ("blocked_robots", "robots.txt timeout"), fetched=False),
    Fault("robots-503", "robots.txt answers 503", ("blocked_robots", "robots.txt 503"), fetched=False),
    Fault("robots-404", "no robots.txt (404): everything allowed", ("live", None), fetched=True),
    Fault("dns-fail", "the host does not resolve", ("network_error", "dns")),
    Fault("tls", "https to a server that does not speak TLS", ("network_error", "tls"), scheme="https"),
    Fault("forbidden-literal", "the referring page itself is on 127.0.0.2", ("network_error", "forbidden_address")),
    Fault("many-links", "100,000 links on one page", ("live", None), fetched=True),
    # The HTML parser drops what lies deeper than its limit: a miss there is no evidence.
    Fault("deep-dom", "50,000 nested <div>s around the link", ("too_large", "dom_depth"), fetched=True),
    Fault("deep-unclosed", "60,000 unclosed inline tags before the link", ("too_large", "dom_depth"), fetched=True),
    Fault("malformed", "NUL bytes, nested <a>, broken comments and quotes, stray CDATA", ("live", None), fetched=True),
    # Read in a worker process with a time budget: the reactor, and every other page, go on.
    Fault("attribute-bomb", "one <div> with 150,000 attributes (1.5 MB)", ("too_large", "parse_timeout"), fetched=True),
)

HANDLERS: dict[str, Handler] = {
    "ok": _ok,
    "read-timeout": _read_timeout,
    "slow-loris": _slow_loris,
    "reset": _reset,
    "truncated": _truncated,
    "chunked-cut": _chunked_cut,
    "empty-reply": _close,
    "not-http": _not_http,
    "gzip-bomb": _gzip_bomb,
    "too-large": _too_large,
    "too-large-stream": _too_large_stream,
    "redirect-loop": _redirect(_loop_location),
    "redirect-chain": _redirect(_chain_location),
    "redirect-forbidden": _redirect(lambda s, _p: f"http://{FORBIDDEN_HOST}:{s.forbidden_port}/secret"),
    "redirect-forbidden-name": _redirect(lambda s, _p: f"http://internal.test:{s.forbidden_port}/secret"),
    "redirect-decimal": _redirect(lambda s, _p: f"http://2130706434:{s.forbidden_port}/secret"),
    "redirect-file": _redirect(lambda _s, _p: "file:///etc/passwd"),
    "lying-charset": _body(LATIN1_PAGE, "text/html; charset=utf-8"),
    "unknown-charset": _body(LINKED_PAGE.encode(), "text/html; charset=x-no-such-charset"),
    "garbage": _body(GARBAGE, "text/html"),
    "pdf-as-html": _body(PDF, "text/html"),
    "png": _body(PNG, "image/png"),
    "empty-200": _body(b"", "text/html; charset=utf-8"),
    "blank-200": _body(b"  \r\n\t\n  ", "text/html; charset=utf-8"),
    "http10-headers-only": _http10_headers_only,
    "refresh-delayed": _refresh(meta=f"30; url={REFRESH_TO}"),
    "refresh-header-delayed": _refresh(header=f"30; url={REFRESH_TO}"),
    "refresh-now": _refresh(meta=f"0; url={REFRESH_TO}"),
    "refresh-header-now": _refresh(header=f"0; url={REFRESH_TO}"),
    "refresh-503": _refresh(meta=f"0; url={REFRESH_TO}", status=503),
    "challenge-403": _status(403, CHALLENGE),
    "challenge-503": _status(503, CHALLENGE, cf_mitigated="challenge"),
    "rate-limited": _status(429, page("Too many requests"), Retry_After="3600"),
    "robots-timeout": _robots(hang),
    "robots-503": _robots(_robots_503),
    "robots-404": _robots(_robots_404),
    "many-links": _body(MANY_LINKS.encode(), "text/html; charset=utf-8"),
    "deep-dom": _body(DEEP_DOM.encode(), "text/html; charset=utf-8"),
    "deep-unclosed": _body(DEEP_UNCLOSED.encode(), "text/html; charset=utf-8"),
    "malformed": _body(MALFORMED.encode("utf-8", "surrogatepass"), "text/html"),
    "attribute-bomb": _body(ATTRIBUTE_BOMB.encode(), "text/html; charset=utf-8"),
}


class FaultServer:
    """The hostile web, the full-backlog port and the forbidden server, on a background loop."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[str, str]] = Counter()
        self.latency = 0.05  # seconds before a site page answers
        self.forbidden_connections = 0
        self.port = 0
        self.forbidden_port = 0
        self.backlog_port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._sockets: list[socket.socket] = []
        self._writers: set[Writer] = set()

    def start(self) -> FaultServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self._fill_backlog()
        return self

    async def _start(self) -> None:
        self.stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._forbidden = await asyncio.start_server(self._count, FORBIDDEN_HOST, 0)
        self.forbidden_port = self._forbidden.sockets[0].getsockname()[1]

    def _fill_backlog(self) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # never accepted: one queued connection fills the queue
        self.backlog_port = listener.getsockname()[1]
        filler = socket.create_connection(("127.0.0.1", self.backlog_port), timeout=2)
        self._sockets += [listener, filler]

    def stop(self) -> None:
        async def close() -> None:
            self.stopping.set()  # handlers waiting or dripping return
            for server in (self._server, self._forbidden):
                server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            await asyncio.wait(pending, timeout=5) if pending else None

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        for sock in self._sockets:
            sock.close()

    def url(self, fault: Fault) -> str:
        if fault.name == "forbidden-literal":
            return f"http://{FORBIDDEN_HOST}:{self.forbidden_port}{fault.path}"
        port = self.backlog_port if fault.name == "connect-timeout" else self.port
        return f"{fault.scheme}://{fault.host}:{port}{fault.path}"

    async def _count(self, _reader: asyncio.StreamReader, writer: Writer) -> None:
        self.forbidden_connections += 1
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        self._writers.add(writer)
        try:
            first = await reader.read(1)
            if first == b"\x16":  # a TLS ClientHello: answer in plain HTTP, as a misconfigured port does
                writer.write(head(400, {"Content-Length": "0"}))
                await writer.drain()
                return
            raw = first + await reader.readuntil(b"\r\n\r\n")
            lines = raw[:MAX_HEAD].decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            host = next((line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("host:")), "")
            name = host.rsplit(":", 1)[0].removesuffix(".test")
            self.hits[(name, path)] += 1
            handler = HANDLERS.get(name)
            if name.startswith(SITE_PREFIX):
                await self._site_page(writer, path)
            elif handler is None:
                await respond(writer, 404, page("no such fault"))
            else:
                await handler(self, writer, path)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError):
            pass
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _site_page(self, writer: Writer, path: str) -> None:
        """``site-N.test``: an ordinary site with a little latency, for crash tests."""
        if path == "/robots.txt":
            return await respond(writer, 404, "")
        await asyncio.sleep(self.latency)
        await respond(writer, 200, LINKED_PAGE)

    def site_url(self, number: int, hosts: int) -> str:
        return f"http://{SITE_PREFIX}{number % hosts}.test:{self.port}/p/{number}"

    def resolve_rules(self) -> str:
        return f"dns-fail.test=!,internal.test={FORBIDDEN_HOST},*.test=127.0.0.1"


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float  # the crawl process's peak resident memory


def crawl_command(arguments: Sequence[str] = (), settings: Mapping[str, str] | None = None, log_level: str = "WARNING") -> list[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", "verify", "-s", f"LOG_LEVEL={log_level}"]
    for name, value in (settings or {}).items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    return command


def crawl_measured(command: list[str], env: Mapping[str, str], cwd: str | None = None, timeout: float = 120) -> Measured:
    """Run a crawl in a child process and measure its own peak RSS: its VmHWM, read while it runs
    (the high-water mark only grows, so the last reading holds the peak). Not wait4()'s
    ``ru_maxrss``: Linux carries the parent's RSS at fork() over into the child's, so a crawl
    started from a test process of 400 MB "peaked" at 400 MB, and the Playwright driver and
    Chromium, the crawl's own children, would count too."""
    started = time.monotonic()
    peak_kb = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=out, stderr=err, text=True)
        deadline = started + timeout
        while True:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                pid, status, _usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(process.returncode, out.read(), err.read(), time.monotonic() - started, peak_kb / 1024)


def _high_water_kb(pid: int) -> int:
    """The peak RSS so far of ``pid`` itself, in KiB; 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0
