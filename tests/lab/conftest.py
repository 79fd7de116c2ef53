"""pytest fixtures for the namespace lab (see tests/lab/README.md).

One lab per test module (building it costs ~0.5 s); `office_lab` resets it after every test
(links up, loss cleared, services running), so tests can break things freely.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.office import OfficeLab


@pytest.fixture(scope="module")
def _office_lab_module() -> Iterator[OfficeLab]:
    with OfficeLab() as lab:
        yield lab


@pytest.fixture
def office_lab(_office_lab_module: OfficeLab) -> Iterator[OfficeLab]:
    yield _office_lab_module
    _office_lab_module.reset()
