"""SSH: the agentless collector (Linux and RouterOS), its session with verified host keys
(session), the `ssh:` section (config), output parsers (parsers) and the playbook-runs
counter read from the audit log (playbook_runs)."""

from collectors.ssh.collector import SshCollector
from collectors.ssh.config import SshSection, SshSectionField
from collectors.ssh.playbook_runs import PlaybookRunsCollector
from collectors.ssh.session import Auth, SshError, SshSession

__all__ = ["Auth", "PlaybookRunsCollector", "SshCollector", "SshError", "SshSection",
           "SshSectionField", "SshSession"]
