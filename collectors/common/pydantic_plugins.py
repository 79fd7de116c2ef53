"""pydantic's plugin lookup without importlib.metadata when no pydantic plugin is installed.

pydantic looks for plugins (entry points of the group `pydantic`) when it builds the first
model's validator, and its loader imports importlib.metadata to do so, which brings zipfile,
email, csv, tempfile and importlib.resources: ~1.7 MiB in every agent process (BENCHMARKS.md,
"RSS of host-only `pantau run`") to find, nearly always, nothing. `install()` puts a
stand-in for that loader in its place: it reads the installed distributions' entry_points.txt
itself and, only if one of them declares a `[pydantic]` group (or sys.path holds something it
cannot read as a directory, such as a zip), hands over to pydantic's own loader, so installed
plugins still apply exactly as before.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterable
from typing import Any

_LOADER = "pydantic.plugin._loader"


def _may_have_plugins() -> bool:
    """True if some distribution on sys.path may declare pydantic entry points (or if sys.path
    holds an entry that is not a plain directory, where only importlib.metadata can look)."""
    for entry in sys.path:
        path = entry or "."
        if not os.path.isdir(path):
            if os.path.exists(path):
                return True  # a zip or egg file: leave it to importlib.metadata
            continue
        try:
            with os.scandir(path) as it:
                names = [e.name for e in it if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            return True
        for name in names:
            try:
                with open(os.path.join(path, name, "entry_points.txt"),
                          encoding="utf-8") as f:
                    if any(line.strip() == "[pydantic]" for line in f):
                        return True
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError):
                return True
    return False


_none_installed: bool | None = None  # looked once, as pydantic's loader caches what it found


def _get_plugins() -> Iterable[Any]:
    global _none_installed
    if os.getenv("PYDANTIC_DISABLE_PLUGINS") in ("__all__", "1", "true"):
        return ()  # what pydantic's loader answers then, without looking
    if _none_installed is None:
        _none_installed = not _may_have_plugins()
    if _none_installed:
        return ()
    # a plugin may be installed: pydantic's own loader from here on
    import importlib

    if sys.modules.get(_LOADER) is _STAND_IN:
        del sys.modules[_LOADER]
    real = importlib.import_module(_LOADER)
    return real.get_plugins()


_STAND_IN = types.ModuleType(_LOADER, "pantau's stand-in (collectors/common/pydantic_plugins.py)")
_STAND_IN.get_plugins = _get_plugins  # type: ignore[attr-defined]


def install() -> None:
    """Before the first model is built; a no-op once pydantic's loader is loaded."""
    if _LOADER not in sys.modules:
        sys.modules[_LOADER] = _STAND_IN
