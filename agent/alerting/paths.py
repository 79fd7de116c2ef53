"""Dependency edges from discovered paths (`alerts.auto_dependencies`).

A path check knows the hops in front of its target. From that, without any `depends_on`:
- a check whose target is the path's target depends on the path check (when the portal is
  unreachable, the path check says where the path breaks: that is the root cause);
- the path check depends on the checks whose target is one of its hops, and each such hop
  check on the nearest hop check in front of it (the office gateway before the ISP router);
  checks that share a path prefix so share those parents.
The edges are merged with the written `depends_on`; a merged graph that would have a cycle is
refused and the written one kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from collectors.common.hostport import target_host
from collectors.config import CheckConfig

__all__ = ["PathFacts", "auto_edges", "target_host"]


@dataclass(frozen=True)
class PathFacts:
    """What one path check found: the target's address and each hop's address ("*" if
    silent), the target last."""

    target: str
    hops: tuple[str, ...]


def auto_edges(checks: Iterable[CheckConfig], paths: Mapping[str, PathFacts],
               addresses: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Extra `depends_on` per check from the discovered paths. `addresses` holds the
    address each check last resolved its target to (so names match hop addresses too)."""
    checks = list(checks)
    by_check = {c.name: c for c in checks}
    keys: dict[str, set[str]] = {}
    for c in checks:
        keys[c.name] = {target_host(c.target)} | (
            {addresses[c.name]} if addresses and addresses.get(c.name) else set())
    edges: dict[str, list[str]] = {}

    def add(child: str, parent: str) -> None:
        if child != parent and parent not in edges.setdefault(child, []):
            edges[child].append(parent)

    for pname, facts in paths.items():
        if pname not in by_check:
            continue
        path_keys = keys[pname] | {facts.target}
        for c in checks:
            if c.name != pname and c.type != "path" and keys[c.name] & path_keys:
                add(c.name, pname)
        previous: list[str] = []  # checks on the nearest hop in front with checks
        for hop in facts.hops[:-1]:
            here = [c.name for c in checks
                    if c.name != pname and c.type != "path" and hop in keys[c.name]]
            if not here:
                continue
            for name in here:
                add(pname, name)
                for p in previous:
                    add(name, p)
            previous = here
    return edges
