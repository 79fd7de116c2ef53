"""pytest fixtures for the namespace lab (see tests/lab/README.md); every test here is
marked `lab` (`pytest -m lab`).

One lab per test module (building it costs ~0.5 s); `office_lab` resets it after every test
(links up, loss cleared, services running), so tests can break things freely.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.markers import mark_folder
from tests.lab.office import OfficeLab

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, HERE, pytest.mark.lab)


@pytest.fixture(scope="module")
def _office_lab_module() -> Iterator[OfficeLab]:
    with OfficeLab() as lab:
        yield lab


@pytest.fixture
def office_lab(_office_lab_module: OfficeLab) -> Iterator[OfficeLab]:
    yield _office_lab_module
    _office_lab_module.reset()
