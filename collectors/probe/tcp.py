"""`type: tcp` checks: can the office open a TCP (optionally TLS) connection and read a banner?
"""

from __future__ import annotations

import asyncio
import builtins
import re
import time
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from collectors.base import Context, MetricSpec, Observation, Sample
from collectors.common.hostport import split_host_port
from collectors.common.tls import TLSConfig, is_cert_verification_error
from collectors.config import CheckConfig, Regex
from collectors.probe.common import PROBE_METRICS, probe_samples
from collectors.probe.net import (
    TLS_CHAIN_VALID,
    TLS_METRICS,
    IpProtocol,
    ProbeError,
    error_reason,
    own_deadline,
    probe_tls_context,
    resolve,
    short,
    tls_facts,
    tls_samples,
    with_system_ca,
)

if TYPE_CHECKING:
    import ssl

EXPECT_IDLE = 1.0  # seconds of silence after some data that end a banner wait


# --------------------------------------------------------------------------------------------
# The tcp check


class TcpConfig(CheckConfig):
    type: Literal["tcp"]
    send: str | None = Field(None, description="Text sent once connected (e.g. \"QUIT\\r\\n\").")
    expect: Regex | None = Field(None, description="Regex the received data must match.")
    tls: bool = Field(False, description="Do a TLS handshake after connecting.")
    tls_config: TLSConfig = Field(default_factory=TLSConfig,
                                  description="CA, client certificate, SNI name, verification.")
    preferred_ip_protocol: IpProtocol = "ip4"
    ip_protocol_fallback: bool = True
    max_read_bytes: int = Field(4096, ge=1, le=1 << 20)

    @field_validator("target")
    @classmethod
    def _target_valid(cls, v: str) -> str:
        split_host_port(v, what="target")
        return v

    @model_validator(mode="after")
    def _tls_fields(self) -> TcpConfig:
        if not self.tls and not self.tls_config.is_default:
            raise ValueError("tls_config needs tls: true")
        return self


class TcpCollector:
    type: ClassVar[str] = "tcp"
    Config: ClassVar[builtins.type[BaseModel]] = TcpConfig
    per_check: ClassVar[bool] = True
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        *PROBE_METRICS,
        MetricSpec("pantau_tcp_connect_seconds", "gauge", "Time to open the TCP connection.",
                   unit="seconds"),
        MetricSpec("pantau_tcp_expect_match", "gauge",
                   "1 if the received data matched `expect`, 0 if not (only with expect)."),
        *TLS_METRICS,
    )

    def __init__(self, config: TcpConfig) -> None:
        self.config = config
        self._ssl_ctx: ssl.SSLContext | None = None

    async def collect(self, ctx: Context) -> Observation:
        cfg = self.config
        started = time.monotonic()
        dl, budget = own_deadline(ctx)
        samples: list[Sample] = []
        details: dict[str, object] = {}
        phase = "resolving"
        writer: asyncio.StreamWriter | None = None
        try:
            host, port = split_host_port(cfg.target, what="target")
            if cfg.tls and self._ssl_ctx is None:
                self._ssl_ctx = with_system_ca(probe_tls_context(cfg.tls_config, "tcp"))
            ssl_ctx = self._ssl_ctx
            res = await resolve(host, port, cfg.preferred_ip_protocol, cfg.ip_protocol_fallback,
                                dl.remaining())
            details.update(address=res.address, family=res.family,
                           resolve_seconds=res.seconds)
            phase = "connecting"
            t0 = time.monotonic()
            async with asyncio.timeout(dl.remaining()):
                reader, writer = await asyncio.open_connection(res.address, port)
                samples.append(Sample.of("pantau_tcp_connect_seconds", time.monotonic() - t0))
                if ssl_ctx is not None:
                    phase = "in the TLS handshake"
                    try:
                        await writer.start_tls(ssl_ctx, server_hostname=cfg.tls_config.server_name
                                               or host)
                    except Exception as e:
                        if is_cert_verification_error(e):
                            samples.append(Sample.of(TLS_CHAIN_VALID.name, 0))
                        raise
                    verified = None if cfg.tls_config.insecure_skip_verify else True
                    ssl_object = writer.get_extra_info("ssl_object")
                    samples.extend(tls_samples(ssl_object, verified))
                    if ssl_object is not None:
                        details["tls"] = tls_facts(ssl_object)
                if cfg.send is not None:
                    phase = "sending"
                    writer.write(cfg.send.encode())
                    await writer.drain()
                if cfg.expect is not None:
                    phase = f"waiting for data matching {cfg.expect!r}"
                    ok, got = await self._expect(reader)
                    samples.append(Sample.of("pantau_tcp_expect_match", 1 if ok else 0))
                    if not ok:
                        details["regex_failed"] = True
                        raise ProbeError(f"banner did not match {cfg.expect!r} (got {short(got)})")
            success, reason = True, ""
        except Exception as e:  # every failure becomes a reason, never a traceback
            success, reason = False, error_reason(e, phase=phase, budget=budget)
        finally:
            if writer is not None:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 0.2)
                except Exception:
                    pass
        duration = time.monotonic() - started
        samples.extend(probe_samples(self.type, cfg.target, success, duration))
        return Observation(success, samples, reason=reason, duration=duration, details=details)

    async def _expect(self, reader: asyncio.StreamReader) -> tuple[bool, str]:
        """Read until `expect` matches, the peer closes or falls silent, or max_read_bytes.

        The first byte may take until the deadline (then the reason is a timeout); once data
        has come, EXPECT_IDLE seconds of silence end the wait, so a wrong banner is reported
        as a mismatch showing what came instead of a bare timeout.
        """
        assert self.config.expect is not None
        pattern = re.compile(self.config.expect)
        buf = b""
        while len(buf) < self.config.max_read_bytes:
            want = self.config.max_read_bytes - len(buf)
            if not buf:
                chunk = await reader.read(want)
            else:
                try:
                    chunk = await asyncio.wait_for(reader.read(want), EXPECT_IDLE)
                except TimeoutError:
                    break
            if not chunk:
                break
            buf += chunk
            if pattern.search(buf.decode("utf-8", "replace")):
                return True, buf.decode("utf-8", "replace")
        return False, buf.decode("utf-8", "replace")

    async def aclose(self) -> None:
        return None
