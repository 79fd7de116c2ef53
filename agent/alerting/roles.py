"""The `role` label of a check, derived from the dependency graph so nobody has to set it.

Alertmanager's inhibit rules (dashboards/alertmanager/alertmanager.yml) silence a site's
`role="service"` alerts while its `role="uplink"` alert fires. Asking every office to label
its checks by hand is how the inhibition silently stops working after the third new check, so
the agent labels them from what it already knows:

- `uplink`: something other checks depend on (an ISP uplink, the office router, a path check);
- `service`: depends on something and nothing depends on it (the portal, DNS, a VPN);
- no role: a check on its own (neither), which nothing inhibits.

A `role` written in a check's `labels:` wins: the admin knows better than the graph.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.alerting.state import Graph

LABEL = "role"
UPLINK = "uplink"
SERVICE = "service"


def derive_roles(graph: Graph) -> dict[str, str]:
    """check -> role for every check the graph gives one."""
    depended_on = {p for name in graph.groups for p in graph.parents(name)}
    roles: dict[str, str] = {}
    for name in graph.groups:
        if name in depended_on:
            roles[name] = UPLINK
        elif graph.parents(name):
            roles[name] = SERVICE
    return roles


def with_role(labels: Mapping[str, str], role: str | None) -> dict[str, str]:
    """A check's labels plus its derived role, unless the config already sets one."""
    out = dict(labels)
    if role and LABEL not in out:
        out[LABEL] = role
    return out
