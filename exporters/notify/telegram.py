"""Telegram output: Bot API sendMessage.

The Bot API puts the token in the URL path, so any URL in an exception or a library log line
would leak it: every error here is redacted, and the token is registered with the redacting
log filter the moment the notifier is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from collectors.common.lazy import lazy_import
from collectors.common.tls import TLSConfig
from collectors.common.version import USER_AGENT
from collectors.config import Duration, Secret, StrictModel, resolve_secret
from exporters.notify.base import REDACT, DeliveryError, Notification, http_error, redact

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_import("httpx")

DEFAULT_API = "https://api.telegram.org"


class TelegramBot(StrictModel):
    """Answers from the phone: buttons under every alert and commands, by long polling
    getUpdates (outbound only, so it works behind the office NAT)."""

    enabled: bool = Field(False, description="Poll for commands and put Ack/Mute/Status "
                          "buttons under every alert.")
    allowed_chat_ids: list[str] = Field(
        default_factory=list, description="Chats the bot answers in (the alert chat_id is "
        "always allowed); others are refused, logged and counted.")
    allowed_user_ids: list[str] = Field(
        default_factory=list, description="Telegram user ids that may act; empty = nobody "
        "may act (commands are refused and counted).")
    language: Literal["id", "en"] | None = Field(
        None, description="Language of the bot's answers; default alerts.language.")
    poll_timeout: Duration = Field(30.0, description="Long-polling timeout of getUpdates.")
    max_backoff: Duration = Field(60.0, description="Longest wait between failed polls.")

    @field_validator("allowed_chat_ids", "allowed_user_ids", mode="before")
    @classmethod
    def _ids(cls, v: object) -> object:
        return [str(x) for x in v] if isinstance(v, list) else v


def callback_data(action: str, check: str) -> str | None:
    """A button's payload ("ack:web"); None when too long for Telegram's 64-byte limit."""
    data = f"{action}:{check}"
    return data if len(data.encode()) <= 64 else None


BUTTONS = {"id": (("ack", "Ack"), ("mute1h", "Bisukan 1 jam"), ("mute4h", "Bisukan 4 jam"),
                  ("status", "Lihat status")),
           "en": (("ack", "Ack"), ("mute1h", "Mute 1 h"), ("mute4h", "Mute 4 h"),
                  ("status", "View status"))}


def alert_keyboard(check: str, language: str) -> dict[str, Any] | None:
    row = []
    for action, label in BUTTONS.get(language, BUTTONS["id"]):
        data = callback_data(action, check)
        if data is None:
            return None
        row.append({"text": label, "callback_data": data})
    return {"inline_keyboard": [row[:2], row[2:]]}


class TelegramReceiver(StrictModel):
    name: str = Field(min_length=1, description="Receiver name used in logs and metrics.")
    type: Literal["telegram"]
    bot_token: Secret | None = Field(None, description="Bot token from @BotFather (${ENV} ok).")
    bot_token_file: Path | None = Field(None, description="Read the bot token from this file.")
    chat_id: str = Field(min_length=1, description="Chat, group or channel id (or @channel).")
    api_url: str = Field(DEFAULT_API, description="Bot API base URL (a local Bot API server).")
    timeout: Duration = Field(10.0, description="Timeout of one delivery attempt.")
    tls_config: TLSConfig = Field(default_factory=TLSConfig,
                                  description="How the server's certificate is verified.")
    bot: TelegramBot = Field(default_factory=TelegramBot,
                             description="On-call from the phone (buttons and commands).")

    @field_validator("api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"invalid api_url {v!r}: must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _token(self) -> TelegramReceiver:
        self.bot_token = resolve_secret(self.bot_token, self.bot_token_file, "bot_token")
        self.bot_token_file = None
        if self.bot_token is None:
            raise ValueError("telegram receiver needs bot_token or bot_token_file")
        return self


class TelegramNotifier:
    def __init__(self, cfg: TelegramReceiver, language: str = "id") -> None:
        self.cfg = cfg
        self.language = cfg.bot.language or language
        self.name = cfg.name
        assert cfg.bot_token is not None
        self._token = cfg.bot_token.get_secret_value()
        REDACT.secrets.add(self._token)
        self._client = httpx.AsyncClient(verify=cfg.tls_config.client_context(),
                                         follow_redirects=False,
                                         headers={"User-Agent": USER_AGENT})

    async def send(self, n: Notification, budget: float) -> None:
        text = f"{n.title}\n\n{n.text}" if n.text else n.title
        payload: dict[str, Any] = {"chat_id": self.cfg.chat_id, "text": text[:4096],
                                   "disable_web_page_preview": True}
        if self.cfg.bot.enabled and n.kind == "firing":
            markup = alert_keyboard(n.check, self.language)
            if markup is not None:
                payload["reply_markup"] = markup
        await self.call("sendMessage", payload, min(budget, self.cfg.timeout))

    async def call(self, method: str, payload: dict[str, Any],
                   timeout: float) -> Any:
        """One Bot API call; the `result` of an ok answer, else a redacted DeliveryError."""
        url = f"{self.cfg.api_url}/bot{self._token}/{method}"
        try:
            r = await self._client.post(url, json=payload, timeout=timeout)
        except httpx.HTTPError as e:
            msg = f"telegram {self.cfg.api_url}: {type(e).__name__}: {e}"
            raise DeliveryError(redact(msg, self._token)) from None
        if r.status_code == 429:
            retry = None
            try:
                retry = float(r.json().get("parameters", {}).get("retry_after"))
            except (ValueError, TypeError, AttributeError):
                pass
            raise DeliveryError("telegram rate limit (HTTP 429)", retry_after=retry)
        if r.status_code >= 300:
            err = http_error(r.status_code, redact(r.text, self._token), "telegram")
            raise err
        try:
            body = r.json()
            ok = isinstance(body, dict) and body.get("ok") is True
        except ValueError:
            ok = False
        if not ok:
            raise DeliveryError("telegram answered without ok=true")
        return body.get("result")

    async def aclose(self) -> None:
        await self._client.aclose()
