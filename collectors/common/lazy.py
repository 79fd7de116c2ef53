"""Binding heavy client libraries on first use, so an agent that never needs them never loads
them (see tests/unit/test_lazy_imports.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


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
    loader = importlib.util.LazyLoader(spec.loader)
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
