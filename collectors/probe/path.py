"""`type: path` checks: the hops from here to a target and the loss and latency of each,
MTR-style, through the shared pinger socket.

Every run sends `probes` rounds of TTL-limited echo requests, one per hop in each round, out of
the one ICMP socket the whole agent shares (collectors/probe/pinger.py). A router whose TTL runs
out answers Time Exceeded and is hop k; the target answers the echo. The first run (and any run
after the path got longer) probes up to `max_hops` to discover where the target is; later runs
probe exactly the known hops.

A hop that never answers while hops behind it do is *silent* (a router that drops or does not
send Time Exceeded): shown as such, not as loss, and the path goes on. Hops after the place
where nothing answers any more keep their last known address and show the loss, so "where does
it break" is the first hop whose loss stays.

Path changes are damped: a different hop list counts only after `change_after` runs in a row
agree on it. A hop that answers from several addresses (ECMP, per-packet load balancing) is one
path: a new address at a hop that still answers from a known one joins the hop's set.

Per-hop statistics use icmplib's Hop model (the one its own traceroute returns): min/avg/max and
jitter (mean absolute difference of consecutive RTTs, as the icmp check computes it).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import ipaddress
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

from icmplib import Hop
from pydantic import BaseModel, Field, model_validator

from collectors.base import Context, MetricSpec, Observation, Sample
from collectors.config import CheckConfig, Duration
from collectors.probe import rdns
from collectors.probe.common import PROBE_METRICS, probe_samples
from collectors.probe.icmp import resolve
from collectors.probe.pinger import PingUnavailable, Reply, get_pinger
from collectors.probe.transport import get_probers

HOPS = MetricSpec("pantau_path_hops", "gauge",
                  "Hops from here to the target on the known path (the target included).")
HOP_RTT = MetricSpec("pantau_path_hop_rtt_seconds", "gauge",
                     "Round-trip time to each hop in the last run: min, avg, max and jitter "
                     "(mean absolute difference of consecutive RTTs).",
                     ("hop", "address", "stat"), unit="seconds")
HOP_LOSS = MetricSpec("pantau_path_hop_loss_ratio", "gauge",
                      "Share of the last run's probes to each hop that got no answer (0..1); "
                      "not emitted for silent hops.", ("hop", "address"))
HOP_SILENT = MetricSpec("pantau_path_hop_silent", "gauge",
                        "1 if the hop never answers while hops behind it do (a router that "
                        "sends no TTL-exceeded), else 0.", ("hop",))
CHANGES = MetricSpec("pantau_path_changes_total", "counter",
                     "Route changes seen since start (damped; ECMP alternation is not one).")
INFO = MetricSpec("pantau_path_info", "info",
                  "The known path: hash of its hop addresses (ECMP alternatives included).",
                  ("hash",))
SILENT = "*"  # the address label of a hop that never answered


class PathConfig(CheckConfig):
    """Discover the hops to `target` and measure loss and latency of every hop each run."""

    type: Literal["path"]
    max_hops: int = Field(30, ge=1, le=64, description="Longest path searched for.")
    probes: int = Field(10, ge=1, le=100, description="Probes per hop per run.")
    packet_interval: Duration = Field(
        0.2, description="Gap between rounds (one probe to every hop per round).")
    probe_timeout: Duration = Field(1.0, description="How long one probe waits for its answer.")
    change_after: int = Field(
        2, ge=1, le=100, description="Runs in a row a different path must be seen in before "
        "it counts as a route change.")
    ip_version: Literal["auto", "4", "6"] = Field(
        "auto", description="Address family for names that resolve to both.")
    protocol: Literal["icmp", "udp", "tcp"] = Field(
        "icmp", description="What the TTL-limited probes are: ICMP echo (the shared ICMP "
        "socket, needs CAP_NET_RAW or ping sockets), or where echo is filtered UDP to high "
        "ports or TCP SYN to `port` (no privileges needed: the answers come back on the "
        "probing socket's error queue).")
    port: int | None = Field(
        None, ge=1, le=65535, description="udp: first destination port (each probe the "
        "next, as traceroute does; default 33434); tcp: the port SYNs go to (default 80).")
    reverse_dns: bool = Field(
        False, description="Name each hop by its reverse DNS (PTR) record, through the system "
        "resolver only; cached for `reverse_dns_ttl`.")
    reverse_dns_ttl: Duration = Field(
        3600.0, description="How long a hop's reverse DNS name is kept before it is looked "
        "up again (a failed lookup: at most 5 minutes).")
    alert_on_change: bool = Field(
        False, description="Send a notification when the route changes (after "
        "`change_after`); every change is recorded in the history either way.")
    hop_names: dict[str, str] = Field(
        default_factory=dict, description="Who a hop belongs to, by address or network "
        "(`10.30.0.0/16: ISP cadangan`): route changes name the network the new route "
        "goes through.")

    @property
    def probe_port(self) -> int:
        if self.port is not None:
            return self.port
        return 80 if self.protocol == "tcp" else 33434

    @model_validator(mode="after")
    def _networks(self) -> PathConfig:
        if self.port is not None and self.protocol == "icmp":
            raise ValueError("port: only for protocol udp or tcp (ICMP echo has no port)")
        for key in self.hop_names:
            try:
                ipaddress.ip_network(key, strict=False)
            except ValueError:
                raise ValueError(f"hop_names: {key!r} is not an address or network "
                                 "(e.g. 10.30.0.1 or 10.30.0.0/16)") from None
        return self

    @model_validator(mode="after")
    def _fits_timeout(self) -> PathConfig:
        needed = (self.probes - 1) * self.packet_interval + self.probe_timeout
        if needed >= self.timeout:
            raise ValueError(
                f"probes x packet_interval + probe_timeout = {needed:g}s does not fit in "
                f"timeout {self.timeout:g}s: lower probes or packet_interval, or raise timeout")
        return self


Path = list[frozenset[str]]


def path_hash(path: Path) -> str:
    text = ";".join(",".join(sorted(hop)) or SILENT for hop in path)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def same_path(seen: Path, known: Path) -> bool:
    """One path when every hop that answered shares an address with the known hop (ECMP
    alternatives and silent hops never make a difference)."""
    return len(seen) == len(known) and all(
        not s or not k or bool(s & k) for s, k in zip(seen, known, strict=True))


def merge(seen: Path, known: Path) -> Path:
    return [s | k for s, k in zip(seen, known, strict=True)]


def hop_owner(address: str, names: dict[str, str]) -> str:
    """The name of the most specific network in `names` holding `address`, else ""."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    best, best_len = "", -1
    for key, name in names.items():
        net = ipaddress.ip_network(key, strict=False)
        if ip.version == net.version and ip in net and net.prefixlen > best_len:
            best, best_len = name, net.prefixlen
    return best


