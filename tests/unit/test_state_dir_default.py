"""The default state dir is decided without making it: `pantau run --print-config` and the
embedded default must leave no directory behind (the agent makes it when it takes it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import base
from agent.cli.run import effective_config


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "var" / "lib" / "pantau"
    path.parent.mkdir(parents=True)
    monkeypatch.setattr(base, "SYSTEM_STATE_DIR", path)
    return path


def test_a_missing_system_dir_is_chosen_but_not_made(system: Path) -> None:
    assert base.default_state_dir() == system
    assert not system.exists()


def test_the_embedded_default_names_it_and_makes_nothing(system: Path) -> None:
    cfg = effective_config(None)
    assert cfg.state_dir == system
    assert not system.exists() and list(system.parent.iterdir()) == []


def test_an_existing_system_dir_is_taken(system: Path) -> None:
    system.mkdir()
    assert base.default_state_dir() == system


@pytest.mark.parametrize("case", ["no parent", "a file"])
def test_the_user_dir_when_the_system_one_cannot_be(
        case: str, system: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if case == "no parent":
        monkeypatch.setattr(base, "SYSTEM_STATE_DIR", system.parent / "gone" / "pantau")
    else:
        system.write_text("not a directory")
    assert base.default_state_dir() == Path.home() / ".local" / "state" / "pantau"
    assert not (system.parent / "gone").exists()
