"""Unit tests: pantau's own code in process, no daemons started (real sockets on loopback
where a protocol needs them). Every test here is marked `unit` (`pytest -m unit`)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.unit)