def route_via(old: Path, new: Path, names: dict[str, str]) -> list[str]:
    """What the new route goes through that the old did not: the owners of its new hops
    (by `names`), or their addresses where no owner is known; in path order, once each."""
    before = {a for hop in old for a in hop}
    out: list[str] = []
    for hop in new:
        for a in sorted(hop - before):
            who = hop_owner(a, names) or a
            if who not in out:
                out.append(who)
    return out


@dataclass
class PathTracker:
    """Damped route-change detection over complete paths (target reached)."""

    change_after: int = 2
    path: Path | None = None
    changes: int = 0
    _candidate: Path | None = None
    _streak: int = 0

    def observe(self, seen: Path) -> bool:
        """Feed one run's path; True when it made a (damped) change."""
        if self.path is None:
            self.path = list(seen)
            return False
        if same_path(seen, self.path):
            self.path = merge(seen, self.path)
            self._candidate, self._streak = None, 0
            return False
        if self._candidate is not None and same_path(seen, self._candidate):
            self._candidate = merge(seen, self._candidate)
            self._streak += 1
        else:
            self._candidate, self._streak = list(seen), 1
        if self._streak >= self.change_after:
            self.path, self._candidate, self._streak = self._candidate, None, 0
            self.changes += 1
            return True
        return False


@dataclass
class HopResult:
    hop: int
    sent: int
    rtts: list[float] = field(default_factory=list)  # seconds, answers in order
    responders: Counter[str] = field(default_factory=Counter)
    silent: bool = False
    address: str = SILENT
    alive: bool = False  # answered, at its own TTL or as the router behind which it ends

    @property
    def loss(self) -> float:
        return 1.0 - len(self.rtts) / self.sent if self.sent else 1.0

    def stats(self) -> Hop:
        return Hop(self.address, self.sent, [r * 1000 for r in self.rtts], self.hop)


