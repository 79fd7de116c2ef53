"""Dependency edges from discovered paths, and the graph they make with the state machine."""

from __future__ import annotations

from agent.alerting.engine import build_graph
from agent.alerting.paths import PathFacts, auto_edges, target_host
from agent.alerting.state import Damping, StateMachine
from agent.config import AgentConfig


def _checks() -> list:  # type: ignore[type-arg]
    cfg = AgentConfig.model_validate({"site": "s", "checks": [
        {"name": "p", "type": "path", "target": "portal.example"},
        {"name": "portal", "type": "http", "target": "https://portal.example/health"},
        {"name": "gw", "type": "icmp", "target": "10.0.0.1"},
        {"name": "isp", "type": "tcp", "target": "10.0.2.1:179"},
        {"name": "dns", "type": "dns", "target": "10.0.9.9", "query_name": "x.example",
         "depends_on": ["gw"]},
    ]})
    return list(cfg.checks)


PATH = PathFacts("10.0.4.1", ("10.0.0.1", "*", "10.0.2.1", "10.0.3.1", "10.0.4.1"))


def test_target_host_forms() -> None:
    assert target_host("https://Portal.example:8443/x") == "portal.example"
    assert target_host("10.0.2.1:179") == "10.0.2.1"
    assert target_host("[fd00::1]:443") == "fd00::1"
    assert target_host("fd00::1") == "fd00::1"
    assert target_host("gw.lan") == "gw.lan"


def test_edges_follow_the_path() -> None:
    edges = auto_edges(_checks(), {"p": PATH})
    assert edges == {"portal": ["p"], "p": ["gw", "isp"], "isp": ["gw"]}


def test_resolved_addresses_match_names() -> None:
    checks = _checks()
    edges = auto_edges(checks, {"p": PATH}, {"portal": "10.0.4.1"})
    assert edges["portal"] == ["p"]


def test_graph_names_the_break_as_root_cause() -> None:
    checks = _checks()
    graph = build_graph(checks, auto_edges(checks, {"p": PATH}))
    assert graph.groups["dns"] == (("gw",),)  # written edges kept
    sm = StateMachine(graph, default=Damping(1, 1), settle=60)
    for name in ("p", "portal", "gw", "isp", "dns"):
        sm.observe(name, True, 0)
    # cut behind hop 4: gw and isp still answer, the path check and the portal fail
    out = sm.observe("p", False, 1, "no answer from 10.0.4.1 after hop 4 10.0.3.1")
    out.extend(sm.observe("portal", False, 1, "timeout"))
    assert sm.root_cause("portal") == "p"
    assert sm.checks["portal"].verdict == "suppressed"
    assert [(n.check, n.reason) for n in out.notices] == [
        ("p", "no answer from 10.0.4.1 after hop 4 10.0.3.1")]
