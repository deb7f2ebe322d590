"""Pure URL handling: validation of input URLs, normalisation, and matching a link to a target.

URLs are parsed as browsers parse them, by the WHATWG URL Standard (``ada_url``, bindings to the
ada parser): host mapping (UTS 46 as WHATWG applies it, IPv4 number forms, IPv6), percent-encoding
and dot segments are WHATWG's; :func:`normalise` then applies our own equivalences on top (see
docs/parsing.md). Nothing here touches the network: registrable domains come from the public suffix
list snapshot bundled with ``tldextract``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import ada_url
import tldextract

from crawler.core.items import MatchMode


class InvalidURL(ValueError):
    """A URL we cannot check; the message says why, in words a user can act on."""


ALLOWED_SCHEMES = ("http", "https")
_CONTROL = re.compile("[\x00-\x1f\x7f]")  # a regex: a per-character loop dominated big imports


def check_url(url: str) -> str:
    """Return ``url`` stripped of surrounding whitespace, or raise :class:`InvalidURL`.

    Accepts only absolute http(s) URLs with a host; refuses control characters and credentials.
    """
    url = url.strip()
    if not url:
        raise InvalidURL("empty URL")
    if _CONTROL.search(url):
        raise InvalidURL("control character in URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidURL(f"unparseable URL: {exc}") from None
    # "example.com:8080/x" splits into scheme "example.com": a host written without a scheme.
    if not parts.scheme or "." in parts.scheme:
        raise InvalidURL(f"{_shown(url)} is not an absolute URL: expected http:// or https:// and a host")
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise InvalidURL(f"unsupported scheme {parts.scheme!r} (only http and https)")
    if not parts.hostname:
        raise InvalidURL("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("URL carries credentials (user:password@); remove them")
    _whatwg(url)  # what urlsplit lets through but a browser refuses (a bad host, say)
    return url


# A scheme ("https:", "mailto:"), not a host followed by its port ("example.com:8080").
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?![0-9])")


def site_url(value: str) -> str:
    """A domain-mode target as users write it: a URL, or a bare host with or without ``www.``
    and a path (``example.com``, ``www.example.com/blog``), which becomes ``https://`` + it. The
    scheme and path do not matter in domain mode, so nothing is lost. Raises :class:`InvalidURL`.
    """
    text = value.strip()
    if _SCHEME.match(text) or text.startswith("//"):
        return check_url(text)
    authority = re.split(r"[/?#]", text, maxsplit=1)[0]
    try:
        normalise_host(authority if authority.endswith("]") else authority.rsplit(":", 1)[0])
    except InvalidURL:
        raise InvalidURL(
            f"{_shown(text)} is neither a URL nor a host name: expected example.com or https://example.com/"
        ) from None
    return check_url(f"https://{text}")


def _shown(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def href(url: str) -> str:
    """``url`` as a browser sends it, without its fragment: ASCII only (punycode host,
    percent-encoded path and query), as files for other tools need it (Google's disavow file)."""
    return _whatwg(check_url(url)).partition("#")[0]


def _whatwg(url: str) -> str:
    """The WHATWG serialisation (href) of the absolute URL ``url``, or :class:`InvalidURL`."""
    try:
        return ada_url.normalize_url(url)
    except ValueError:
        raise InvalidURL(f"{_shown(url)} is not a valid URL (a browser would refuse it)") from None


# Query parameters that only say where a visitor came from. They never select content, so two URLs
# differing only by them are the same page. Matched case-insensitively on the decoded-as-written key.
TRACKING_PARAMS = frozenset(
    {
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "dclid",
        "fbclid",
        "gbraid",
        "gclid",
        "gclsrc",
        "igshid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "msclkid",
        "ref_src",
        "ref_url",
        "srsltid",
        "ttclid",
        "twclid",
        "wbraid",
        "yclid",
    }
)
TRACKING_PREFIXES = ("utm_",)

# Browsers drop these anywhere in a URL (WHATWG URL parser), so hrefs split over lines still work.
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_C0_AND_SPACE = "".join(chr(i) for i in range(33))
_PERCENT_OR_CHAR = re.compile(r"%[0-9A-Fa-f]{2}|.", re.DOTALL)
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 pchar minus unreserved: left as written. "?" and "/" are legal in a query too.
_PATH_SAFE = frozenset("!$&'()*+,;=:@/")
_KEY_SAFE = frozenset("!$'()*+,;:@/?")  # "&" and "=" delimit pairs, so inside a key they stay encoded
_VALUE_SAFE = _KEY_SAFE | {"="}


class _Parts(NamedTuple):
    """A URL after normalisation, kept apart so matching can compare components."""

    scheme: str
    host: str  # lower-case, punycode, no trailing dot (but where one is needed); IPv6 without brackets
    port: int | None  # None for the scheme's default port
    path: str  # percent-encoding normalised, dot segments removed, never empty
    query: tuple[tuple[str, str | None], ...]  # (key, value or None for "?flag"), tracking removed

    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def query_string(self) -> str:
        return "&".join(key if value is None else f"{key}={value}" for key, value in self.query)


def clean_href(href: str) -> str:
    """Clean an href like a browser: strip C0 controls and spaces around it, drop tabs and newlines."""
    href = href.strip(_C0_AND_SPACE)
    # translate() looks every character up in a dict: only pay for it when there is work to do.
    if "\t" in href or "\n" in href or "\r" in href:
        return href.translate(_TAB_NEWLINE)
    return href


def normalise(url: str, *, strip_tracking: bool = True) -> str:
    """Return the canonical spelling of an absolute http(s) URL, or raise :class:`InvalidURL`.

    Scheme and host are lower-cased, an IDN host becomes punycode, the default port, the fragment and
    dot segments go, percent-encoding is made consistent (unreserved characters decoded, other escapes
    upper-cased, unsafe characters encoded), an empty path becomes ``/``, and the query keeps its pairs
    stable-sorted by key, without tracking parameters unless ``strip_tracking`` is false.
    Paths stay case-sensitive.
    """
    parts = _parse(url, strip_tracking=strip_tracking)
    query = parts.query_string()
    return f"{parts.scheme}://{parts.netloc()}{parts.path}" + (f"?{query}" if query else "")


@lru_cache(maxsize=16_384)  # storage asks for the same few target URLs again and again
def canonical_link(url: str) -> str:
    """How a linked URL is stored and compared: normalised, so that a rotating utm_* or a
    fragment never reads as "the link now points somewhere else". Never raises."""
    try:
        return normalise(url)
    except InvalidURL:
        return url


def _parse(url: str, *, strip_tracking: bool) -> _Parts:
    """``url`` as a browser parses it, then in our normal form. Userinfo is dropped: a link with
    credentials leads to the same page (imports refuse them, see :func:`check_url`)."""
    # The WHATWG href is in canonical form: lower-case scheme and host, default port removed,
    # characters percent-encoded, dot segments resolved. urlsplit takes it apart exactly.
    split = urlsplit(_whatwg(url))
    scheme = split.scheme
    if scheme not in ALLOWED_SCHEMES:
        raise InvalidURL(f"unsupported scheme {scheme!r} (only http and https)")
    port = split.port
    host = _host_without_root_dot(split.hostname or "")
    # With a host present the path is empty or starts with "/".
    path = _remove_dot_segments(_normalise_escapes(split.path, _PATH_SAFE)) or "/"
    return _Parts(scheme, host, port, path, _parse_query(split.query, strip_tracking))


def normalise_host(host: str) -> str:
    """``host`` as a browser maps it (WHATWG host parsing: lower case, UTS 46 to punycode with
    CheckHyphens and UseSTD3ASCIIRules off, IPv4 number forms to dotted quads, IPv6 compressed),
    without a trailing dot and IPv6 without brackets.

    Raises :class:`InvalidURL` for what a browser refuses as a host.
    """
    text = host.strip()
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if ":" in bare:
        kind = "IPv6 address"
        text = f"[{bare}]"
    else:
        kind = "host name" if text.isascii() else "international host name"
    # Characters that would end the host inside a URL: they are not part of any host.
    if not bare or any(c in bare for c in "/?#@\\[]") or _CONTROL.search(bare):
        raise InvalidURL(f"invalid {kind} {host!r}")
    try:
        hostname = urlsplit(_whatwg(f"http://{text}/")).hostname or ""
    except InvalidURL:
        raise InvalidURL(f"invalid {kind} {host!r}") from None
    return _host_without_root_dot(hostname)


def _host_without_root_dot(host: str) -> str:
    """:func:`_without_root_dot`, parsed again each time a dot goes, until nothing changes: without
    its last dot a host may read otherwise ("0.." -> "0.", which is the IPv4 address 0.0.0.0), and
    the normal form must be a fixed point."""
    while (stripped := _without_root_dot(host)) != host:
        try:
            host = urlsplit(_whatwg(f"http://{stripped}/")).hostname or stripped
        except InvalidURL:  # "foo.09.." is a name, "foo.09." a bad IPv4 address: the dot stays
            return host
    return host


def _without_root_dot(host: str) -> str:
    """``host`` without the DNS root's trailing dot; the host "." (which browsers accept) stays."""
    return host[:-1] if host.endswith(".") and host != "." else host


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, upper-case the others, encode unsafe characters."""
    if text.isascii() and "%" not in text and all(c in _UNRESERVED or c in safe for c in text):
        return text  # the common case: nothing to do
    out = []
    for token in _PERCENT_OR_CHAR.findall(text):
        if len(token) == 3:
            char = chr(int(token[1:], 16))
            out.append(char if char in _UNRESERVED else token.upper())
        elif token in _UNRESERVED or token in safe:
            out.append(token)
        else:
            out.append("".join(f"%{byte:02X}" for byte in token.encode("utf-8", "surrogatepass")))
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on segments rather than on the string."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)


def _parse_query(query: str, strip_tracking: bool) -> tuple[tuple[str, str | None], ...]:
    pairs: list[tuple[str, str | None]] = []
    for chunk in query.split("&"):
        if not chunk:
            continue
        key, sep, value = chunk.partition("=")
        key = _normalise_escapes(key, _KEY_SAFE)
        if strip_tracking and _is_tracking(key):
            continue
        pairs.append((key, _normalise_escapes(value, _VALUE_SAFE) if sep else None))
    # Sorting by key only keeps repeated keys in page order: "a=2&a=1" can mean something else.
    pairs.sort(key=lambda pair: pair[0])
    return tuple(pairs)


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


# The snapshot bundled with tldextract; no download, no cache directory. Private suffixes are on
# so that two blogs on blogspot.com or github.io count as different sites.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def registrable_domain(url_or_host: str) -> str:
    """Return the registrable domain ("eTLD+1") of a URL or a bare host, e.g. ``bbc.co.uk``.

    IP addresses and single-label hosts are returned as they are; hosts under a suffix that is not
    public (``.test``, ``.local``, ``.internal``) take their last two labels (``a.b.test`` ->
    ``b.test``); a host that is itself a public suffix is returned whole.
    Raises :class:`InvalidURL` if no host can be found.
    """
    text = url_or_host.strip()
    if text.count(":") > 1 and "/" not in text:  # a bare IPv6 address, brackets or not
        return normalise_host(text)
    try:
        host = urlsplit(text if "://" in text or text.startswith("//") else f"//{text}").hostname
    except ValueError as exc:
        raise InvalidURL(f"unparseable URL or host: {exc}") from None
    if not host:
        raise InvalidURL(f"no host in {url_or_host!r}")
    return _site(normalise_host(host))


@lru_cache(maxsize=4096)  # same_site asks about the same few hosts for every page
def _site(host: str) -> str:
    """:func:`registrable_domain` of a host already through :func:`normalise_host`."""
    if ":" in host or _is_ipv4(host):
        return host
    parts = _EXTRACT.extract_str(host)
    if parts.suffix:
        return f"{parts.domain}.{parts.suffix}" if parts.domain else host
    return ".".join(host.split(".")[-2:])


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def strip_www(host: str) -> str:
    """A host without its leading ``www.``: ``www.a.com`` and ``a.com`` are one host to a backlink."""
    return host.removeprefix("www.")


def host_key(url: str) -> str:
    """The lower-case host of an absolute URL without ``www.``, by slicing rather than parsing: cheap
    enough for every link of a page. Userinfo, port, an IPv6 host's brackets and the root's
    trailing dot are left out; the URL is not validated (a key for "same host?", not a parse)."""
    rest = url.split("//", 1)[-1]
    for stop in "/?#":
        rest = rest.split(stop, 1)[0]
    host = rest.rpartition("@")[2]
    host = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
    return strip_www(host.lower().removesuffix("."))


class Target:
    """The URL a backlink should point to, and how strictly a link's URL must match it.

    Raises :class:`InvalidURL` if ``url`` cannot be checked. With ``strip_tracking`` false, tracking
    parameters (``utm_*``, ``gclid``...) count like any other query parameter.

    Cheap pre-check: :attr:`host_key` is the target's lower-case ASCII host without ``www.``.
    A link URL that is pure ASCII, has no percent-escape in its host part (a browser decodes
    ``%65xample.com``) and does not contain ``host_key`` (case-insensitively) can never match, in
    any mode; :meth:`may_match` tests exactly that, with a couple of string operations and
    no parsing, and :meth:`matches` starts with it (as :meth:`same_site` starts with the same test
    on :attr:`site`). A relative href does not carry its host, so a caller pre-checking raw hrefs
    must first know that the page's own host cannot match (for example
    ``not target.may_match(page_url)``); otherwise resolve the href and call :meth:`matches`.
    """

    __slots__ = (
        "url",
        "mode",
        "strip_tracking",
        "host_key",
        "site",
        "_needle",
        "_site_needle",
        "_parts",
        "_path_key",
        "_query_key",
    )

    def __init__(self, url: str, mode: MatchMode, *, strip_tracking: bool = True) -> None:
        self.url = url
        self.mode = MatchMode(mode)
        self.strip_tracking = strip_tracking
        self._parts = _parse(check_url(url), strip_tracking=strip_tracking)
        self.host_key = strip_www(self._parts.host)
        self.site = _site(self._parts.host)
        # An IP address has several spellings (IPv6, and IPv4 in hex or as one number), so no
        # substring can rule a URL out ("" is in all).
        self._needle = _needle(self.host_key)
        self._site_needle = _needle(self.site)
        self._path_key = self._parts.path.rstrip("/")
        self._query_key = tuple(sorted(self._parts.query, key=_pair_sort_key))

    def __repr__(self) -> str:
        return f"Target({self.url!r}, {self.mode.value!r})"

    def may_match(self, url: str) -> bool:
        """False only if ``url`` certainly cannot match; see the class docstring."""
        return not url.isascii() or self._needle in url.lower() or _escaped_host(url)

    def matches(self, url: str) -> bool:
        """Whether the absolute link URL ``url`` points to the target. Never raises."""
        if not self.may_match(url):
            return False
        try:
            link = _parse(url, strip_tracking=self.strip_tracking)
        except ValueError:  # InvalidURL and the idna/ipaddress errors behind it
            return False
        return self._matches_parts(link)

    def same_site(self, url: str) -> bool:
        """Whether ``url`` is on the target's site: it matches, or shares its registrable domain.

        ``same_site(url) and not matches(url)`` is a link that now points elsewhere on the user's
        site ("target changed"), which is not the same as a link that is gone. Matching links are
        included so that ``same_site`` can serve as the ``keep`` filter of link extraction for
        every backlink of a page at once. Never raises.
        """
        if url.isascii() and self._site_needle not in url.lower() and not _escaped_host(url):
            return False
        try:
            link = _parse(url, strip_tracking=self.strip_tracking)
            site = _site(link.host)
        except ValueError:
            return False
        return site == self.site or self._matches_parts(link)

    def _matches_parts(self, link: _Parts) -> bool:
        if self.mode is MatchMode.DOMAIN:
            host = link.host
            return host == self.host_key or host.endswith("." + self.host_key)
        if strip_www(link.host) != self.host_key or link.port != self._parts.port:
            return False
        path = link.path.rstrip("/")
        if self.mode is MatchMode.EXACT:
            return path == self._path_key and tuple(sorted(link.query, key=_pair_sort_key)) == self._query_key
        on_boundary = path == self._path_key or path.startswith(self._path_key + "/")
        return on_boundary and _contains_pairs(link.query, self._query_key)


def _needle(host: str) -> str:
    return "" if ":" in host or _is_ipv4(host) else host


def _escaped_host(url: str) -> bool:
    """Whether the part of ``url`` up to its path holds a percent-escape, which may spell the host."""
    start = url.find("//") + 2
    end = url.find("/", start)
    return "%" in (url[start:] if end < 0 else url[start:end])


def same_site_as_any(targets: Sequence[Target]) -> Callable[[str], bool]:
    """``lambda url: any(t.same_site(url) for t in targets)``, with the substring pre-check done
    once per URL for all targets: the ``keep`` filter of a page with several backlinks, called
    for each of its hundreds of links."""
    needles = tuple({target._site_needle for target in targets})

    def keep(url: str) -> bool:
        if url.isascii():
            lowered = url.lower()
            if not any(needle in lowered for needle in needles) and not _escaped_host(url):
                return False
        return any(target.same_site(url) for target in targets)

    return keep


def _pair_sort_key(pair: tuple[str, str | None]) -> tuple[str, bool, str]:
    key, value = pair
    return key, value is not None, value or ""


def _contains_pairs(query: tuple[tuple[str, str | None], ...], wanted: tuple[tuple[str, str | None], ...]) -> bool:
    """Whether every pair of ``wanted`` occurs in ``query``, counting repeats."""
    remaining = list(query)
    for pair in wanted:
        if pair not in remaining:
            return False
        remaining.remove(pair)
    return True
