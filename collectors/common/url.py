"""http:// and https:// URLs as the http check and /probe's allow-list read them: one strict
parse, so the address a check connects to is the address its target was judged by.

Strict on purpose: whitespace, control characters, backslashes and credentials are refused
rather than repaired, because every repair is a second reading of the text that an allow-list
check could disagree with (tests/peers/test_probe_ssrf.py tries ~80 such spellings). A
non-ASCII host name is IDNA-encoded (Python's codec, which also reads "。" as a dot); path and
query are percent-encoded where they are not ASCII; the fragment is never sent.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urljoin

_URL_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)"
                     r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#.*)?", re.DOTALL)
_REG_NAME = re.compile(r"[a-z0-9_.-]+")
_DEFAULT_PORT = {"http": 80, "https": 443}
# RFC 3986 pchar plus "/" and "%" (an existing escape stays as written)
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_EXPECTED = "expected http://host/... or https://host/..."


class InvalidURL(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class URL:
    scheme: str      # "http" or "https"
    host: str        # lower case, IDNA-encoded; an IPv6 address without brackets
    port: int        # the default port of the scheme when none is written
    target: str      # path and query: what the request line asks for
    userinfo: str    # "" unless the URL carries credentials (callers refuse those)

    @classmethod
    def parse(cls, text: str) -> URL:
        if not isinstance(text, str):
            raise InvalidURL(f"expected a string, not {type(text).__name__}")
        bad = next((c for c in text if ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\"), None)
        if bad is not None:
            raise InvalidURL(f"the URL contains {bad!r}")
        m = _URL_RE.fullmatch(text)
        if m is None:
            raise InvalidURL(_EXPECTED)
        scheme = m["scheme"].lower()
        if scheme not in _DEFAULT_PORT:
            raise InvalidURL(f"unsupported scheme {m['scheme']!r}: {_EXPECTED}")
        userinfo, _, hostport = m["authority"].rpartition("@")
        host, port = _split_authority(hostport, _DEFAULT_PORT[scheme])
        path = quote(m["path"], safe=_PATH_SAFE) or "/"
        query = m["query"]
        target = path if query is None else f"{path}?{quote(query, safe=_QUERY_SAFE)}"
        return cls(scheme, host, port, target, userinfo)

    @property
    def netloc(self) -> str:
        """The Host header: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORT[self.scheme] else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    def join(self, location: str) -> URL:
        """The URL a Location header points to, read against this one."""
        return URL.parse(urljoin(str(self), location.strip()))

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target}"


def _split_authority(hostport: str, default_port: int) -> tuple[str, int]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InvalidURL("unclosed [ in the host")
        literal, rest = hostport[1:end], hostport[end + 1:]
        try:
            host = ipaddress.IPv6Address(literal).compressed
        except ValueError:
            raise InvalidURL(f"invalid IPv6 address {literal!r}") from None
        if rest and not rest.startswith(":"):
            raise InvalidURL(f"unexpected {rest!r} after the IPv6 address")
        port_text = rest[1:] if rest else ""
    else:
        name, colon, port_text = hostport.rpartition(":")
        if not colon:
            name, port_text = hostport, ""
        host = _host_name(name)
    if not port_text:
        if hostport.endswith(":"):
            raise InvalidURL("empty port")
        return host, default_port
    if not port_text.isdigit() or not port_text.isascii() or not 0 < int(port_text) <= 65535:
        raise InvalidURL(f"invalid port {port_text!r}")
    return host, int(port_text)


def _host_name(name: str) -> str:
    if not name:
        raise InvalidURL("no host")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as e:
            raise InvalidURL(f"invalid international host name {name!r}: {e}") from None
    name = name.lower()
    if not _REG_NAME.fullmatch(name):
        raise InvalidURL(f"invalid host {name!r}")
    return name
