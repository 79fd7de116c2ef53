"""`type: icmp` checks: loss, round-trip time and jitter to a host, through the shared pinger.

Jitter is the mean absolute difference of consecutive RTTs (RFC 3550's idea without the
smoothing), computed over the replies of one run.
"""

from __future__ import annotations

import asyncio
import builtins
import ipaddress
import itertools
import socket
import time
from collections.abc import Callable, Hashable, Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from collectors.base import Context, MetricSpec, Observation, Sample
from collectors.config import CheckConfig, Duration
from collectors.probe.common import PROBE_DURATION, PROBE_METRICS, PROBE_SUCCESS, probe_samples
from collectors.probe.pinger import PingRound, PingUnavailable, get_pinger

LOSS = MetricSpec("pantau_icmp_packet_loss_ratio", "gauge",
                  "Share of echo requests of the last run that got no reply (0..1).")
RTT = MetricSpec("pantau_icmp_rtt_seconds", "gauge",
                 "Round-trip time of the last run's replies: min, avg and max.", ("stat",),
                 unit="seconds")
JITTER = MetricSpec("pantau_icmp_jitter_seconds", "gauge",
                    "Mean absolute difference of consecutive round-trip times in the last run.",
                    unit="seconds")
SENT = MetricSpec("pantau_icmp_packets_sent", "gauge", "Echo requests sent in the last run.")
RECEIVED = MetricSpec("pantau_icmp_packets_received", "gauge",
                      "Echo replies received in the last run.")


class IcmpConfig(CheckConfig):
    """Ping a host `count` times per run."""

    type: Literal["icmp"]
    count: int = Field(3, ge=1, le=1000, description="Echo requests per run.")
    packet_interval: Duration = Field(0.2, description="Gap between echo requests of a run.")
    payload_size: int = Field(56, ge=16, le=1400, description="ICMP payload bytes.")
    ip_version: Literal["auto", "4", "6"] = Field(
        "auto", description="Address family for names that resolve to both.")


def jitter(rtts: list[float]) -> float:
    if len(rtts) < 2:
        return 0.0
    return sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)


async def resolve(target: str, version: str, timeout: float) -> tuple[str, int]:
    """An IP literal as is; a name through the system resolver, bounded by the deadline."""
    try:
        ip = ipaddress.ip_address(target.strip("[]"))
        return str(ip), socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    except ValueError:
        pass
    family = {"4": socket.AF_INET, "6": socket.AF_INET6}.get(version, socket.AF_UNSPEC)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(target, None, family=family, type=socket.SOCK_RAW), timeout)
    except TimeoutError:
        raise LookupError(f"cannot resolve {target}: timeout after {timeout:.1f}s") from None
    except socket.gaierror as e:
        raise LookupError(f"cannot resolve {target}: {e.strerror}") from None
    if not infos:
        raise LookupError(f"cannot resolve {target}: no address")
    fam, _, _, _, addr = infos[0]
    return str(addr[0]), int(fam)


# Label tuples every run of every check would otherwise rebuild (Sample.of makes a dict and
# a tuple per sample): the RTT stats are the same three for all checks.
_STAT_MIN = (("stat", "min"),)
_STAT_AVG = (("stat", "avg"),)
_STAT_MAX = (("stat", "max"),)
# Results handed on per slice of a batch round, with the event loop free in between.
BATCH_CHUNK = 50


