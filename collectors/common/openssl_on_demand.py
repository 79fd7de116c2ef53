"""OpenSSL (libssl, libcrypto) mapped only once something makes a TLS connection.

A host-only agent, or one that only pings, resolves and traces, never needs OpenSSL, but two
imports load it into every process at start: asyncio's (base_events, selector_events and
sslproto each `try: import ssl`) and hashlib's and hmac's (`import _hashlib`, which pydantic
reaches through `secrets`). Together ~4.5 MiB of RSS, mostly libcrypto's pages: a host-only
agent is 37.9 MiB without them, 42.4 with (BENCHMARKS.md, "2026-12-03 (2)").

`install()`, called before asyncio's first import, imports asyncio, hashlib and hmac with ssl
and _hashlib marked absent (a None in sys.modules makes their import raise ImportError, as on
a Python built without OpenSSL; the marks are removed at once):

- hashlib and hmac then use CPython's own implementations: md5, sha1, the sha2 and sha3
  families and blake2, the same digests as OpenSSL's, ~6x slower on a 1,400-byte message.
  `openssl_digests()` puts them back on OpenSSL (it re-executes hashlib and hmac once
  _hashlib can be imported): SNMPv3, which computes an HMAC per message, calls it when it
  makes its first user, an SSH session before paramiko binds hashlib's functions, and so
  does the first import of ssl (OpenSSL is mapped by then anyway). cryptography (paramiko,
  the SNMP ciphers) carries its own OpenSSL throughout.
- asyncio waits for ssl: a finder on sys.meta_path watches for the first real `import ssl`
  -- by pantau (TLS on /metrics, the tcp and http probes, remote write, mail) or by a library
  (httpx, smtplib). When that import has run, the finder hands ssl to the asyncio modules that
  went without it and sets what sslproto derives from it at import, so from then on asyncio
  is exactly as if ssl had been there from the start.

tests/unit/test_openssl_on_demand.py drives TLS through asyncio's server, client and
start_tls after such a start, and checks every digest pantau uses, before and after
`openssl_digests()`. If asyncio, ssl or hashlib is already imported (pytest, an embedding
program), nothing is deferred.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_DIGESTS_LOCK = threading.Lock()


def openssl_digests() -> None:
    """hashlib and hmac on OpenSSL from here on, if `install()` left them on CPython's own
    digests (nothing otherwise, or on a Python without _hashlib). What already holds one of
    their functions (`from hashlib import sha1`) keeps it: the same digest, slower."""
    with _DIGESTS_LOCK:  # SSH sessions connect in threads
        hmac = sys.modules.get("hmac")
        if hmac is None or getattr(hmac, "_hashopenssl", 0) is not None:
            return
        try:
            import _hashlib  # noqa: F401
        except ImportError:
            return
        # hmac imports hashlib: hashlib first
        importlib.reload(sys.modules["hashlib"])
        importlib.reload(hmac)


def _reconnect(ssl: ModuleType, binders: Sequence[str]) -> None:
    """Give the modules that went without ssl the real one, and sslproto what it computes
    from ssl at import; and hashlib and hmac OpenSSL's digests, now mapped anyway."""
    for name in binders:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ssl", 0) is None:
            module.ssl = ssl  # type: ignore[attr-defined]
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is not None and not hasattr(sslproto, "SSLAgainErrors"):
        sslproto.SSLAgainErrors = (  # type: ignore[attr-defined]
            ssl.SSLWantReadError, ssl.SSLSyscallError)
    openssl_digests()


class _Loader:
    """ssl's own loader, then `_reconnect` once the module has run."""

    def __init__(self, loader: Any, binders: Sequence[str]) -> None:
        self.loader = loader
        self.binders = binders

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader  # ssl's own loader from here on
        _reconnect(module, self.binders)


class _Finder:
    """Finds nothing itself: wraps the loader of the first `import ssl`, then steps aside."""

    def __init__(self, binders: Sequence[str]) -> None:
        self.binders = binders

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> Any:
        if name != "ssl":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self.binders)  # type: ignore[assignment]
        return spec


def deferred() -> bool:
    """True while asyncio runs without ssl, waiting for its first import."""
    return any(isinstance(f, _Finder) for f in sys.meta_path)


_ABSENT = ("ssl", "_hashlib")


def install() -> None:
    if any(n in sys.modules for n in ("asyncio", "hashlib", "hmac", *_ABSENT)):
        return
    before = set(sys.modules)
    for name in _ABSENT:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import asyncio  # noqa: F401
        import hashlib  # noqa: F401
        import hmac  # noqa: F401
    finally:
        for name in _ABSENT:
            del sys.modules[name]
    # Every module asyncio's import brought that bound ssl as None (whatever the Python
    # version's asyncio calls them): the ones to hand ssl to later.
    binders = sorted(n for n in set(sys.modules) - before
                     if getattr(sys.modules[n], "ssl", 0) is None)
    if binders:
        sys.meta_path.insert(0, _Finder(binders))
