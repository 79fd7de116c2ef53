"""SSH: the agentless collector (Linux and RouterOS), its session with verified host keys
(session), the `ssh:` section (config), output parsers (parsers) and the playbook-runs
counter read from the audit log (playbook_runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.ssh.collector import SshCollector
    from collectors.ssh.config import SshSection, SshSectionField
    from collectors.ssh.playbook_runs import PlaybookRunsCollector
    from collectors.ssh.session import Auth, SshError, SshSession


__all__ = ["Auth", "PlaybookRunsCollector", "SshCollector", "SshError", "SshSection",
           "SshSectionField", "SshSession"]

# Names are imported from their module on first use (PEP 562): importing one submodule (the
# registry's entry, a section's config model) must not load the whole package.
_LAZY = {
    "SshCollector": "collectors.ssh.collector",
    "SshSection": "collectors.ssh.config",
    "SshSectionField": "collectors.ssh.config",
    "PlaybookRunsCollector": "collectors.ssh.playbook_runs",
    "Auth": "collectors.ssh.session",
    "SshError": "collectors.ssh.session",
    "SshSession": "collectors.ssh.session",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
