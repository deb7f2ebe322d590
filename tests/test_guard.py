"""The address guard, tested as pure functions on literal addresses: nothing here connects anywhere."""

from __future__ import annotations

import ipaddress
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from crawler.core.guard import AddressGuard, RefusalLog, classify, parse_host, parse_ipv4, parse_networks
from crawler.core.outcome import Status
from crawler.shell.failures import Inconclusive, classify_failure
from crawler.core.hostmap import parse_rules
from crawler.shell.resolver import ForbiddenAddressError, MappedResolver

DEFAULT = AddressGuard()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("fe80::1%eth0", "link_local"),
        ("100.64.0.1", "shared"),
        ("100.127.255.255", "shared"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.8", "reserved"),
        ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("fc00::1", "unique_local"),
        ("fd12:3456:789a::1", "unique_local"),
        ("fec0::1", "site_local"),
        # IPv6 spellings of IPv4 addresses are judged by the IPv4 address they carry.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("::ffff:10.1.2.3", "private"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("::10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "metadata"),  # 6to4 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),  # Teredo
        # Public addresses pass.
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("93.184.216.34", None),
        ("172.32.0.1", None),  # just outside 172.16/12
        ("100.128.0.1", None),  # just outside 100.64/10
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
    ],
)
def test_classify(address: str, kind: str | None) -> None:
    assert classify(ipaddress.ip_address(address)) == kind
    assert DEFAULT.refusal(address) == kind


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f000001", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # short forms
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("10.0x10000", "10.1.0.0"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[FE80::1]", "fe80::1"),
        # Names, and numbers that are no address.
        ("example.com", None),
        ("1.2.3.4.example", None),
        ("127.0.0.1.nip.io", None),
        ("256.0.0.1", None),
        ("1.2.3.4.5", None),
        ("4294967296", None),
        ("0x1g", None),
        ("08.0.0.1", None),
        ("", None),
        ("[not:an:address]", None),
        ("１２７.0.0.1", None),  # full-width digits are not ASCII numbers
    ],
)
def test_parse_host(host: str, address: str | None) -> None:
    parsed = parse_host(host)
    assert (str(parsed) if parsed is not None else None) == address


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://example.com/", None),
        ("https://8.8.8.8/", None),
        ("http://127.0.0.1/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1:8080/x", "loopback"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "metadata"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://user:pw@10.0.0.1/", "private"),
        ("HTTP://192.168.0.1/", "private"),
        ("ftp://example.com/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("data:text/html,hi", "scheme"),
        ("http:///nohost", "invalid_url"),
        ("http://[::1/", "invalid_url"),
    ],
)
def test_url_refusal(url: str, kind: str | None) -> None:
    assert DEFAULT.url_refusal(url) == kind


def test_allowed_networks_let_chosen_addresses_through() -> None:
    guard = AddressGuard.from_spec("127.0.0.1/32, 10.0.0.0/8")
    assert guard.refusal("127.0.0.1") is None
    assert guard.refusal("::ffff:127.0.0.1") is None  # the same address, spelt in IPv6
    assert guard.refusal("10.20.30.40") is None
    assert guard.refusal("127.0.0.2") == "loopback"  # what the fault tests rely on
    assert guard.refusal("169.254.169.254") == "metadata"
    assert guard.url_refusal("http://127.0.0.1:8080/") is None
    assert guard.url_refusal("http://2130706434/") == "loopback"
    assert AddressGuard.from_spec("::1").refusal("::1") is None


@pytest.mark.parametrize("spec", ["127.0.0.0/33", "localhost", "10.0.0.0/8,nonsense", "::1/200"])
def test_bad_networks_name_the_setting(spec: str) -> None:
    with pytest.raises(ValueError, match="BACKLINKS_ALLOWED_NETWORKS: .* comma-separated CIDRs"):
        parse_networks(spec)


def test_empty_networks_allow_nothing_extra() -> None:
    assert parse_networks("") == parse_networks(" , ") == ()
    assert parse_networks(["127.0.0.0/8"]) == (ipaddress.ip_network("127.0.0.0/8"),)


@given(st.ip_addresses())
def test_every_address_is_classified_and_public_ones_pass(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    kind = classify(address)
    assert kind is None or isinstance(kind, str)
    if kind is None:
        assert address.is_global
    assert AddressGuard.from_spec("0.0.0.0/0,::/0").refusal(address) is None


@given(st.text(max_size=40))
def test_arbitrary_hosts_and_urls_never_raise(text: str) -> None:
    parse_host(text)
    DEFAULT.url_refusal(text)
    DEFAULT.url_refusal(f"http://{text}/")


@given(st.integers(0, 2**32 - 1))
def test_every_decimal_spelling_is_the_address(number: int) -> None:
    assert parse_ipv4(str(number)) == ipaddress.IPv4Address(number)
    assert parse_ipv4(hex(number)) == ipaddress.IPv4Address(number)


# --- The resolver: refusal after resolution, with no network (mapped rules only) -------------------


def _resolve(resolver: MappedResolver, name: str) -> str | BaseException:
    result: list[object] = []
    resolver.getHostByName(name).addBoth(result.append)
    (value,) = result
    return getattr(value, "value", value)  # type: ignore[return-value]


def _resolver(spec: str, allowed: str) -> MappedResolver:
    from twisted.internet import reactor

    return MappedResolver(reactor, 0, 1.0, parse_rules(spec), AddressGuard.from_spec(allowed))


def test_resolver_refuses_names_that_resolve_to_forbidden_addresses() -> None:
    resolver = _resolver("ok.test=127.0.0.1,inside.test=127.0.0.2,meta.test=169.254.169.254,dead.test=!", "127.0.0.1/32")
    assert _resolve(resolver, "ok.test") == "127.0.0.1"
    inside = _resolve(resolver, "inside.test")
    assert isinstance(inside, ForbiddenAddressError) and isinstance(inside, DNSLookupError)
    assert (inside.kind, inside.address) == ("loopback", "127.0.0.2")
    assert "BACKLINKS_ALLOWED_NETWORKS" in str(inside)
    assert _resolve(resolver, "META.TEST.").kind == "metadata"  # type: ignore[union-attr]
    dead = _resolve(resolver, "dead.test")
    assert isinstance(dead, DNSLookupError) and not isinstance(dead, ForbiddenAddressError)


def test_resolver_without_allowed_networks_refuses_loopback() -> None:
    resolver = _resolver("*.test=127.0.0.1", "")
    assert isinstance(_resolve(resolver, "a.test"), ForbiddenAddressError)


def test_refusals_are_inconclusive_network_errors() -> None:
    refusal = Inconclusive(Status.NETWORK_ERROR, "forbidden_address", "loopback address 127.0.0.2")
    assert classify_failure(refusal) == (Status.NETWORK_ERROR, "forbidden_address")
    assert defer.fail(refusal)  # a Failure carries it to the errback unchanged
    defer.fail(refusal).addErrback(lambda f: None)


def test_refusals_warn_once_per_host_and_for_a_bounded_number_of_hosts() -> None:
    log = RefusalLog(hosts=2)
    assert [log.level(h) for h in ("a.test", "a.test", "b.test", "c.test", "b.test")] == [
        logging.WARNING, logging.DEBUG, logging.WARNING, logging.DEBUG, logging.DEBUG
    ]
