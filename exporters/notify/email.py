"""E-mail output: SMTP with STARTTLS (smtplib in a thread, bounded by the timeout).

STARTTLS is required by default and the server certificate is verified: a notification with
the office's outage details should not cross the network in clear. The Message-ID is derived
from the notification id, so a retry after an unclear failure is recognisable as the same mail.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from collectors.common.hostport import split_host_port
from collectors.common.lazy import lazy_import
from collectors.common.tls import TLSConfig
from collectors.config import Duration, Secret, StrictModel, resolve_secret
from exporters.notify.base import DeliveryError, Notification, redact

# smtplib and the email package (~0.5 MiB) load with the first mail: every agent validates
# `alerts:`, few send e-mail.
if TYPE_CHECKING:
    import smtplib
    import ssl
    from email.message import EmailMessage
else:
    smtplib = lazy_import("smtplib")


class EmailReceiver(StrictModel):
    name: str = Field(min_length=1, description="Receiver name used in logs and metrics.")
    type: Literal["email"]
    smarthost: str = Field(description="SMTP server as HOST:PORT (587 for STARTTLS).")
    from_: str = Field(alias="from", description="Sender address.")
    to: list[str] = Field(min_length=1, description="Recipient addresses.")
    username: str | None = Field(None, description="SMTP login, if the server needs one.")
    password: Secret | None = Field(None, description="SMTP password (${ENV} ok).")
    password_file: Path | None = Field(None, description="Read the SMTP password from this file.")
    starttls: bool = Field(True, description="Require STARTTLS (strongly recommended).")
    tls_config: TLSConfig = Field(default_factory=TLSConfig,
                                  description="How the server's certificate is verified.")
    timeout: Duration = Field(20.0, description="Timeout of one delivery attempt.")

    model_config = {**StrictModel.model_config, "populate_by_name": True}

    @field_validator("smarthost")
    @classmethod
    def _hostport(cls, v: str) -> str:
        split_host_port(v, what="smarthost")
        return v

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            if "@" not in a:
                raise ValueError(f"invalid e-mail address {a!r}")
        return v

    @model_validator(mode="after")
    def _password(self) -> EmailReceiver:
        self.password = resolve_secret(self.password, self.password_file, "password")
        self.password_file = None
        if self.password is not None and not self.username:
            raise ValueError("password given without username")
        return self


def build_message(cfg: EmailReceiver, n: Notification) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import formatdate

    msg = EmailMessage()
    msg["Subject"] = n.title
    msg["From"] = cfg.from_
    msg["To"] = ", ".join(cfg.to)
    msg["Date"] = formatdate(n.at, localtime=False)
    msg["Message-ID"] = f"<{n.uid}@pantau.{n.site}>"
    msg["X-Pantau-Check"] = n.check
    msg["X-Pantau-Kind"] = n.kind
    msg.set_content(n.text)
    return msg


class EmailNotifier:
    def __init__(self, cfg: EmailReceiver) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self._host, self._port = split_host_port(cfg.smarthost, what="smarthost")
        self._secret = cfg.password.get_secret_value() if cfg.password else ""

    def _context(self) -> ssl.SSLContext:
        return self.cfg.tls_config.client_context()

    def _send_blocking(self, msg: EmailMessage, timeout: float) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=timeout) as smtp:
            smtp.ehlo()
            if self.cfg.starttls:
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{self.cfg.smarthost} does not offer STARTTLS",
                                        permanent=True)
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.cfg.username:
                smtp.login(self.cfg.username, self._secret)
            smtp.send_message(msg)

    async def send(self, n: Notification, budget: float) -> None:
        await self.send_message(build_message(self.cfg, n), budget)

    async def send_message(self, message: EmailMessage, budget: float) -> None:
        """Deliver any message (a notification, the monthly report) to this receiver's server;
        DeliveryError with a redacted reason, permanent for 5xx answers."""
        t = min(budget, self.cfg.timeout)
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send_blocking, message, t), t + 1)
        except DeliveryError:
            raise
        except smtplib.SMTPResponseException as e:
            text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) \
                else str(e.smtp_error)
            msg = redact(f"smtp {self.cfg.smarthost}: {e.smtp_code} {text}", self._secret)
            # 5xx are permanent (bad address, auth refused); 4xx are worth retrying.
            raise DeliveryError(msg, permanent=500 <= e.smtp_code < 600) from None
        except smtplib.SMTPRecipientsRefused as e:
            raise DeliveryError(f"smtp {self.cfg.smarthost}: recipients refused: "
                                f"{', '.join(e.recipients)}", permanent=True) from None
        except (smtplib.SMTPException, OSError, TimeoutError) as e:  # ssl.SSLError is an OSError
            msg = redact(f"smtp {self.cfg.smarthost}: {type(e).__name__}: {e}", self._secret)
            raise DeliveryError(msg) from None

    async def aclose(self) -> None:
        return None
