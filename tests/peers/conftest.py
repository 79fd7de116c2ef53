"""Peer tests: pantau side by side with the real daemons (snmpd, sshd, Prometheus,
Alertmanager, node/blackbox/snmp exporters) the tests start on loopback or in namespaces.
Every test here is marked `peers` (`pytest -m peers`). The shared fixtures: one throwaway
SSH user and one sshd per module (tests/helpers/sshd.py); snmpd comes from
tests/helpers/snmpd.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.markers import mark_folder
from tests.helpers.sshd import Sshd, SshUser, running_sshd, throwaway_user

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, HERE, pytest.mark.peers)


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshUser]:
    """A throwaway local account the module's sshd lets in (key and password)."""
    with throwaway_user(tmp_path_factory.mktemp("sshuser")) as u:
        yield u


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory, user: SshUser) -> Iterator[Sshd]:
    """A real OpenSSH sshd on a free loopback port, for the module's tests."""
    with running_sshd(tmp_path_factory.mktemp("sshd"), user.name) as s:
        yield s