def summarise(replies: dict[int, list[Reply | None]], target: str, sent: int,
              known: Path | None, target_ttl: int | None = None,
              ) -> tuple[list[HopResult], bool, bool]:
    """Per-hop results from one run's answers by TTL, and (target reached, path longer than
    probed). Hops beyond the last answering one keep their known addresses. `target_ttl` is
    where the target answered before."""
    # A router with no route on answers "unreachable" to every probe behind it (rate-limited,
    # so maybe only for a few of them): those answers say that *its* hop is alive, they are
    # not answers of the hops it could not reach. Its hop is where the known path has it, else
    # the first TTL it answered at in this run.
    position: dict[str, int] = {}
    for i, addrs in enumerate(known or []):
        for a in addrs:
            position.setdefault(a, i + 1)
    for ttl in sorted(replies):
        for r in replies[ttl]:
            if r is not None:
                position.setdefault(r.responder, ttl)
    answers: dict[int, list[Reply]] = {}
    alive: set[int] = set()
    for ttl, rs in replies.items():
        answers[ttl] = []
        for r in rs:
            if r is None:
                continue
            if r.kind == "unreachable" and r.responder != target \
                    and position[r.responder] < ttl:
                alive.add(position[r.responder])
            else:
                answers[ttl].append(r)
    reached_at = min((ttl for ttl, rs in answers.items()
                      if any(r.responder == target and r.kind != "ttl_exceeded" for r in rs)),
                     default=None)
    if (target_ttl and reached_at and reached_at > target_ttl
            and not any(answers.get(t) for t in range(target_ttl, reached_at))):
        # every probe at the target's own TTL was lost, one further got through: the target
        # has not moved (a path that really grew answers Time Exceeded there)
        reached_at = target_ttl
    last = max(answers) if answers else 0
    longer = reached_at is None and any(r.kind == "ttl_exceeded"
                                        for r in answers.get(last, []))
    hops = reached_at or (len(known) if known else max(
        [*(ttl for ttl, rs in answers.items() if rs), *alive], default=0))
    results: list[HopResult] = []
    for ttl in range(1, hops + 1):
        res = HopResult(ttl, sent)
        for r in answers.get(ttl, []):
            res.rtts.append(r.rtt)
            res.responders[r.responder] += 1
        if res.responders:
            res.address = res.responders.most_common(1)[0][0]
        elif known and ttl <= len(known) and known[ttl - 1]:
            res.address = sorted(known[ttl - 1])[0]
        res.alive = bool(res.rtts) or ttl in alive
        results.append(res)
    last_answer = max((r.hop for r in results if r.alive), default=0)
    for res in results:
        res.silent = not res.alive and res.hop < last_answer
    return results, reached_at is not None, longer


