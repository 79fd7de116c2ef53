"""SSH: the agentless collector (Linux and RouterOS), its session with verified host keys
(session), the `ssh:` section (config), output parsers (parsers) and the playbook-runs
counter read from the audit log (playbook_runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.common.lazy import lazy_exports

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.ssh.collector import SshCollector
    from collectors.ssh.config import SshSection, SshSectionField
    from collectors.ssh.playbook_runs import PlaybookRunsCollector
    from collectors.ssh.session import Auth, SshError, SshSession


__all__ = ["Auth", "PlaybookRunsCollector", "SshCollector", "SshError", "SshSection",
           "SshSectionField", "SshSession"]

# Imported from their module on first use (collectors/common/lazy.py).
_LAZY = {
    "SshCollector": "collectors.ssh.collector",
    "SshSection": "collectors.ssh.config",
    "SshSectionField": "collectors.ssh.config",
    "PlaybookRunsCollector": "collectors.ssh.playbook_runs",
    "Auth": "collectors.ssh.session",
    "SshError": "collectors.ssh.session",
    "SshSession": "collectors.ssh.session",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())
