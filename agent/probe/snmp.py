"""snmp_exporter-compatible GET /snmp?module=M&target=T[&auth=A].

The module and auth come from the snmp.yml named by `snmp.exporter_modules`; the target must
be an address inside `snmp.exporter_targets`, checked before a packet leaves. The answer is
snmp_exporter's exposition (collectors/snmp/exporter.py). v1/v2c auths go through pantau's v2c
codec, v3 auths (security_level authNoPriv / authPriv) through pantau's SNMPv3 client.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from collectors.base import Deadline
from collectors.common.hostport import split_host_port
from exporters.exposition import CONTENT_TYPE

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from collectors.snmp.config import SnmpAuth
    from collectors.snmp.exporter import Auth, ExporterModule, Series

# The codec (exporter, v2c, v3) is imported by the first /snmp request that has an snmp.yml to
# answer from: the handler is made for every agent, most never configure one.

SnmpHandler = Callable[[str, str, str, float | None], Awaitable[tuple[int, str, bytes]]]
_TEXT = "text/plain; charset=utf-8"
DEFAULT_AUTH = "public_v2"  # snmp_exporter's default auth name in today's format


def make_snmp_handler(get_config: Callable[[], AgentConfig]) -> SnmpHandler:
    async def handle(module_name: str, target: str, auth_name: str,
                     scrape_timeout: float | None) -> tuple[int, str, bytes]:
        section = get_config().snmp
        yml = section.exporter
        if yml is None:
            return 404, _TEXT, b"no snmp.exporter_modules configured\n"
        from collectors.snmp.exporter import Auth, render, scrape
        from collectors.snmp.walk import SnmpError

        module = yml.modules.get(module_name)
        if module is None:
            return 400, _TEXT, f"unknown module {module_name!r}\n".encode()
        try:
            host, port = split_host_port(target, 161, what="target")
            ip = ipaddress.ip_address(host)
        except ValueError:
            return 400, _TEXT, f"target {target!r}: expected an address[:port]\n".encode()
        if not any(ip in ipaddress.ip_network(n, strict=False) for n in section.exporter_targets
                   if ipaddress.ip_network(n, strict=False).version == ip.version):
            return 403, _TEXT, f"target {target!r} is not in snmp.exporter_targets\n".encode()
        auth: Auth | None
        if auth_name:
            auth = yml.auths.get(auth_name)
            if auth is None:
                return 400, _TEXT, f"unknown auth {auth_name!r}\n".encode()
        else:
            auth = module.auth or yml.auths.get(DEFAULT_AUTH) or Auth()
        if auth.version == 3 and auth.v3_problem():
            return 400, _TEXT, f"auth {auth_name or module_name!r}: {auth.v3_problem()}\n" \
                .encode()
        budget = module.timeout * (module.retries + 1) * 4
        if scrape_timeout is not None:
            budget = max(0.1, min(budget, scrape_timeout - 0.25))
        started = time.perf_counter()
        try:
            if auth.version == 3:
                series, figures = await _scrape_v3(module, auth, str(ip), port,
                                                   Deadline(budget))
            else:
                series, figures = await scrape(module, auth, str(ip), port, Deadline(budget))
        except SnmpError as e:
            return 500, _TEXT, f"error walking target {target}: {e}\n".encode()
        return 200, CONTENT_TYPE, render(series, time.perf_counter() - started, figures)

    return handle


def v3_credentials(auth: Auth) -> SnmpAuth:
    """snmp_exporter's v3 auth in pantau's terms (its `password` is the auth password)."""
    from collectors.snmp.config import SnmpAuth

    priv = auth.security_level == "authPriv"
    return SnmpAuth.model_validate({
        "version": "3", "username": auth.username, "auth_protocol": auth.auth_protocol,
        "auth_password": auth.password,
        "priv_protocol": auth.priv_protocol if priv else "none",
        **({"priv_password": auth.priv_password} if priv else {})})


async def _scrape_v3(module: ExporterModule, auth: Auth, host: str, port: int,
                     deadline: Deadline) -> tuple[list[Series], dict[str, float]]:
    """Through pantau's own SNMPv3 client (the one configured devices use): the collector
    opens the target, so engine discovery and USM stay in one place."""
    from collectors.snmp.collector import SnmpCollector, SnmpDevice
    from collectors.snmp.exporter import scrape_target

    device = SnmpDevice(name="snmp-exporter", address=f"[{host}]:{port}" if ":" in host
                        else f"{host}:{port}", auth="snmp.yml", timeout=module.timeout,
                        retries=min(module.retries, 5), interval=3600,
                        max_repetitions=min(max(module.max_repetitions, 1), 100))
    coll = SnmpCollector(device, v3_credentials(auth))
    try:
        target = await coll._get_target()
        return await scrape_target(module, target, deadline)
    finally:
        await coll.aclose()
