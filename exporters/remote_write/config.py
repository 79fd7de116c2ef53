"""The top-level `remote_write:` key's config and the families the agent declares for it.

Apart from the writer (writer.py: the disk queue on sqlite3, the HTTP client) so an agent that
pushes nowhere validates its config and declares the families without loading either
(BENCHMARKS.md, "RSS of host-only `pantau run`").
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ByteSize, Field, SecretStr, field_validator, model_validator

from collectors.base import MetricSpec
from collectors.common.tls import TLSConfig
from collectors.config import Duration, Secret, StrictModel, resolve_secret
from exporters.remote_write import proto as rw_proto

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "pantau_remote_write_samples_total", "counter",
        "Samples by fate: queued (committed to the disk queue), sent (receiver answered 2xx), "
        "rejected (receiver answered 4xx for their chunk alone, e.g. too old or already "
        "delivered before a lost reply; not retried).",
        ("result",),
    ),
    MetricSpec(
        "pantau_remote_write_dropped_samples_total", "counter",
        "Samples thrown away before delivery: queue_full and too_old (oldest first), "
        "out_of_order (not newer than the series' previous sample), disk_error.",
        ("reason",),
    ),
    MetricSpec(
        "pantau_remote_write_requests_total", "counter",
        "Remote write requests by outcome: success, retry (network error, timeout, 5xx, 429, "
        "401/403/404/408), rejected (other 4xx).",
        ("result",),
    ),
    MetricSpec(
        "pantau_remote_write_queue_bytes", "gauge",
        "Compressed bytes waiting in the disk queue.", unit="bytes",
    ),
    MetricSpec(
        "pantau_remote_write_queue_samples", "gauge", "Samples waiting in the disk queue.",
    ),
    MetricSpec(
        "pantau_remote_write_oldest_sample_age_seconds", "gauge",
        "Age of the oldest queued sample; 0 when the queue is empty. Grows during an outage.",
        unit="seconds",
    ),
    MetricSpec(
        "pantau_remote_write_last_success_timestamp_seconds", "gauge",
        "When the receiver last accepted a request; 0 if never since start.", unit="seconds",
    ),
)

_RESERVED_HEADERS = frozenset(
    h.lower() for h in (*rw_proto.HEADERS, "Authorization", "Content-Length", "Host")
)


# --------------------------------------------------------------------------------------------
# Configuration (the top-level `remote_write:` key)


class BasicAuth(StrictModel):
    username: str = Field(min_length=1)
    password: Secret | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuth:
        if resolve_secret(self.password, self.password_file, "password") is None:
            raise ValueError("basic_auth needs password or password_file")
        return self

    def secret(self) -> SecretStr:
        value = resolve_secret(self.password, self.password_file, "password")
        assert value is not None  # checked by the validator
        return value


class QueueConfig(StrictModel):
    # 256 MiB holds about a week of a 2000-series office at 30 s (see BENCHMARKS.md).
    max_bytes: ByteSize = Field(default=ByteSize(256 * 1024 * 1024), ge=64 * 1024)
    max_age: Duration = 24 * 3600.0
    # How long an enqueued sample may sit in memory before it is committed to disk: the most
    # a kill -9 or a power cut can lose.
    sync_interval: Duration = 1.0


class BackoffConfig(StrictModel):
    min: Duration = 0.5
    max: Duration = 30.0

    @model_validator(mode="after")
    def _order(self) -> BackoffConfig:
        if self.min > self.max:
            raise ValueError("backoff.min must not exceed backoff.max")
        return self


class RemoteWriteConfig(StrictModel):
    """Where and how to push; secrets only by ${ENV} or *_file, never in the URL."""

    url: str
    basic_auth: BasicAuth | None = None
    bearer_token: Secret | None = None
    bearer_token_file: Path | None = None
    tls_config: TLSConfig = Field(default_factory=TLSConfig)
    # e.g. X-Scope-OrgID for Mimir; values are secrets: a tenant id or a token may be in them
    headers: dict[str, Secret] = Field(default_factory=dict)
    proxy_url: str | None = None
    timeout: Duration = 30.0
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    flush_interval: Duration = 5.0
    queue: QueueConfig = Field(default_factory=QueueConfig)
    backoff: BackoffConfig = Field(default_factory=BackoffConfig)

    @field_validator("url")
    @classmethod
    def _url_valid(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http(s)://HOST[:PORT]/PATH, e.g. "
                             "https://prometheus.example.go.id/api/v1/write")
        if parts.username is not None or parts.password is not None:
            raise ValueError("put credentials in basic_auth or bearer_token, not in the url "
                             "(URLs end up in logs)")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("url has an invalid port") from None
        return v.strip()

    @field_validator("headers")
    @classmethod
    def _headers_valid(cls, v: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in v:
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by pantau; use basic_auth or "
                                 "bearer_token for credentials")
        return v

    @model_validator(mode="after")
    def _auth_valid(self) -> RemoteWriteConfig:
        token = resolve_secret(self.bearer_token, self.bearer_token_file, "bearer_token")
        if token is not None and self.basic_auth is not None:
            raise ValueError("set either basic_auth or bearer_token, not both")
        return self

    def safe_url(self) -> str:
        """The URL as it may appear in logs: no query string, which could carry a token."""
        p = urlsplit(self.url)
        return f"{p.scheme}://{p.netloc}{p.path}"

    def auth_headers(self) -> dict[str, str]:
        token = resolve_secret(self.bearer_token, self.bearer_token_file, "bearer_token")
        if token is not None:
            return {"Authorization": f"Bearer {token.get_secret_value()}"}
        return {}
