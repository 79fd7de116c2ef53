"""Alertmanager output: POST /api/v2/alerts, the same API Prometheus itself uses.

Alertmanager deduplicates by label set, so re-sending the same alert is harmless; that is what
makes "exactly once" hold even if the agent dies between a successful POST and recording it.
A firing alert is re-sent periodically (like Prometheus does) with a short endsAt, so an agent
that disappears lets its alerts expire instead of leaving them firing forever.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from collectors.common.lazy import lazy_import
from collectors.common.tls import TLSConfig
from collectors.common.version import USER_AGENT
from collectors.config import Duration, Secret, StrictModel
from exporters.notify.base import DeliveryError, Notification, http_error, redact

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_import("httpx")

ALERTNAME = "PantauCheckDown"


class AlertmanagerReceiver(StrictModel):
    name: str = Field(min_length=1, description="Receiver name used in logs and metrics.")
    type: Literal["alertmanager"]
    url: str = Field(description="Base URL of Alertmanager, e.g. http://alertmanager:9093.")
    timeout: Duration = Field(10.0, description="Timeout of one delivery attempt.")
    tls_config: TLSConfig = Field(default_factory=TLSConfig,
                                  description="How the server's certificate is verified.")
    resend_interval: Duration = Field(
        60.0, description="How often firing alerts are re-sent; endsAt is 4x this ahead."
    )
    bearer_token: Secret | None = Field(None, description="Optional bearer token.")
    runbook_url: str = Field(
        "", description="Runbook URL template; {check} and {site} are replaced."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"invalid url {v!r}: must start with http:// or https://")
        return v.rstrip("/")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def alert_payload(n: Notification, now: float, ttl: float, runbook: str = "") -> dict[str, Any]:
    labels = {**n.labels, "alertname": ALERTNAME, "site": n.site, "check": n.check,
              "severity": n.severity}
    annotations = {"summary": n.title, "description": n.text}
    if n.root_cause:
        annotations["root_cause"] = n.root_cause
    rb = n.runbook or runbook.replace("{check}", n.check).replace("{site}", n.site)
    if rb:
        annotations["runbook"] = rb
    if n.playbook:
        annotations["playbook"] = n.playbook
    if n.target:
        annotations["target"] = n.target
    if n.affected:
        annotations["affected"] = ", ".join(n.affected)
    if n.members:
        annotations["group"] = ", ".join(n.members)
    # The outage began at its first failed result, not when damping declared it down.
    alert: dict[str, Any] = {"labels": labels, "annotations": annotations,
                             "startsAt": _iso(n.first_failure or n.since)}
    if n.kind == "resolved":
        alert["endsAt"] = _iso(n.at)
    else:
        alert["endsAt"] = _iso(now + ttl)
    return alert


class AlertmanagerNotifier:
    def __init__(self, cfg: AlertmanagerReceiver) -> None:
        self.cfg = cfg
        self.name = cfg.name
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self._secret = ""
        if cfg.bearer_token is not None:
            self._secret = cfg.bearer_token.get_secret_value()
            headers["Authorization"] = f"Bearer {self._secret}"
        self._client = httpx.AsyncClient(verify=cfg.tls_config.client_context(), headers=headers,
                                         follow_redirects=False)

    async def send(self, n: Notification, budget: float) -> None:
        await self.post([n], budget)

    async def post(self, notes: list[Notification], budget: float) -> None:
        now = time.time()
        ttl = 4 * self.cfg.resend_interval
        body = [alert_payload(n, now, ttl, self.cfg.runbook_url) for n in notes]
        if any(n.kind == "test" for n in notes):
            for a in body:
                a["labels"]["alertname"] = "PantauTest"
                a["labels"]["severity"] = "info"
                a["endsAt"] = _iso(now + 300)
        for n, a in zip(notes, body, strict=True):
            if n.kind == "path_change":  # an event, not an outage: shown a while, then gone
                a["labels"]["alertname"] = "PantauPathChange"
                a["labels"]["severity"] = "info"
                a["startsAt"] = _iso(n.at)
                a["endsAt"] = _iso(n.at + 3600)
        try:
            r = await self._client.post(f"{self.cfg.url}/api/v2/alerts", json=body,
                                        timeout=min(budget, self.cfg.timeout))
        except httpx.HTTPError as e:
            msg = redact(f"alertmanager {self.cfg.url}: {type(e).__name__}: {e}", self._secret)
            raise DeliveryError(msg) from None
        if r.status_code >= 300:
            raise http_error(r.status_code, r.text, f"alertmanager {self.cfg.url}", self._secret)

    async def aclose(self) -> None:
        await self._client.aclose()