class IcmpCollector:
    type: ClassVar[str] = "icmp"
    Config: ClassVar[builtins.type[BaseModel]] = IcmpConfig
    per_check: ClassVar[bool] = True
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (*PROBE_METRICS, LOSS, RTT, JITTER, SENT,
                                                 RECEIVED)

    def __init__(self, config: IcmpConfig) -> None:
        self.config = config
        # an IP literal is parsed once, not on every run (a name is resolved every run)
        self._literal: tuple[str, int] | None = None
        try:
            ip = ipaddress.ip_address(config.target.strip("[]"))
            self._literal = str(ip), socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        except ValueError:
            pass
        self._probe_labels = (("type", "icmp"), ("target", config.target))
        # the same every run: one object for all of them
        self._sent = Sample(SENT.name, float(config.count))

    def batch_key(self) -> Hashable | None:
        """Checks of an IP literal with the same count and packet interval, due in the same
        tick, go out as one pinger round (`collect_batch`). A name is resolved per run, so
        such a check runs alone."""
        if self._literal is None:
            return None
        return (self.config.count, self.config.packet_interval)

    async def collect(self, ctx: Context) -> Observation:
        cfg = self.config
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        deadline = _reply_deadline(loop, ctx)
        if self._literal is not None:
            address, family = self._literal
        else:
            try:
                address, family = await resolve(cfg.target, cfg.ip_version,
                                                ctx.deadline.remaining())
            except LookupError as e:
                return self._failed(str(e), started)
        resolved = time.perf_counter()
        hop_limit = -1
        pinger = get_pinger()
        pinger.payload_size = max(pinger.payload_size, cfg.payload_size)
        try:
            if cfg.count == 1:
                # one echo, as blackbox sends: keep the reply itself for its hop limit
                reply = await pinger.probe(address, family, deadline - loop.time())
                ok = reply is not None and reply.kind == "echo"
                rtts = [reply.rtt if ok and reply is not None else None]
                hop_limit = reply.hop_limit if ok and reply is not None else -1
            else:
                rtts = await pinger.ping(address, family, cfg.count, cfg.packet_interval,
                                         deadline)
        except PingUnavailable as e:
            return self._failed(str(e), started)
        except OSError as e:
            return self._failed(f"cannot send to {address}: {e.strerror or e}", started)
        return self._observation(address, family, rtts, hop_limit,
                                 time.perf_counter() - started, resolved - started)

    @classmethod
    async def collect_batch(cls, runs: Sequence[tuple[IcmpCollector, Context]],
                            done: Callable[[int, Observation], None]) -> None:
        """One run of each of `runs` (checks with equal `batch_key`) as one pinger round:
        `done(i, observation)` as soon as check i has all its answers or gave up on them,
        the same observation `collect` makes. Each check's replies are awaited until the
        earliest deadline of the batch (the scheduler gives them all the same one)."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        ctx = min((c for _, c in runs), key=lambda c: c.deadline.at)
        deadline = _reply_deadline(loop, ctx)
        count, interval = runs[0][0].config.count, runs[0][0].config.packet_interval
        pinger = get_pinger()
        targets: list[tuple[str, int]] = []
        for coll, _ in runs:
            pinger.payload_size = max(pinger.payload_size, coll.config.payload_size)
            assert coll._literal is not None  # batch_key() is None otherwise
            targets.append(coll._literal)
        rnd = pinger.round(targets, count, interval, deadline)
        try:
            while True:
                # targets that finished while the last slice was handed on come first: the
                # round may have no target left by now, but they are still to be reported
                finished = await rnd.results()
                if not finished and not rnd.left:
                    return
                for j in range(0, len(finished), BATCH_CHUNK):
                    if j:
                        await asyncio.sleep(0)  # a scrape may be waiting
                    for i in finished[j:j + BATCH_CHUNK]:
                        done(i, runs[i][0]._from_round(rnd, i, started))
        finally:
            rnd.close()

    def _from_round(self, rnd: PingRound, i: int, started: float) -> Observation:
        address, family = rnd.targets[i]
        duration = rnd.ended[i] - started
        err = rnd.errors[i]
        if isinstance(err, PingUnavailable):
            return self._failed(str(err), started, duration)
        if isinstance(err, OSError):
            return self._failed(f"cannot send to {address}: {err.strerror or err}", started,
                                duration)
        hop_limit = rnd.hop_limits[i] if self.config.count == 1 else -1
        return self._observation(address, family, rnd.rtts[i], hop_limit, duration, 0.0)

    def _observation(self, address: str, family: int, rtts: list[float | None],
                     hop_limit: int, duration: float, resolve_seconds: float) -> Observation:
        cfg = self.config
        got = [r for r in rtts if r is not None]
        n = len(got)
        count = cfg.count
        loss = 1.0 - n / count
        labels = self._probe_labels
        samples = [
            Sample(PROBE_SUCCESS.name, 1.0 if got else 0.0, labels),
            Sample(PROBE_DURATION.name, max(0.0, duration), labels),
            Sample(LOSS.name, loss),
            self._sent,
            Sample(RECEIVED.name, float(n)),
        ]
        if got:
            samples += [
                Sample(RTT.name, min(got), _STAT_MIN),
                Sample(RTT.name, sum(got) / n, _STAT_AVG),
                Sample(RTT.name, max(got), _STAT_MAX),
                Sample(JITTER.name, jitter(got)),
            ]
            reason = ""
        else:
            reason = f"no reply from {address} ({count} echo requests lost)"
        return Observation(bool(got), samples, reason, duration,
                           details={"address": address, "family": family, "loss": loss,
                                    "resolve_seconds": resolve_seconds,
                                    "hop_limit": hop_limit,
                                    "rtts_ms": [None if r is None else round(r * 1000, 3)
                                                for r in rtts]})

    def _failed(self, reason: str, started: float, duration: float | None = None) -> Observation:
        if duration is None:
            duration = time.perf_counter() - started
        samples = probe_samples("icmp", self.config.target, False, duration)
        samples.append(Sample.of(LOSS.name, 1.0))
        return Observation(False, samples, reason, duration)

    async def aclose(self) -> None:
        return None


def _reply_deadline(loop: asyncio.AbstractEventLoop, ctx: Context) -> float:
    """Stop waiting for replies a little before the scheduler's deadline, so a lossy run ends
    with its own measurements rather than with the scheduler's timeout (loop time)."""
    remaining = ctx.deadline.remaining()
    return loop.time() + remaining - min(0.2, remaining * 0.1)
