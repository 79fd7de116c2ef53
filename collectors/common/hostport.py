"""host:port parsing with one set of rules for every address pantau reads.

Accepted: `host:port`, `[v6]:port`, and, where a default port exists, a bare `host`, a bare
IPv6 address or `[v6]`. Ports are 1-65535 (0 only where the OS picks one: listen addresses).
A host may not contain whitespace or start with '-', so no address can turn into an option of
a command or a second word on a line.
"""

from __future__ import annotations

import ipaddress
import urllib.parse


def split_host_port(
    text: str,
    default_port: int | None = None,
    *,
    what: str = "address",
    empty_host: str | None = None,
    allow_port_zero: bool = False,
) -> tuple[str, int]:
    """Split an address into (host, port); ValueError naming `what` and the reason.

    `empty_host`, when given, stands in for an empty host (":9877" -> ("0.0.0.0", 9877)).
    """
    t = text.strip()
    port_s = ""
    if t.startswith("["):
        host, sep, rest = t[1:].partition("]")
        if not sep:
            raise ValueError(f"invalid {what} {text!r}: missing ']'")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"invalid {what} {text!r}: use [IPv6]:PORT")
            port_s = rest[1:]
            if not port_s:
                raise ValueError(f"invalid {what} {text!r}: empty port")
        _ipv6(host, text, what)
    elif t.count(":") == 1:
        host, _, port_s = t.partition(":")
        if not port_s:
            raise ValueError(f"invalid {what} {text!r}: empty port")
    elif t.count(":") > 1:
        host = t
        _ipv6(host, text, what)
    else:
        host = t
    if not host:
        if empty_host is None:
            raise ValueError(f"invalid {what} {text!r}: empty host")
        host = empty_host
    if any(c.isspace() for c in host) or host.startswith("-"):
        raise ValueError(f"invalid {what} {text!r}: bad host {host!r}")
    if not port_s:
        if default_port is None:
            raise ValueError(f"invalid {what} {text!r}: use HOST:PORT")
        return host, default_port
    low = 0 if allow_port_zero else 1
    if not port_s.isdigit() or not low <= int(port_s) <= 65535:
        raise ValueError(f"invalid {what} {text!r}: port must be {low}-65535")
    return host, int(port_s)


def join_host_port(host: str, port: int) -> str:
    """The inverse: brackets around IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ipv6(host: str, text: str, what: str) -> None:
    try:
        ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        raise ValueError(f"invalid {what} {text!r}: {host!r} is not an IPv6 address") from None


def target_host(target: str) -> str:
    """The host part of a check target: an IP, a name, host:port, [v6]:port or a URL."""
    t = target.strip()
    if "://" in t:
        return (urllib.parse.urlsplit(t).hostname or "").lower()
    try:
        return str(ipaddress.ip_address(t.strip("[]")))
    except ValueError:
        pass
    if t.startswith("[") and "]" in t:
        return t[1:t.index("]")].lower()
    host, sep, port = t.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        t = host
    try:
        return str(ipaddress.ip_address(t))
    except ValueError:
        return t.lower()
