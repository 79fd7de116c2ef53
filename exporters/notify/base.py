"""What every notification output receives and how it reports failure.

The alerting side renders the message text once, when the state changes, and stores it in the
outbox; an output only transports it. So a notification held for hours while the office was
offline is delivered with the words and times of the moment it happened.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Kind = Literal["firing", "resolved", "test", "path_change"]


@dataclass(frozen=True)
class Notification:
    uid: str  # stable idempotency key: the same notification retried keeps it
    kind: Kind
    site: str
    check: str
    severity: str
    at: float  # when the change happened (epoch seconds)
    since: float  # when the check went down
    root_cause: str
    reason: str
    title: str  # one line, already in the configured language
    text: str  # the message body, already rendered
    runbook: str = ""
    playbook: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # the check's configured labels
    was_suppressed: bool = False
    first_failure: float = 0.0  # first failed result of the outage (<= since)
    members: list[str] = field(default_factory=list)  # a whole redundant group announced once
    affected: list[str] = field(default_factory=list)  # checks the root cause takes down
    target: str = ""  # what the check probes (URL, host:port, address)
    event: dict[str, Any] = field(default_factory=dict)  # a route change: old, new, via

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class DeliveryError(Exception):
    """A delivery failed. `permanent` means retrying the same request cannot succeed (a 400,
    a rejected address); `retry_after` is a delay the receiver asked for."""

    def __init__(self, message: str, *, permanent: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Notifier(Protocol):
    name: str

    async def send(self, n: Notification, budget: float) -> None: ...

    async def aclose(self) -> None: ...


def redact(text: str, *secrets: str) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "<redacted>")
    return text


class RedactFilter(logging.Filter):
    """Removes secrets from records of libraries that log URLs (httpx logs every request URL,
    and the Telegram Bot API puts the token in the URL path)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            clean = redact(msg, *self.secrets)
            if clean != msg:
                record.msg, record.args = clean, None
        return True


REDACT = RedactFilter()
for _name in ("httpx", "httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection"):
    logging.getLogger(_name).addFilter(REDACT)


# What a receiver may echo back in an error body: an auth scheme and its credential, a
# key=value credential, or a long token-like word. Receivers do echo requests (a 401 quoting
# the Authorization header), so no answer is logged without this.
_CREDENTIAL = re.compile(
    r"(?i)\b(bearer|basic|token|bot|secret|password|passwd|api[_-]?key|authorization)"
    r"(\s*[:=]\s*|\s+)[^\s,;&\"']+")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-+/=.:]{24,}")


def filter_body(body: str, *secrets: str) -> str:
    """An HTTP answer as it may appear in a log: secrets, credentials, long tokens removed."""
    text = redact(" ".join(body.split()), *secrets, *REDACT.secrets)
    text = _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", text)
    return _TOKENISH.sub("<redacted>", text)


def http_error(status: int, body: str, what: str, *secrets: str) -> DeliveryError:
    """Map an HTTP answer to retry or give up: 408/429/5xx are worth retrying, other 4xx not."""
    snippet = filter_body(body[:2000], *secrets)[:200]
    permanent = 400 <= status < 500 and status not in (408, 425, 429)
    return DeliveryError(f"{what} answered HTTP {status}: {snippet}", permanent=permanent)
