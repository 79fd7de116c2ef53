"""pantau agent: config, scheduler, store, history and the CLI that ties them together."""

# The version is written once, in collectors/common/version.py (pyproject reads it there):
# importlib.metadata would pull zipfile, email and csv into every agent process.
from collectors.common.version import VERSION as __version__

__all__ = ["__version__"]
