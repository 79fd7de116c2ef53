"""The status pages' own logic in process: language choice, the per-minute ring and its
sparkline, the groups along the path, the `status_page:` config, and the cached JSON
fragments giving byte for byte what a fresh build gives."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.status.api import StatusService, _span_key, build_items, choose_lang
from agent.status.data import Availability
from agent.status.ring import SLOTS, Ring
from agent.store import Result
from collectors.base import Observation
from collectors.common.timefmt import format_span


@pytest.mark.parametrize(("query", "header", "lang"), [
    ({}, "", "id"),
    ({}, "en-US,en;q=0.9", "en"),
    ({}, "id-ID,id;q=0.9,en;q=0.8", "id"),
    ({}, "en;q=0.5,id;q=0.8", "id"),
    ({}, "fr-FR,de;q=0.9", "id"),
    ({}, "in", "id"),
    ({"lang": ["en"]}, "id", "en"),
    ({"lang": ["xx"]}, "en", "en"),
    ({}, "en;q=bad", "en"),
])
def test_language(query: dict[str, list[str]], header: str, lang: str) -> None:
    assert choose_lang(query, header) == lang


def test_ring_minutes_and_wrap() -> None:
    r = Ring()
    t0 = 1_800_000_000.0 - 1_800_000_000.0 % 60
    r.add(t0 + 1, True, 0.010, "")
    r.add(t0 + 2, True, 0.030, "")
    r.add(t0 + 3, False, 0.5, "connection refused")
    assert r.minutes(t0 + 30, 5) == [(int(t0), 2, 1, 20.0)]
    assert r.last_error == "connection refused" and r.last_ok is False and r.last_ms is None
    assert r.since == t0 + 3
    # a day later the same slot is reused, the old minute is gone
    r.add(t0 + SLOTS * 60 + 5, True, 0.001, "")
    mins = r.minutes(t0 + SLOTS * 60 + 10, SLOTS)
    assert mins == [(int(t0) + SLOTS * 60, 1, 0, 1.0)]


def test_sparkline_follows_the_clock() -> None:
    r = Ring()
    t0 = 1_800_000_000.0 - 1_800_000_000.0 % 60
    r.add(t0, True, 0.004, "")
    ms, marks = r.spark(t0 + 1)
    assert ms[-1] == 4.0 and marks == "." * 59 + "1"
    ms, marks = r.spark(t0 + 120)  # two minutes without a result
    assert ms[-3] == 4.0 and marks == "." * 57 + "1.."
    r.add(t0 + 121, False, 1.0, "timeout")
    r.add(t0 + 60, True, 0.002, "")  # late result for an earlier minute
    ms, marks = r.spark(t0 + 125)
    assert marks[-3:] == "110" and ms[-2] == 2.0 and ms[-1] is None
    # the API's form ends at the latest result's minute, whatever the clock says
    assert json.loads("{" + r.spark_json() + "}") == {"spark_ms": ms, "spark_ok": marks,
                                                      "spark_end": int(t0) + 120}
    ms, marks = r.spark(t0 + 3 * 3600)
    assert marks == "." * 60 and ms == [None] * 60
    assert json.loads("{" + r.spark_json() + "}")["spark_ok"] == "." * 60


def test_span_key_changes_whenever_the_words_do() -> None:
    seen: dict[tuple[tuple[int, int], ...], str] = {}
    for s in [*range(0, 7200), *range(7200, 200_000, 13), *range(200_000, 3_000_000, 997)]:
        text = format_span(s, "id")
        assert seen.setdefault(_span_key(s), text) == text, s


def config(**extra: Any) -> AgentConfig:
    tcp = {"type": "tcp", "interval": "10s", "timeout": "2s"}
    return AgentConfig.model_validate({
        "site": "t", "state_dir": "/nonexistent/pantau-test",
        "checks": [
            {**tcp, "name": "gw", "target": "192.0.2.1:80"},
            {**tcp, "name": "isp", "target": "192.0.2.2:80", "depends_on": ["gw"]},
            {"type": "dns", "name": "dns", "target": "192.0.2.53", "query_name": "a.go.id",
             "depends_on": ["isp"]},
            {**tcp, "name": "portal", "target": "192.0.2.3:443", "depends_on": ["dns"]},
            {**tcp, "name": "vpn", "target": "192.0.2.4:443", "depends_on": ["isp"]},
        ], **extra})


def test_groups_along_the_path() -> None:
    groups = {n: i.group for n, i in build_items(config()).items()}
    assert groups == {"host": "host", "gw": "gateway", "isp": "uplinks", "dns": "dns",
                      "portal": "services", "vpn": "services"}
    over = build_items(config(status_page={"groups": {"vpn": "uplinks"}}))
    assert over["vpn"].group == "uplinks"


@pytest.mark.parametrize(("section", "message"), [
    ({"groups": {"nope": "dns"}}, "unknown check 'nope'"),
    ({"services": [{"check": "nope", "name": "Layanan"}]}, "unknown check 'nope'"),
    ({"groups": {"gw": "internet"}}, "gateway"),
    ({"services": [{"check": "gw", "name": "A"}, {"check": "gw", "name": "B"}]}, "twice"),
])
def test_status_page_config_errors(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(status_page=section)


def test_cached_fragments_equal_a_fresh_build() -> None:
    cfg = config()
    live = StatusService(lambda: cfg, lambda: None)
    rng = random.Random(17)
    t = 1_800_000_000.0
    names = ["gw", "isp", "dns", "portal", "vpn"]
    for step in range(400):
        t += rng.choice([0.3, 1.0, 7.0, 61.0, 3700.0])
        for name in rng.sample(names, rng.randint(0, 5)):
            ok = rng.random() < 0.7
            live.on_result(Result(f"check:{name}", name, "tcp", Observation(
                ok, [], "" if ok else rng.choice(["refused", "timeout"]),
                rng.random() / 10, t)))
        lang = rng.choice(["id", "en"])
        spark = rng.random() < 0.7
        fresh = StatusService(lambda: cfg, lambda: None)
        fresh.rings = live.rings
        assert live.status_body(lang, spark=spark, now=t) == \
            fresh.status_body(lang, spark=spark, now=t), step
    doc = json.loads(live.status_body("id", now=t))
    assert [i["name"] for i in doc["items"]] == ["host", *names]


def test_incremental_build_with_the_alert_machine_equals_a_fresh_build() -> None:
    """The answer redoes only items with a new result and those not up; a check suppressed
    or released because its root went down or up (no result of its own) must still read
    as a fresh build has it. The real state machine, fed in the agent's order (the status
    service sees each result first, then the alert engine)."""
    from types import SimpleNamespace

    from agent.alerting.engine import build_graph
    from agent.alerting.state import Damping, StateMachine

    cfg = config()
    machine = StateMachine(build_graph(cfg.checks), default=Damping(failures=2, successes=1),
                           settle=5.0)
    alerting: Any = SimpleNamespace(machine=machine, cfg=SimpleNamespace(enabled=True),
                                    acks={})
    live = StatusService(lambda: cfg, lambda: alerting)
    rng = random.Random(170)
    t = 1_800_000_000.0
    names = ["gw", "isp", "dns", "portal", "vpn"]
    seen = set()
    for step in range(600):
        t += rng.choice([0.3, 1.0, 2.0, 61.0])
        for name in rng.sample(names, rng.randint(0, 3)):
            # the upstream checks fail often, so the others flip between down and unreachable
            ok = rng.random() < (0.5 if name in ("isp", "dns") else 0.8)
            reason = "" if ok else rng.choice(["connection refused", "network unreachable"])
            live.on_result(Result(f"check:{name}", name, "tcp",
                                  Observation(ok, [], reason, rng.random() / 10, t)))
            machine.observe(name, ok, t, reason)
            machine.tick(t)
        if step % 37 == 0:  # a new set of month figures, some changed, some not
            figures = {n: Availability(rng.choice([None, 1.0, 0.99, 0.5]), 0.995)
                       for n in rng.sample(names, 3)}
            live.set_availability(figures, [])
        lang = rng.choice(["id", "en"])
        fresh = StatusService(lambda: cfg, lambda: alerting)
        fresh.rings = live.rings
        fresh.set_availability(live.availability, [])
        got = live.status_body(lang, spark=True, now=t)
        assert got == fresh.status_body(lang, spark=True, now=t), step
        seen.update(i["state"] for i in json.loads(got)["items"])
    assert {"up", "down", "unreachable"} <= seen, seen


def test_sparkline_text_kept_in_step_with_its_minutes() -> None:
    """spark_json keeps the first 59 minutes joined between results; late results for an
    earlier minute and the hour moving on must still give exactly the minutes spark() has."""
    r = Ring()
    rng = random.Random(59)
    t = 1_800_000_000.0
    for step in range(3000):
        t += rng.choice([0.5, 5.0, 10.0, 30.0, 61.0, 400.0])
        at = t - rng.choice([0.0] * 8 + [90.0, 1200.0, 5000.0])  # sometimes a late one
        r.add(at, rng.random() < 0.8, rng.random() / 50, "connection refused")
        doc = json.loads("{" + r.spark_json() + "}")
        ms, marks = r.spark(doc["spark_end"])
        assert (doc["spark_ms"], doc["spark_ok"]) == (ms, marks), step


def test_ring_without_a_minute_per_slot_answers_as_one_with_it() -> None:
    """The ring keeps no minute per slot (it zeroes the slots it passes); its minutes must be
    those of a ring whose every slot carries its minute (what it did before), including late
    results within the day, silent gaps of hours and of more than a day."""
    ref: dict[int, tuple[int, list[float]]] = {}  # slot -> (minute, [oks, fails, ms])
    r = Ring()
    rng = random.Random(1440)
    t = 1_800_000_000.0
    newest = 0.0
    for step in range(4000):
        gaps = [0.5, 5.0, 15.0, 61.0, 3600.0 * 5] + [30.0] * 6 + [90_000.0] * (step == 2000)
        t += rng.choice(gaps)
        at = t - rng.choice([0.0] * 8 + [90.0, 1200.0, 80_000.0])  # sometimes a late one
        ok = rng.random() < 0.7
        ms = rng.random() / 50
        minute = int(at // 60)
        newest = max(newest, at)
        if minute > int(newest // 60) - SLOTS:  # the old ring took results up to a day late
            cur = ref.get(minute % SLOTS)
            if cur is None or cur[0] != minute:
                cur = ref[minute % SLOTS] = (minute, [0, 0, 0.0])
            cur[1][0 if ok else 1] += 1
            if ok:
                cur[1][2] += ms * 1000.0
        r.add(at, ok, ms, "timeout")
        if step % 37 == 0 or step == 2001:
            now = newest + rng.choice([0.0, 30.0, 600.0])
            last = int(now // 60)
            want = [(m * 60, int(v[0]), int(v[1]), round(v[2] / v[0], 2) if v[0] else None)
                    for m, v in sorted(ref.values())
                    if last - SLOTS < m <= last and m > int(newest // 60) - SLOTS]
            got = r.minutes(now, SLOTS)
            assert [g[:3] for g in got] == [w[:3] for w in want], step
            # the sums are float32 in the ring
            assert all(g[3] == w[3] or abs((g[3] or 0) - (w[3] or 0)) < 0.02
                       for g, w in zip(got, want, strict=True)), step
