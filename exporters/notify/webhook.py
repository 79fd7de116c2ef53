"""Generic webhook output: a JSON POST, optionally signed with HMAC-SHA256.

Every retry of one notification carries the same `Idempotency-Key` header (and `id` field),
so a receiver that records keys sees each notification once even if the agent died between
the receiver's 200 and the outbox recording it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from collectors.common.lazy import lazy_import
from collectors.common.tls import TLSConfig
from collectors.common.version import USER_AGENT
from collectors.config import Duration, Secret, StrictModel, resolve_secret
from exporters.notify.base import REDACT, DeliveryError, Notification, http_error, redact

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_import("httpx")

SIGNATURE_HEADER = "X-Pantau-Signature"


class WebhookReceiver(StrictModel):
    name: str = Field(min_length=1, description="Receiver name used in logs and metrics.")
    type: Literal["webhook"]
    url: Secret = Field(description="Where to POST the JSON; a secret (a Slack-style URL is "
                        "the credential), masked in --print-config and logs.")
    timeout: Duration = Field(10.0, description="Timeout of one delivery attempt.")
    tls_config: TLSConfig = Field(default_factory=TLSConfig,
                                  description="How the server's certificate is verified.")
    hmac_secret: Secret | None = Field(
        None, description="If set, X-Pantau-Signature: sha256=<hex HMAC of the body>."
    )
    hmac_secret_file: Path | None = Field(None, description="Read hmac_secret from this file.")
    headers: dict[str, Secret] = Field(
        default_factory=dict, description="Extra HTTP headers; values are secrets.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("invalid url: must start with http:// or https://")
        return v

    @model_validator(mode="after")
    def _secret(self) -> WebhookReceiver:
        self.hmac_secret = resolve_secret(self.hmac_secret, self.hmac_secret_file, "hmac_secret")
        self.hmac_secret_file = None
        return self


def webhook_body(n: Notification) -> dict[str, Any]:
    return {
        "version": 1,
        "id": n.uid,
        "kind": n.kind,
        "site": n.site,
        "check": n.check,
        "severity": n.severity,
        "at": n.at,
        "since": n.since,
        "root_cause": n.root_cause,
        "reason": n.reason,
        "was_suppressed": n.was_suppressed,
        "first_failure": n.first_failure,
        "members": n.members,
        "affected": n.affected,
        "target": n.target,
        "title": n.title,
        "text": n.text,
        "runbook": n.runbook,
        "playbook": n.playbook,
        "labels": n.labels,
    }


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    def __init__(self, cfg: WebhookReceiver) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self._secret = cfg.hmac_secret.get_secret_value().encode() if cfg.hmac_secret else b""
        self._url = cfg.url.get_secret_value()
        self._headers = {k: v.get_secret_value() for k, v in cfg.headers.items()}
        # httpx logs every request URL at INFO, and the URL is the credential
        self._secrets = [self._url, *self._headers.values()]
        REDACT.secrets.update(s for s in self._secrets if s)
        self._client = httpx.AsyncClient(verify=cfg.tls_config.client_context(),
                                         follow_redirects=False,
                                         headers={"User-Agent": USER_AGENT})

    async def send(self, n: Notification, budget: float) -> None:
        body = json.dumps(webhook_body(n), ensure_ascii=False).encode()
        headers = {**self._headers, "Content-Type": "application/json",
                   "Idempotency-Key": n.uid}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        try:
            r = await self._client.post(self._url, content=body, headers=headers,
                                        timeout=min(budget, self.cfg.timeout))
        except httpx.HTTPError as e:
            msg = f"webhook {self.cfg.name}: {type(e).__name__}: {e}"
            raise DeliveryError(redact(msg, self._secret.decode(), *self._secrets)) from None
        if r.status_code >= 300:
            raise http_error(r.status_code, r.text, f"webhook {self.cfg.name}",
                             self._secret.decode(), *self._secrets)

    async def aclose(self) -> None:
        await self._client.aclose()
