"""Generic webhook output: a JSON POST, optionally signed with HMAC-SHA256, or a request
shaped by templates (method, form or JSON body, Jinja in a sandbox) for the WhatsApp gateways
and chat webhooks offices use — no provider-specific code.

Every retry of one notification carries the same `Idempotency-Key` header (and `id` field),
so a receiver that records keys sees each notification once even if the agent died between
the receiver's 200 and the outbox recording it.
"""

from __future__ import annotations

import functools
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
    method: Literal["POST", "PUT", "PATCH"] = Field("POST", description="HTTP method.")
    encoding: Literal["json", "form"] = Field(
        "json", description="How `body` is sent: JSON or application/x-www-form-urlencoded.")
    body: dict[str, Any] | None = Field(
        None, description="The request body instead of pantau's JSON: a mapping whose string "
        "values are Jinja templates (sandboxed) over the notification's fields (check, site, "
        "kind, title, text, severity, root_cause, reason, at, since, target, labels, ...).")
    body_template: str | None = Field(
        None, description="The whole body as one Jinja template (sandboxed), sent as is "
        "with `content_type`; for bodies `body` cannot express.")
    content_type: str = Field("text/plain; charset=utf-8",
                              description="Content-Type of a `body_template` body.")

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
        if self.body is not None and self.body_template is not None:
            raise ValueError("set body or body_template, not both")
        if self.encoding == "form" and self.body is not None and any(
                isinstance(v, dict | list) for v in self.body.values()):
            raise ValueError("a form body has flat fields only (use encoding: json)")
        # a template that cannot render is a config error now, not a failed alert at 3 am
        render_request(self, SAMPLE)
        return self


class TemplateError(ValueError):
    pass


MAX_REPEAT = 10_000  # "x" * n and n ** m: a message is never larger, a template may try


@functools.cache
def _env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class Env(ImmutableSandboxedEnvironment):
        # the sandbox stops attribute tricks but not "{{ 'a' * 10**10 }}", which would take
        # the agent's memory at config load: bound the two operators that can do that
        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 64:
                raise SecurityError("exponent too large in a template")
            if operator == "*" and any(isinstance(a, int) and not isinstance(a, bool)
                                       and a > MAX_REPEAT for a in (left, right)) \
                    and any(isinstance(a, str | list | tuple) for a in (left, right)):
                raise SecurityError("repetition too large in a template")
            return super().call_binop(context, operator, left, right)

    # immutable sandbox: no attribute tricks (__class__, __globals__), no .append() on data
    return Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@functools.lru_cache(maxsize=256)
def _compile(source: str, where: str) -> Any:
    import jinja2

    try:
        return _env().from_string(source)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"template {where}: line {e.lineno}: {e.message}") from None


def _render(source: str, where: str, ctx: dict[str, Any]) -> str:
    import jinja2

    template = _compile(source, where)
    try:
        return str(template.render(ctx))
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as e:
        # SecurityError and UndefinedError included; a division by zero or a bad filter
        # argument in a template is the template's fault too, never the agent's crash
        line = _template_line(e)
        raise TemplateError(f"template {where}{line}: {type(e).__name__}: {e}") from None


def _template_line(e: BaseException) -> str:
    tb = e.__traceback__
    lineno = None
    while tb is not None:  # jinja marks template frames with this file name
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return f": line {lineno}" if lineno else ""


def _render_tree(value: Any, where: str, ctx: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _render(value, where, ctx)
    if isinstance(value, dict):
        return {k: _render_tree(v, f"{where}.{k}", ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(v, f"{where}[{i}]", ctx) for i, v in enumerate(value)]
    return value


def template_context(n: Notification) -> dict[str, Any]:
    ctx = webhook_body(n)
    ctx["firing"] = n.kind == "firing"
    ctx["resolved"] = n.kind == "resolved"
    return ctx


def render_request(cfg: WebhookReceiver, n: Notification) -> tuple[bytes, str] | None:
    """(body, content type) from the templates, or None for pantau's own JSON body."""
    ctx = template_context(n)
    if cfg.body_template is not None:
        return _render(cfg.body_template, "body_template", ctx).encode(), cfg.content_type
    if cfg.body is None:
        return None
    fields = _render_tree(cfg.body, "body", ctx)
    if cfg.encoding == "form":
        from urllib.parse import urlencode
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    return json.dumps(fields, ensure_ascii=False).encode(), "application/json"


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


# what a template is tried with when the config is loaded
SAMPLE = Notification(
    uid="00000000-0000-0000-0000-000000000000", kind="firing", site="kantor", check="portal",
    severity="critical", at=1764547200.0, since=1764547200.0, root_cause="portal",
    reason="timeout", title="[critical] GANGGUAN portal — kantor",
    text="Pemeriksaan portal gagal.", target="https://portal.example.go.id/",
    first_failure=1764547140.0)


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
        try:
            shaped = render_request(self.cfg, n)
        except TemplateError as e:  # checked at load: only data the sample lacked gets here
            raise DeliveryError(f"webhook {self.cfg.name}: {e}", permanent=True) from None
        body, ctype = shaped or (json.dumps(webhook_body(n), ensure_ascii=False).encode(),
                                 "application/json")
        headers = {"Content-Type": ctype, **self._headers, "Idempotency-Key": n.uid}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        try:
            r = await self._client.request(self.cfg.method, self._url, content=body,
                                           headers=headers,
                                           timeout=min(budget, self.cfg.timeout))
        except httpx.HTTPError as e:
            msg = f"webhook {self.cfg.name}: {type(e).__name__}: {e}"
            raise DeliveryError(redact(msg, self._secret.decode(), *self._secrets)) from None
        if r.status_code >= 300:
            raise http_error(r.status_code, r.text, f"webhook {self.cfg.name}",
                             self._secret.decode(), *self._secrets)

    async def aclose(self) -> None:
        await self._client.aclose()
