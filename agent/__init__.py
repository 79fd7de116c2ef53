"""pantau agent: config, scheduler, store, history and the CLI that ties them together."""

# The one place the version is written (pyproject reads it): importlib.metadata would pull
# zipfile, email and csv into every agent process just to learn this string.
__version__ = "0.1.0"