class PathCollector:
    type: ClassVar[str] = "path"
    Config: ClassVar[builtins.type[BaseModel]] = PathConfig
    per_check: ClassVar[bool] = True
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (*PROBE_METRICS, HOPS, HOP_RTT, HOP_LOSS,
                                                 HOP_SILENT, CHANGES, INFO)

    def __init__(self, config: PathConfig) -> None:
        self.config = config
        self.tracker = PathTracker(config.change_after)
        self._probe_to: int | None = None  # hops to probe; None: discover up to max_hops

    async def _probe_all(self, address: str, family: int, limit: int,
                         deadline: float) -> dict[int, list[Reply | None]]:
        cfg = self.config
        loop = asyncio.get_running_loop()
        probe: Callable[[str, int, float, int], Awaitable[Reply | None]]
        if cfg.protocol == "icmp":
            pinger = get_pinger()
            probe = pinger.probe
        else:
            prober = getattr(get_probers(), cfg.protocol)
            port = cfg.probe_port

            def probe(address: str, family: int, wait: float,
                      ttl: int) -> Awaitable[Reply | None]:
                return cast("Awaitable[Reply | None]",
                            prober.probe(address, family, wait, ttl, port))
        tasks: dict[int, list[asyncio.Task[Reply | None]]] = {t: [] for t in
                                                              range(1, limit + 1)}
        for i in range(cfg.probes):
            if i:
                await asyncio.sleep(cfg.packet_interval)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait = min(cfg.probe_timeout, remaining)
            for ttl in range(1, limit + 1):
                tasks[ttl].append(asyncio.ensure_future(probe(address, family, wait, ttl)))
        out: dict[int, list[Reply | None]] = {}
        for ttl, ts in tasks.items():
            out[ttl] = list(await asyncio.gather(*ts))
        return out

    async def collect(self, ctx: Context) -> Observation:
        cfg = self.config
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        remaining = ctx.deadline.remaining()
        deadline = loop.time() + remaining - min(0.2, remaining * 0.1)
        try:
            address, family = await resolve(cfg.target, cfg.ip_version, remaining)
        except LookupError as e:
            return self._failed(str(e), started)
        # two TTLs beyond the known target: a path that grew by up to two hops is still
        # measured whole in this run
        limit = min(cfg.max_hops, self._probe_to + 2) if self._probe_to else cfg.max_hops
        try:
            replies = await self._probe_all(address, family, limit, deadline)
        except PingUnavailable as e:
            return self._failed(str(e), started)
        except OSError as e:
            return self._failed(f"cannot send to {address}: {e.strerror or e}", started)
        sent = max((len(v) for v in replies.values()), default=0)
        hops, reached, longer = summarise(replies, address, sent, self.tracker.path,
                                           self._probe_to)
        names: dict[str, str] = {}
        if cfg.reverse_dns:
            names = await rdns.shared().names(
                [a for h in hops for a in (h.address, *h.responders)], cfg.reverse_dns_ttl,
                deadline - loop.time())
        change: dict[str, Any] | None = None
        if reached:
            self._probe_to = len(hops)
            before = list(self.tracker.path or [])
            if self.tracker.observe([frozenset(h.responders) for h in hops]):
                after = self.tracker.path or []
                change = {"old": [sorted(h) for h in before],
                          "new": [sorted(h) for h in after],
                          "via": route_via(before, after, cfg.hop_names),
                          "target": hop_owner(address, cfg.hop_names) or cfg.target,
                          "old_hash": path_hash(before), "new_hash": path_hash(after)}
        elif longer:
            self._probe_to = None  # the target moved further away: discover again
        obs = self._observation(hops, reached, address, started, names)
        if change is not None:
            obs.details["path_change"] = change
        return obs

    def _observation(self, hops: list[HopResult], reached: bool, address: str,
                     started: float, names: dict[str, str] | None = None) -> Observation:
        cfg = self.config
        duration = time.perf_counter() - started
        samples = probe_samples("path", cfg.target, reached, duration)
        known = self.tracker.path
        samples += [Sample.of(HOPS.name, len(known) if known else len(hops)),
                    Sample.of(CHANGES.name, self.tracker.changes)]
        if known:
            samples.append(Sample.of(INFO.name, 1, hash=path_hash(known)))
        rows: list[dict[str, Any]] = []
        for h in hops:
            hop = str(h.hop)
            samples.append(Sample.of(HOP_SILENT.name, float(h.silent), hop=hop))
            row: dict[str, Any] = {"hop": h.hop, "address": h.address,
                                   "addresses": sorted(h.responders), "sent": h.sent,
                                   "received": len(h.rtts), "silent": h.silent,
                                   "loss": round(h.loss, 4)}
            if names and names.get(h.address):
                row["name"] = names[h.address]
            if not h.silent:
                samples.append(Sample.of(HOP_LOSS.name, h.loss, hop=hop, address=h.address))
            if h.rtts:
                st = h.stats()
                figures = {"min": st.min_rtt, "avg": st.avg_rtt, "max": st.max_rtt,
                           "jitter": st.jitter}
                for stat, ms in figures.items():
                    samples.append(Sample.of(HOP_RTT.name, round(ms / 1000, 9), hop=hop,
                                             address=h.address, stat=stat))
                row.update({f"{k}_ms": v for k, v in figures.items()},
                           last_ms=round(h.rtts[-1] * 1000, 3), rtts_ms=st.rtts)
            rows.append(row)
        reason = ""
        if not reached and len(hops) >= cfg.max_hops:
            reason = f"{address} is more than {cfg.max_hops} hops away (max_hops)"
        elif not reached:
            answering = [h for h in hops if h.alive]
            if answering:
                last = answering[-1]
                reason = (f"no answer from {address} after hop {last.hop} {last.address}: "
                          f"the path breaks behind it")
            else:
                reason = f"no hop towards {address} answered (not even hop 1)"
        first_lossy = next((h for h in hops if not h.silent and h.loss > 0
                            and all(x.silent or x.loss > 0 for x in hops[h.hop:])), None)
        return Observation(reached, samples, reason, duration, details={
            "address": address, "hops": rows, "path_hash": path_hash(known) if known else "",
            "changes": self.tracker.changes,
            "first_lossy_hop": first_lossy.hop if first_lossy else 0,
        })

    def _failed(self, reason: str, started: float) -> Observation:
        duration = time.perf_counter() - started
        samples = probe_samples("path", self.config.target, False, duration)
        samples.append(Sample.of(CHANGES.name, self.tracker.changes))
        return Observation(False, samples, reason, duration)

    async def aclose(self) -> None:
        return None
