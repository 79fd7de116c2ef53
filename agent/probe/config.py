"""A `probe_modules:` entry: which check type /probe runs, its options, and the only targets
a request may name."""

from __future__ import annotations

import fnmatch
import ipaddress
from typing import Any

from pydantic import Field, field_validator

from collectors import CHECK_TYPES, REGISTRY
from collectors.config import CheckConfig, Duration, StrictModel


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
