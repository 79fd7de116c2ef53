"""Discovery of the default gateway and DNS resolvers for the embedded default config."""

from __future__ import annotations

from pathlib import Path

from agent.config.discovery import default_gateways, dns_resolvers

ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth1\t00000000\t01010A0A\t0003\t0\t0\t50\t00000000\t0\t0\t0
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
garbage line
"""


def test_default_gateways_sorted_by_metric(tmp_path: Path) -> None:
    f = tmp_path / "route"
    f.write_text(ROUTE)
    assert default_gateways(f) == ["10.10.1.1", "192.168.1.1"]


def test_no_route_file(tmp_path: Path) -> None:
    assert default_gateways(tmp_path / "missing") == []


def test_resolvers(tmp_path: Path) -> None:
    f = tmp_path / "resolv.conf"
    f.write_text(
        "# comment\nsearch kab.go.id\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\n"
        "nameserver not-an-ip\nnameserver 127.0.0.53\noptions edns0\n"
    )
    assert dns_resolvers(f) == ["127.0.0.53", "fe80::1"]


def test_embedded_default_probes_gateway_and_dns(tmp_path: Path) -> None:
    from agent.config import AgentConfig
    from agent.config.discovery import default_config

    route = tmp_path / "route"
    route.write_text(ROUTE)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.10.1.53\nnameserver 127.0.0.53\n")
    cfg = AgentConfig.model_validate(default_config("kantor", route, resolv))
    by_name = {c.name: c for c in cfg.checks}
    assert by_name["gateway-10-10-1-1"].type == "icmp"
    assert by_name["gateway-192-168-1-1"].target == "192.168.1.1"
    dns = by_name["dns-10-10-1-53"]
    assert dns.type == "dns" and dns.depends_on == ["gateway-10-10-1-1"]
    assert by_name["dns-127-0-0-53"].depends_on == []  # a local stub needs no gateway
    assert cfg.host.enabled
    assert {j.key for j in cfg.jobs()} >= {"host", "check:gateway-10-10-1-1"}


def test_embedded_default_traces_the_path_to_the_resolver(tmp_path: Path) -> None:
    from agent.config import AgentConfig
    from agent.config.discovery import default_config

    route = tmp_path / "route"
    route.write_text(ROUTE)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.10.1.53\nnameserver 10.10.2.53\n")
    cfg = AgentConfig.model_validate(default_config("kantor", route, resolv,
                                                    tmp_path / "none"))
    paths = [c for c in cfg.checks if c.type == "path"]
    assert [(c.name, c.target) for c in paths] == [("dns-10-10-1-53-path", "10.10.1.53")]
    p = paths[0]
    assert (p.interval, p.max_hops, p.probes) == (300.0, 16, 3)  # type: ignore[attr-defined]
    # behind systemd-resolved's stub: the resolver it forwards to
    resolv.write_text("nameserver 127.0.0.53\n")
    upstream = tmp_path / "upstream.conf"
    upstream.write_text("nameserver 10.20.0.53\n")
    cfg = AgentConfig.model_validate(default_config("kantor", route, resolv, upstream))
    assert [(c.name, c.target, c.interval) for c in cfg.checks if c.type == "path"] == [
        ("path-10-20-0-53", "10.20.0.53", 300.0)]
    # no gateway, or nothing to trace to: no path check
    assert not [c for c in AgentConfig.model_validate(
        default_config("kantor", tmp_path / "missing", resolv, upstream)).checks
        if c.type == "path"]
    assert not [c for c in AgentConfig.model_validate(
        default_config("kantor", route, resolv, tmp_path / "none")).checks
        if c.type == "path"]


def test_embedded_default_gets_the_derived_roles_the_inhibit_rules_match(tmp_path: Path) -> None:
    """The shipped Alertmanager example inhibits role="service" while role="uplink" fires; a
    hand-set role (it once said gateway/dns) would win over the derived one and match neither."""
    from agent.alerting.engine import build_graph
    from agent.alerting.roles import derive_roles, with_role
    from agent.config import AgentConfig
    from agent.config.discovery import default_config

    route = tmp_path / "route"
    route.write_text(ROUTE)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.10.1.53\n")
    cfg = AgentConfig.model_validate(default_config("kantor", route, resolv))
    roles = derive_roles(build_graph(list(cfg.checks)))
    labels = {c.name: with_role(c.labels, roles.get(c.name)) for c in cfg.checks}
    assert labels["gateway-10-10-1-1"]["role"] == "uplink"
    assert labels["dns-10-10-1-53"]["role"] == "service"
