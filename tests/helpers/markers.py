"""Marking every test of a folder (unit, peers, lab) from that folder's conftest."""

from __future__ import annotations

from pathlib import Path

import pytest


def mark_folder(items: list[pytest.Item], folder: Path, marker: pytest.MarkDecorator) -> None:
    for item in items:
        if item.path.is_relative_to(folder):
            item.add_marker(marker)
