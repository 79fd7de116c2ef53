"""Suite-wide guard: no test may leave the machine's own state dir behind.

The tests run as root on the machine the agent may also be installed on; a test that falls
back to /var/lib/pantau (a CLI path without a config, an agent without a state_dir) would
write outage history where a real agent keeps it. If the directory was not there when the
session started and is there at its end, the session fails, naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# The machine's path itself, not agent.cli.base.SYSTEM_STATE_DIR: importing the agent here
# would install its import hooks (collectors/common/openssl_on_demand.py) into pytest before
# any test ran, and a test monkeypatching the constant must not move what is guarded.
SYSTEM_STATE_DIR = Path("/var/lib/pantau")
_existed_before: bool | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _existed_before
    _existed_before = SYSTEM_STATE_DIR.exists()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _existed_before is False and SYSTEM_STATE_DIR.exists():
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (f"a test made {SYSTEM_STATE_DIR}, the machine's own state dir "
                   f"(contents: {sorted(p.name for p in SYSTEM_STATE_DIR.iterdir())})")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"FAILED suite guard: {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
