"""Path checks made for http, dns and tcp checks (`path: true`, `paths.auto`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig, ConfigError, load_config


def _cfg(checks: list[dict[str, Any]], **paths: Any) -> AgentConfig:
    return AgentConfig.model_validate({"site": "kantor", "checks": checks, "paths": paths})


SERVICES = [
    {"name": "portal", "type": "http", "target": "https://oss.example.go.id/login"},
    {"name": "portal-api", "type": "http", "target": "https://oss.example.go.id:8443/api"},
    {"name": "dns", "type": "dns", "target": "10.0.0.53", "query_name": "."},
    {"name": "db", "type": "tcp", "target": "10.0.5.7:5432", "interval": "10m",
     "timeout": "5s", "labels": {"team": "data"}},
    {"name": "gw", "type": "icmp", "target": "10.0.0.1"},
]


def made(cfg: AgentConfig) -> dict[str, Any]:
    return {c.name: c for c in cfg.checks if c.type == "path"}


def test_off_unless_asked() -> None:
    assert made(_cfg(SERVICES)) == {}
    one = [dict(SERVICES[3], path=True), *SERVICES[:3]]
    assert list(made(_cfg(one))) == ["db-path"]


def test_auto_one_per_host_modest_defaults_and_opt_out() -> None:
    checks = [*SERVICES[:2], dict(SERVICES[2], path=False), *SERVICES[3:]]
    paths = made(_cfg(checks, auto=True))
    assert list(paths) == ["portal-path", "db-path"]  # portal-api shares portal's host
    p, db = paths["portal-path"], paths["db-path"]
    assert (p.target, p.interval, p.probes, p.max_hops) == ("oss.example.go.id", 300, 3, 16)
    assert db.interval == 600 and db.labels == {"team": "data"}  # never more often than its
    assert p.protocol == "icmp"


def test_tcp_probes_go_to_the_service_port() -> None:
    paths = made(_cfg(SERVICES, auto=True, protocol="tcp"))
    assert {n: (c.protocol, c.port) for n, c in paths.items()} == {
        "portal-path": ("tcp", 443), "dns-path": ("tcp", 53), "db-path": ("tcp", 5432)}


def test_a_written_path_check_is_not_doubled() -> None:
    written = {"name": "to-portal", "type": "path", "target": "oss.example.go.id"}
    assert list(made(_cfg([*SERVICES, written], auto=True))) == ["to-portal", "dns-path",
                                                                 "db-path"]


def test_path_on_other_types_is_refused_with_its_place(tmp_path: Path) -> None:
    f = tmp_path / "pantau.yml"
    f.write_text("site: k\nchecks:\n  - name: gw\n    type: icmp\n    target: 10.0.0.1\n"
                 "    path: true\n")
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert "line 6: checks[0].path: path: only http, dns and tcp checks trace their path, " \
        "not icmp checks" in e.value.render()
