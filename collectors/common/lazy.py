"""Binding heavy client libraries on first use, so an agent that never needs them never loads
them (see tests/unit/test_lazy_imports.py)."""

from __future__ import annotations

import importlib.abc
import types
from collections.abc import Callable, Mapping
from typing import Any

# Submodules a library imports for its own command line only, kept out of the agent:
# httpx's __init__ tries `from ._main import main` (its CLI), which loads rich, pygments and
# click when they are installed (~5 MiB, more than httpx itself); left out, httpx binds its
# "CLI dependencies not installed" stub instead and nothing the agent calls changes.
_CLI_ONLY: dict[str, tuple[str, ...]] = {"httpx": ("httpx._main",)}


class _WithoutCli(importlib.abc.Loader):
    """The library's own loader, run with its CLI-only submodules marked absent (a None in
    sys.modules makes their import raise ImportError, as when their dependencies are not
    installed); the marks are removed afterwards, so an explicit import later still works."""

    def __init__(self, loader: Any, skip: tuple[str, ...]) -> None:
        self.loader = loader
        self.skip = skip

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        import sys

        marked = [n for n in self.skip if n not in sys.modules]
        for n in marked:
            sys.modules[n] = None  # type: ignore[assignment]
        try:
            self.loader.exec_module(module)
        finally:
            for n in marked:
                if sys.modules.get(n, 0) is None:
                    del sys.modules[n]
            module.__spec__.loader = self.loader  # the module's own loader from here on


def lazy_import(name: str) -> Any:
    """Import `name` on first attribute access.

    The registry imports every collector module so the config can be validated, but an office
    that configures no SSH check should not carry paramiko and cryptography (~18 MiB) in
    memory; heavy client libraries are therefore bound lazily in the collector modules.
    """
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}")
    skip = _CLI_ONLY.get(name)
    loader = importlib.util.LazyLoader(_WithoutCli(spec.loader, skip) if skip else spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system does, so `import a.b; a.b.x` finds it
        setattr(sys.modules[parent], child, module)
    return module


def lazy_exports(package: str, names: Mapping[str, str],
                 namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A package's module `__getattr__` (PEP 562) that imports each exported name from its
    module on first use: importing one submodule (the registry's entry, a section's config
    model) must not load the whole package. `names` maps name -> module."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__


# --- ssl, loaded by the first TLS use instead of by asyncio --------------------------------
# asyncio imports ssl at its own import (base_events, selector_events), and asyncio.sslproto
# reads ssl's names at import; ssl brings libssl and its enums (~1.9 MiB of a host-only agent,
# BENCHMARKS.md "RSS of host-only `pantau run`"), which an agent that makes no TLS connection
# and serves /metrics without TLS never uses. (libcrypto itself is loaded anyway: pydantic
# imports secrets -> hmac -> _hashlib.) defer_ssl() puts stand-ins for both modules in
# sys.modules before asyncio is imported; the first attribute read from either (a TLS
# context, asyncio's check that a socket is no SSLSocket in sock_connect and the like, a TLS
# transport) imports the real module, under a lock, and the stand-in takes on its names, so
# a module that bound the stand-in sees the real module's objects from then on.
_DEFERRED = ("ssl", "asyncio.sslproto")
_deferred_lock: Any = None
_after_load: dict[str, list[Callable[[Any], None]]] = {}


class _Deferred(types.ModuleType):
    """A module's place-holder in sys.modules until something reads a name from it."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # introspection (copy, pickle, inspect) loads nothing
        return getattr(_load_deferred(self), attr)


def _load_deferred(stand_in: _Deferred) -> Any:
    import importlib
    import sys

    name = stand_in.__name__
    with _deferred_lock:
        real = sys.modules.get(name)
        if real is stand_in:
            del sys.modules[name]
            try:
                real = importlib.import_module(name)
            except BaseException:
                sys.modules[name] = stand_in
                raise
            stand_in.__dict__.update(real.__dict__)
            stand_in.__class__ = types.ModuleType  # type: ignore[assignment]  # loaded: plain
            for hook in _after_load.pop(name, []):
                hook(real)
    return real


def defer_ssl() -> None:
    """Before asyncio is first imported (collectors/__init__.py); a no-op once it, or ssl, is
    (under pytest, say): then everything is as without it."""
    import sys
    import threading

    global _deferred_lock
    if any(n in sys.modules for n in ("asyncio", *_DEFERRED)):
        return
    _deferred_lock = threading.RLock()
    for name in _DEFERRED:
        sys.modules[name] = _Deferred(name)
    import asyncio

    asyncio.sslproto = sys.modules["asyncio.sslproto"]  # type: ignore[attr-defined]


def when_loaded(name: str, hook: Callable[[Any], None]) -> None:
    """Run hook(module) once the module `name` is loaded: now if it is, else when a deferred
    stand-in for it loads it (its first use)."""
    import sys

    module = sys.modules.get(name)
    if isinstance(module, _Deferred):
        _after_load.setdefault(name, []).append(hook)
    else:
        if module is None:
            import importlib

            module = importlib.import_module(name)
        hook(module)
