"""pantau agent: config, scheduler, store, history and the CLI that ties them together."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pantau")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
