"""Unit tests: pantau's own code in process, no daemons started (real sockets on loopback
where a protocol needs them). Every test here is marked `unit` (`pytest -m unit`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.markers import mark_folder

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, HERE, pytest.mark.unit)
