"""Blackbox-compatible GET /probe?module=NAME&target=T.

A central Prometheus can ask the office agent to probe a target on demand, as it would ask
blackbox_exporter. The request only chooses among what the config allows: the module must be
configured, and the target must match that module's own allow-list (exact strings, IP networks
in CIDR form, or `*.suffix` host patterns). Anything else is refused before a packet leaves.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field, field_validator

from collectors import CHECK_TYPES, REGISTRY
from collectors.base import CheckConfig, Context, Deadline, Duration, Sample, StrictModel
from exporters.exposition import CONTENT_TYPE, Exposition

BLACKBOX_OFFSET = 0.5  # seconds left for the HTTP answer, as blackbox_exporter does


class ProbeModule(StrictModel):
    """A probe module for /probe: a check type, its options and the targets it may probe."""

    type: str = Field(description="A check type: icmp, tcp, dns, http.")
    timeout: Duration = Field(10.0, description="Upper bound; the scrape timeout may lower it.")
    targets: list[str] = Field(
        min_length=1, description="Allowed targets: exact, CIDR (10.0.0.0/24) or *.suffix.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Type-specific check options (e.g. query_name).")

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CHECK_TYPES:
            raise ValueError(f"unknown check type {v!r} (known: {', '.join(sorted(CHECK_TYPES))})")
        return v

    @field_validator("targets")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for t in v:
            if "*" in t and not (t.startswith("*.") and "*" not in t[2:]):
                raise ValueError(f"target pattern {t!r}: only a leading '*.' is allowed")
        return v

    def allows(self, target: str) -> bool:
        host = _host_of(target)
        for allowed in self.targets:
            if target == allowed:
                return True
            if allowed.startswith("*."):
                if host and fnmatch.fnmatchcase(host.lower(), allowed.lower()):
                    return True
                continue
            try:
                net = ipaddress.ip_network(allowed, strict=False)
            except ValueError:
                continue
            try:
                if host and ipaddress.ip_address(host) in net and "/" in allowed:
                    return True
            except ValueError:
                continue
        return False

    def check_config(self, target: str, timeout: float) -> CheckConfig:
        data = {**self.options, "name": "probe", "type": self.type, "target": target,
                "timeout": timeout, "interval": timeout + 1}
        model = REGISTRY[self.type].Config
        return model.model_validate(data)  # type: ignore[return-value]


def _host_of(target: str) -> str:
    """The host part of a URL, host:port, [v6]:port or bare host."""
    t = target
    if "://" in t:
        t = t.split("://", 1)[1]
    t = t.split("/", 1)[0].rsplit("@", 1)[-1]
    if t.startswith("["):
        return t[1:].split("]", 1)[0]
    if t.count(":") == 1:
        return t.split(":", 1)[0]
    return t


ProbeHandler = Callable[[str, str, float | None], Awaitable[tuple[int, str, bytes]]]


def make_handler(get_config: Callable[[], Any]) -> ProbeHandler:
    """The function MetricsServer calls for /probe; it reads the live (reloadable) config."""

    async def handle(module_name: str, target: str,
                     scrape_timeout: float | None) -> tuple[int, str, bytes]:
        cfg = get_config()
        modules: dict[str, ProbeModule] = cfg.probe_modules
        module = modules.get(module_name)
        if module is None:
            return 400, "text/plain; charset=utf-8", f"unknown module {module_name!r}\n".encode()
        if not module.allows(target):
            return 403, "text/plain; charset=utf-8", (
                f"target {target!r} is not allowed by module {module_name!r}\n".encode())
        timeout = module.timeout
        if scrape_timeout is not None:
            timeout = max(0.1, min(timeout, scrape_timeout - BLACKBOX_OFFSET))
        try:
            check = module.check_config(target, timeout)
        except ValueError as e:
            msg = str(e).splitlines()[0]
            return 400, "text/plain; charset=utf-8", f"bad target for module: {msg}\n".encode()
        cls = REGISTRY[module.type]
        collector = cls(check)  # type: ignore[call-arg]
        started = time.perf_counter()
        try:
            obs = await collector.collect(Context(Deadline(timeout), cfg.site, "probe"))
        finally:
            await collector.aclose()
        expo = Exposition(cls.METRICS)
        site = (("site", cfg.site),)
        expo.update("probe", [Sample(s.name, s.value, site + s.labels) for s in obs.samples])
        expo.refresh()
        body = expo.body()
        if not obs.success and obs.reason:
            body = f"# probe failed: {obs.reason}\n".encode() + body
        body += f"# probe took {time.perf_counter() - started:.3f}s\n".encode()
        return 200, CONTENT_TYPE, body

    return handle
