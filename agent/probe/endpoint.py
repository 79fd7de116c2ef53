"""Blackbox-compatible GET /probe?module=NAME&target=T.

A central Prometheus can ask the office agent to probe a target on demand, as it would ask
blackbox_exporter. The request only chooses among what the config allows: the module must be
configured, and the target must match that module's own allow-list (exact strings, IP networks
in CIDR form, or `*.suffix` host patterns). Anything else is refused before a packet leaves.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from agent.probe.blackbox import blackbox_series, render
from agent.probe.config import ProbeModule
from collectors import REGISTRY
from collectors.base import Context, Deadline, Sample
from exporters.exposition import CONTENT_TYPE, Exposition

if TYPE_CHECKING:
    from agent.config import AgentConfig

BLACKBOX_OFFSET = 0.5  # seconds left for the HTTP answer, as blackbox_exporter does


ProbeHandler = Callable[[str, str, float | None], Awaitable[tuple[int, str, bytes]]]


def make_handler(get_config: Callable[[], AgentConfig]) -> ProbeHandler:
    """The function MetricsServer calls for /probe; it reads the live (reloadable) config."""

    async def handle(module_name: str, target: str,
                     scrape_timeout: float | None) -> tuple[int, str, bytes]:
        cfg = get_config()
        modules: dict[str, ProbeModule] = cfg.probe_modules
        module = modules.get(module_name)
        if module is None:
            return 400, "text/plain; charset=utf-8", f"unknown module {module_name!r}\n".encode()
        if module.names == "blackbox" and module.type == "http" and "://" not in target:
            target = "http://" + target  # blackbox_exporter's reading of a bare host
        admitted = module.admit(target)
        if admitted is None:
            return 403, "text/plain; charset=utf-8", (
                f"target {target!r} is not allowed by module {module_name!r}\n".encode())
        timeout = module.timeout
        if scrape_timeout is not None:
            timeout = max(0.1, min(timeout, scrape_timeout - BLACKBOX_OFFSET))
        try:
            check = module.check_config(admitted.target, timeout)
        except ValueError as e:
            msg = str(e).splitlines()[0]
            return 400, "text/plain; charset=utf-8", f"bad target for module: {msg}\n".encode()
        cls = REGISTRY[module.type]
        collector = cls(check)  # type: ignore[call-arg]
        if hasattr(collector, "redirect_guard"):
            # a redirect is a new target: it has to pass the same allow-list
            collector.redirect_guard = lambda url: module.admit(url) is not None
        # http and tcp collectors keep their TLS context in _ssl_ctx; this module's requests
        # all build the same check, so one context serves them all
        if module._tls_context is not None and hasattr(collector, "_ssl_ctx"):
            collector._ssl_ctx = module._tls_context
        started = time.perf_counter()
        try:
            obs = await collector.collect(Context(Deadline(timeout), cfg.site, "probe"))
        finally:
            await collector.aclose()
        if module._tls_context is None:
            module._tls_context = getattr(collector, "_ssl_ctx", None)
        if module.names == "blackbox":
            _, series = blackbox_series(module.judge, obs, time.perf_counter() - started)
            return 200, CONTENT_TYPE, render(series)
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
