"""Batched icmp checks against the real kernel: checks of IP literals due in the same tick go
out as one pinger round, in a network namespace made by the test where nftables drops the
replies of one target. Each check gets the observation `collect` makes, the silent target
fails alone, and the others' results are stored before its own deadline ends the round."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.peers.test_icmp import _nft_drop_replies, netns  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import asyncio, json, sys, time
sys.path.insert(0, ".")
from agent.scheduler import Scheduler
from agent.store import Store
from collectors.base import Context, Deadline, JobSpec
from collectors.probe import pinger as P
from collectors.probe.icmp import IcmpCollector, IcmpConfig

rounds = []
real_round = P.Pinger.round
def counting_round(self, targets, *a):
    rounds.append([t[0] for t in targets])
    return real_round(self, targets, *a)
P.Pinger.round = counting_round

async def main():
    store = Store("lab")
    order = []
    store.subscribe(lambda r: order.append(r.key) if r.key.startswith("check:") else None)
    cfgs = [IcmpConfig(name=f"t{i}", type="icmp", target=f"127.0.0.{i}", count=3,
                       packet_interval=0.01, timeout=1.5, interval=30) for i in (1, 2, 3, 4)]
    cfgs.append(IcmpConfig(name="v6", type="icmp", target="::1", count=3,
                           packet_interval=0.01, timeout=1.5, interval=30))
    sched = Scheduler(store, jitter=0.0)
    await sched.start([JobSpec(f"check:{c.name}", c.name, "icmp", 30, 1.5,
                               (lambda c=c: IcmpCollector(c)), identity=c) for c in cfgs])
    for _ in range(500):
        if len(order) == len(cfgs):
            break
        await asyncio.sleep(0.01)
    out = {"rounds": rounds, "order": order, "results": {}}
    for c in cfgs:
        r = store.get(f"check:{c.name}")
        alone = await IcmpCollector(c).collect(Context(Deadline(1.5), "lab", c.name))
        out["results"][c.name] = {
            "success": r.observation.success, "reason": r.observation.reason,
            "duration": r.observation.duration,
            "samples": [[s.name, dict(s.labels), s.value] for s in r.samples],
            "details": r.observation.details,
            "alone": {"success": alone.success, "reason": alone.reason,
                      "series": sorted(json.dumps([s.name, dict(s.labels)], sort_keys=True)
                                 for s in alone.samples),
                      "details": sorted(alone.details)},
        }
    await sched.stop()
    print(json.dumps(out, default=str))

asyncio.run(main())
"""


def _run(ns: str) -> dict[str, Any]:
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", SCRIPT],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def test_one_round_each_check_its_own_result_silent_one_alone(netns: str) -> None:  # noqa: F811
    _nft_drop_replies(netns, "icmp type echo-reply ip saddr 127.0.0.3 drop")
    out = _run(netns)
    assert out["rounds"] == [["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "::1"]]
    res = out["results"]
    for name in ("t1", "t2", "t4", "v6"):
        r = res[name]
        assert r["success"], r
        values = {(n, tuple(sorted(ls.items()))): v for n, ls, v in r["samples"]}
        assert values[("pantau_icmp_packet_loss_ratio", (("check", name), ("site", "lab")))] \
            == 0.0
        assert len(r["details"]["rtts_ms"]) == 3 and None not in r["details"]["rtts_ms"]
    mute = res["t3"]
    assert not mute["success"]
    assert mute["reason"] == "no reply from 127.0.0.3 (3 echo requests lost)"
    assert mute["reason"] == mute["alone"]["reason"]
    assert mute["details"]["rtts_ms"] == [None, None, None]
    assert mute["duration"] < 1.5  # its own reply deadline ended it, not the scheduler's
    # the silent one was stored last: nobody waited for it
    assert out["order"][-1] == "check:t3"
    # the same series and details a run of its own makes (values differ run to run)
    for r in res.values():
        series = sorted(json.dumps([n, {k: v for k, v in ls.items()
                                        if k not in ("site", "check")}], sort_keys=True)
                        for n, ls, _ in r["samples"])
        assert series == r["alone"]["series"]
        assert sorted(r["details"]) == r["alone"]["details"]
        assert r["success"] == r["alone"]["success"]


MANY = r"""
import asyncio, json, sys
sys.path.insert(0, ".")
from agent.scheduler import Scheduler
from agent.store import Store
from collectors.base import JobSpec
from collectors.probe.icmp import BATCH_CHUNK, IcmpCollector, IcmpConfig

async def main():
    store = Store("lab")
    n = 6 * BATCH_CHUNK + 7
    cfgs = [IcmpConfig(name=f"m{i}", type="icmp", target=f"127.0.{i // 250}.{i % 250 + 1}",
                       count=3, packet_interval=0.005, timeout=2, interval=30)
            for i in range(n)]
    sched = Scheduler(store, jitter=0.0)
    await sched.start([JobSpec(f"check:{c.name}", c.name, "icmp", 30, 2,
                               (lambda c=c: IcmpCollector(c)), identity=c) for c in cfgs])
    for _ in range(500):
        if all(store.get(f"check:{c.name}") for c in cfgs):
            break
        await asyncio.sleep(0.01)
    got = {c.name: (store.get(f"check:{c.name}").observation.reason or "ok")
           if store.get(f"check:{c.name}") else "missing" for c in cfgs}
    await sched.stop()
    print(json.dumps(got))

asyncio.run(main())
"""


def test_a_round_larger_than_a_slice_reports_every_check(netns: str) -> None:  # noqa: F811
    """A round of 307 checks through the real socket, handed on in slices: every one is
    answered (tests/unit/test_icmp_batch.py forces the slice race this once had)."""
    r = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", MANY],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in got.items() if v != "ok"}
    assert len(got) == 307 and not bad, bad
