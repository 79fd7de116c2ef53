"""collectors.common.url: the one parse of an http check's URL. Ordinary URLs read as httpx
(the client the check used before) reads them; spellings that two readers could disagree on
are refused with a message naming the problem."""

from __future__ import annotations

import httpx
import pytest

from collectors.common.url import URL, InvalidURL

ORDINARY = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/health",
    "https://perizinan.example.go.id/api/status?full=1&x=%2F",
    "HTTP://Portal.Example.GO.ID:443/",
    "http://[::1]:9115/probe?target=a",
    "http://[2001:db8::1]/",
    "https://bücher.example/pfad",
    "http://portal.example/search?q=a b".replace(" ", "%20"),
    "http://portal.example/path with unicode é".replace(" ", "%20"),
    "http://portal.example",
    "http://portal.example/#fragment",
    "http://portal.example/?",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_urls_read_as_httpx_reads_them(text: str) -> None:
    ours, theirs = URL.parse(text), httpx.URL(text)
    assert ours.scheme == theirs.scheme
    assert ours.host == theirs.raw_host.decode("ascii")  # IDNA-encoded
    assert ours.port == (theirs.port or {"http": 80, "https": 443}[theirs.scheme])
    assert ours.target == theirs.raw_path.decode("ascii"), (ours.target, theirs.raw_path)
    # the Host header httpx would send
    assert ours.netloc == theirs.netloc.decode("ascii")


@pytest.mark.parametrize(("text", "message"), [
    ("ftp://x/", "unsupported scheme 'ftp'"),
    ("portal.example/", "expected http://host/"),
    ("http:/127.0.0.1/", "expected http://host/"),
    ("http:\\\\127.0.0.1/", "contains '\\\\'"),
    ("http://127.0.0.1\\@x/", "contains '\\\\'"),
    (" http://127.0.0.1/", "contains ' '"),
    ("http://127.0.0.1/\t", "contains '\\t'"),
    ("http://a/\x7f", "contains '\\x7f'"),
    ("http:///path", "no host"),
    ("http://:80/", "no host"),
    ("http://host:/", "empty port"),
    ("http://host:0/", "invalid port '0'"),
    ("http://host:65536/", "invalid port '65536'"),
    ("http://host:8o/", "invalid port '8o'"),
    ("http://host:١٢/", "invalid port"),
    ("http://[::1/", "unclosed ["),
    ("http://[::g]/", "invalid IPv6 address '::g'"),
    ("http://[::1]x/", "unexpected 'x'"),
    ("http://%31%32%37.0.0.1/", "invalid host '%31%32%37.0.0.1'"),
    ("http://a_b%2F.example/", "invalid host"),
    ("http://" + "é" * 70 + ".example/", "invalid international host name"),
])
def test_invalid_urls_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidURL) as e:
        URL.parse(text)
    assert message in str(e.value), str(e.value)


def test_dot_segments_are_sent_as_written() -> None:
    """As blackbox_exporter's Go client sends them (httpx would remove them): the server
    decides what /a/../c means."""
    assert URL.parse("https://portal.example/a/b/../c").target == "/a/b/../c"


def test_credentials_are_kept_apart_for_the_caller_to_refuse() -> None:
    url = URL.parse("http://user:pw@127.0.0.2:81/")
    assert (url.userinfo, url.host, url.port) == ("user:pw", "127.0.0.2", 81)
    # the last @ ends the credentials, as every browser and httpx read it
    assert URL.parse("http://127.0.0.2@127.0.0.1:80/").host == "127.0.0.1"


def test_ideographic_full_stops_are_dots() -> None:
    """IDNA reads "。" as "." (as browsers do): the host is the address it spells."""
    assert URL.parse("http://127\u30020\u30020\u30021:80/").host == "127.0.0.1"


@pytest.mark.parametrize(("base", "location", "expected"), [
    ("http://a.example/x/y", "/login", "http://a.example/login"),
    ("http://a.example/x/y", "z?q=1", "http://a.example/x/z?q=1"),
    ("http://a.example:8080/", "https://b.example/", "https://b.example/"),
    ("https://a.example/", "//c.example:444/p", "https://c.example:444/p"),
    ("http://a.example/", "  /padded  ", "http://a.example/padded"),
])
def test_redirect_locations_join_as_httpx_joins_them(base: str, location: str,
                                                     expected: str) -> None:
    joined = URL.parse(base).join(location)
    assert str(joined) == expected
    assert str(joined) == str(httpx.URL(base).join(location.strip()))


def test_a_redirect_to_another_scheme_is_refused() -> None:
    with pytest.raises(InvalidURL, match="unsupported scheme 'ftp'"):
        URL.parse("http://a.example/").join("ftp://b.example/")
