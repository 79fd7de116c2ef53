"""Binding heavy client libraries on first use, so an agent that never needs them never loads
them (see tests/unit/test_lazy_imports.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Submodules a library imports for its own command line only, kept out of the agent:
# httpx's __init__ tries `from ._main import main` (its CLI), which loads rich, pygments and
# click when they are installed (~5 MiB, more than httpx itself); left out, httpx binds its
# "CLI dependencies not installed" stub instead and nothing the agent calls changes.
_CLI_ONLY: dict[str, tuple[str, ...]] = {"httpx": ("httpx._main",)}


# Not an importlib.abc.Loader subclass: importing importlib.abc loads importlib.resources,
# tempfile, shutil, bz2 and lzma (~1 MiB) into every agent; LazyLoader only needs exec_module.
class _WithoutCli:
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
    inner: Any = _WithoutCli(spec.loader, skip) if skip else spec.loader
    loader = importlib.util.LazyLoader(inner)
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
