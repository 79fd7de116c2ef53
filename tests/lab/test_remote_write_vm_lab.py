"""The central side on a second engine: a real `pantau run` pushes to VictoriaMetrics through an
uplink cut, restarted in the middle of it, and the monthly-report arithmetic gives the
same figures from VictoriaMetrics as from the agent's own history.

    office (pantau) --lan-- router (gateway :2601) --uplink-- isp -- internet (portal :80,
                                                                      victoria-metrics :8428)

The agent watches two services: `portal` behind the uplink (down for the whole cut) and
`gateway` on the office side of it (the test stops and starts it during the cut, once across the
restart). Ground truth for "what the agent produced" is its own disk queue: while the link is
down nothing leaves, so the queue read just before the restore holds every sample of the outage
window; after the restore VictoriaMetrics' raw export must hold each of them exactly once
(VictoriaMetrics keeps duplicates, so a sample sent twice would show), and the check results in
it have no hole other than the restart itself.

PANTAU_RW_OUTAGE_S sets the cut length (default 40 s; `PANTAU_RW_OUTAGE_S=180` for a 3-minute
cut). Nothing asserted depends on the length (as in tests/peers/test_remote_write.py): 40 s
holds the script of the cut (a 4 s gateway outage, the stop 5 s before half-way, the restart and
a gateway outage across it, each waited for on the agent's own metrics) with room to spare on a
loaded machine, ~80 results per check in the window, and a backlog of several batches.
Needs root: `pytest tests/lab/test_remote_write_vm_lab.py -m lab` (~1.5 min).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exporters.remote_write import proto as rw_proto
from exporters.remote_write.writer import QUEUE_FILE
from tests.helpers.agent import PANTAU, RunningAgent, pick, run_agent, run_cli
from tests.helpers.procs import stop_process
from tests.helpers.victoriametrics import SeriesKey, run_victoria_metrics, series_key
from tests.helpers.waiting import wait_until
from tests.lab.office import OfficeLab

OUTAGE_S = float(os.environ.get("PANTAU_RW_OUTAGE_S", "40"))
NET = "10.200.2.2"  # the lab's internet host: portal and VictoriaMetrics
GW, GW_PORT = "192.168.50.1", 2601  # the router's LAN side
VM_PORT = 8428
INTERVAL = 0.5  # check interval: ~2 results per check per second, ~80 per check in the cut
STEP = 0.5  # --step of the report against VictoriaMetrics: the sample spacing
SITE = "kab-vm-lab"
SERVERS = str(Path(__file__).with_name("servers.py"))


def _config(state: Path) -> dict[str, Any]:
    every = {"interval": f"{INTERVAL:g}s", "timeout": "400ms"}
    return {
        "site": SITE,
        "state_dir": str(state),
        "host": {"enabled": False},
        "checks": [
            {"name": "portal", "type": "tcp", "target": f"{NET}:80", **every},
            {"name": "gateway", "type": "tcp", "target": f"{GW}:{GW_PORT}", **every},
        ],
        # one result changes the state: history and pantau_check_up see the same transitions
        "alerts": {"damping": {"failures": 1, "successes": 1}},
        "reports": {"timezone": "WIB", "slo": 0.9},
        "remote_write": {
            "url": f"http://{NET}:{VM_PORT}/api/v1/write",
            "timeout": "2s", "flush_interval": "500ms", "batch_size": 500,
            "backoff": {"min": "200ms", "max": "2s"},
            "queue": {"sync_interval": "200ms"},
        },
    }


class Gateway:
    """A TCP listener on the router's LAN address the test stops and starts."""

    def __init__(self, lab: OfficeLab) -> None:
        self.lab = lab
        self.proc: Any = None

    def start(self) -> None:
        self.proc = self.lab.popen("router", [self.lab.python_exe, SERVERS, "banner", "--host",
                                              GW, "--port", str(GW_PORT), "--text", "gw"],
                                   stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.lab.exec("router", ["ss", "-ltnH", f"sport = :{GW_PORT}"]).stdout == "":
            assert time.monotonic() < deadline, "gateway listener did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=3)
            self.proc = None


def _state(agent: RunningAgent, check: str, value: float, timeout: float = 30) -> None:
    agent.wait_for(lambda m: pick(m, "pantau_check_up", check=check) == [value], timeout)


def _queue_snapshot(state: Path) -> dict[SeriesKey, list[int]]:
    """series -> timestamps (ms) of every sample committed to the agent's disk queue, read
    through a read-only connection (the agent may be running)."""
    db = sqlite3.connect(f"file:{state / QUEUE_FILE}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT payload FROM rw_queue ORDER BY id").fetchall()
    finally:
        db.close()
    out: dict[SeriesKey, list[int]] = {}
    for (payload,) in rows:
        for labels, samples in rw_proto.decode_write_request(rw_proto.decompress(payload)):
            key = series_key(labels["__name__"], labels)
            out.setdefault(key, []).extend(ts for _, ts in samples)
    return out


def _report(args: list[str], out: Path,
            lab: OfficeLab | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """`pantau report ... --format json` (inside the internet namespace when `lab` is given,
    where VictoriaMetrics is 127.0.0.1:8428); the rows by (site, check)."""
    cmd = ["report", *args, "--format", "json", "--out", str(out)]
    if lab is None:
        r = run_cli(*cmd)
        code, text = r.returncode, r.stdout + r.stderr
    else:
        res = lab.exec("internet", [str(PANTAU), *cmd], check=False, timeout=120)
        code, text = res.returncode, res.stdout + res.stderr
    assert code == 0, text
    data = json.loads(out.read_text())
    return {(c["site"], c["check"]): c for c in data["checks"]}


def _ts(text: str | None) -> float:
    assert text is not None
    return datetime.fromisoformat(text).timestamp()


def test_victoria_metrics_gets_the_cut_once_and_reports_like_the_history(
        office_lab: OfficeLab, tmp_path: Path) -> None:
    lab = office_lab
    office = lab.ns["office"]
    state = tmp_path / "state"
    cfg = _config(state)
    half = OUTAGE_S / 2
    wall0 = time.monotonic()
    period_start = datetime.now(UTC).replace(microsecond=0)
    gw = Gateway(lab)
    gw.start()
    first, second = contextlib.ExitStack(), contextlib.ExitStack()
    # VictoriaMetrics hides the last 30 s from queries by default (-search.latencyOffset); the
    # report below ends seconds before it is asked, a monthly one never does.
    with run_victoria_metrics(tmp_path / "vm", f":{VM_PORT}", netns=lab.ns["internet"],
                              extra_args=("-search.latencyOffset=1s",)) as vm:
        try:
            a1 = first.enter_context(run_agent(cfg, tmp_path / "a1", netns=office))
            up_series = f'pantau_check_up{{site="{SITE}"}}'
            _wait(lambda: len(vm.export(up_series)) == 2, 60, "pantau_check_up in VM")
            # -- an outage before the cut, delivered live ---------------------------------
            lab.stop_service("portal")
            _state(a1, "portal", 0.0)
            time.sleep(3)
            lab.start_service("portal")
            _state(a1, "portal", 1.0)
            time.sleep(2)
            # -- cut the uplink: VictoriaMetrics unreachable, portal down -----------------
            lab.cut("uplink")
            cut = time.time()
            _state(a1, "portal", 0.0)
            gw.stop()  # an outage inside the cut ...
            _state(a1, "gateway", 0.0)
            time.sleep(4)
            gw.start()
            _state(a1, "gateway", 1.0)
            time.sleep(max(0.0, cut + half - 5 - time.time()))
            gw.stop()  # ... and one across the restart
            _state(a1, "gateway", 0.0)
            time.sleep(max(0.0, cut + half - time.time()))
            m = a1.scrape()
            assert pick(m, "pantau_remote_write_requests_total", result="retry")[0] > 0, m
            queued_before_stop = pick(m, "pantau_remote_write_queue_samples")[0]
            # -- restart in the middle: SIGTERM, start again on the same state dir --------
            first.close()
            assert a1.proc.returncode == 0, a1.log_text()[-3000:]
            stopped = time.time()
            s1 = _queue_snapshot(state)
            a2 = second.enter_context(run_agent(cfg, tmp_path / "a2", netns=office))
            restarted = time.time()
            _state(a2, "gateway", 0.0)
            time.sleep(3)
            gw.start()
            _state(a2, "gateway", 1.0)
            time.sleep(max(0.0, cut + OUTAGE_S - time.time()))
            # -- what the agent holds for the window, then restore ------------------------
            s2 = _queue_snapshot(state)
            m = a2.scrape()
            queued_at_restore = pick(m, "pantau_remote_write_queue_samples")[0]
            lab.restore("uplink")
            restored = time.time()
            _state(a2, "portal", 1.0)

            def delivered() -> bool:
                got = vm.export(f'{{site="{SITE}"}}')
                return all(key in got and got[key][-1][0] >= ts[-1] for key, ts in s2.items())

            _wait(delivered, 120, "the queued outage window delivered to VictoriaMetrics")
            drained = time.time()
            # -- an outage after the restore, delivered live ------------------------------
            lab.stop_service("portal")
            _state(a2, "portal", 0.0)
            time.sleep(3)
            lab.start_service("portal")
            _state(a2, "portal", 1.0)
            time.sleep(2)
            period_end = datetime.now(UTC).replace(microsecond=0)
            _wait(lambda: all(s[-1][0] >= period_end.timestamp() * 1000
                              for s in vm.export(up_series).values()), 30,
                  "pantau_check_up past the end of the report period")
            exported = vm.export('{__name__=~".+"}')
            period = ["--config", str(a2.config_path), "--from", period_start.isoformat(),
                      "--to", period_end.isoformat()]
            local = _report(period, tmp_path / "local.json")
            central = _report([*period, "--prometheus", vm.url, "--step", f"{STEP:g}"],
                              tmp_path / "vm.json", lab)
            log = a1.log_text() + a2.log_text()
        finally:
            second.close()
            first.close()
            gw.stop()
    wall = time.monotonic() - wall0

    assert "Traceback" not in log, log[-3000:]
    # The agent kept queueing through the cut and the restart lost nothing it had committed.
    assert queued_at_restore > queued_before_stop > 0, (queued_before_stop, queued_at_restore)
    lost_at_restart = {k: sorted(set(ts) - set(s2.get(k, []))) for k, ts in s1.items()}
    assert not any(lost_at_restart.values()), {k: v[:3] for k, v in lost_at_restart.items() if v}

    # Every sample of the outage window (produced from the cut on): there exactly once in
    # VictoriaMetrics' raw data, nothing missing, nothing extra.
    cut_ms, restore_ms = cut * 1000, restored * 1000
    expected = arrived = duplicates = 0
    problems: list[str] = []
    for key, ts in s2.items():
        want = sorted(t for t in ts if t >= cut_ms)
        if not want:
            continue
        got = [t for t, _ in exported.get(key, []) if cut_ms <= t <= want[-1]]
        expected += len(want)
        arrived += len(got)
        duplicates += len(got) - len(set(got))
        if got != want:
            problems.append(f"{key}: missing {sorted(set(want) - set(got))[:3]}, "
                            f"extra {sorted(set(got) - set(want))[:3]}, "
                            f"{len(got) - len(set(got))} duplicated")
    assert not problems, problems[:5]
    assert duplicates == 0
    # Before the cut: whatever was still queued arrived too. The one request in flight when the
    # link went down may have been stored although its answer was lost; the agent cannot know
    # and sends it again (remote write is at-least-once), and VictoriaMetrics without
    # -dedup.minScrapeInterval keeps both copies: that request, and nothing else, may repeat.
    resent = 0
    for key, samples in exported.items():
        stamps = [t for t, _ in samples]
        for t in {t for t in stamps if stamps.count(t) > 1}:
            assert t < cut_ms and t in s2.get(key, []), (key, t, cut_ms)
            resent += stamps.count(t) - 1
    assert resent <= cfg["remote_write"]["batch_size"], resent
    for key, ts in s2.items():
        got_all = {t for t, _ in exported.get(key, [])}
        assert set(ts) <= got_all, (key, sorted(set(ts) - got_all)[:3])

    # The window has no hole except the restart: each check's results every INTERVAL (a hole
    # is 6 intervals without one, which a loaded machine does not make; a restart slower than
    # that does, and then only around the stop).
    for check in ("portal", "gateway"):
        (key,) = [k for k in s2 if k[0] == "pantau_probe_success" and ("check", check) in k[1]]
        ts = sorted(s2[key])
        assert ts[0] <= cut_ms + 3000 and ts[-1] >= restore_ms - 3000, (check, ts[0], ts[-1])
        gaps = [(a, b) for a, b in itertools.pairwise(ts) if b - a > 6 * INTERVAL * 1000]
        assert len(gaps) <= 1, (check, gaps)
        for a, b in gaps:
            assert a <= stopped * 1000 <= b <= restarted * 1000, (check, gaps, stopped)
        runs = (restore_ms - cut_ms - sum(b - a for a, b in gaps)) / (INTERVAL * 1000)
        assert len([t for t in ts if cut_ms <= t <= restore_ms]) >= 0.8 * runs, (check, runs)

    # The same report from both sources: outages, their edges, downtime, availability.
    tol = STEP + 0.25
    figures = []
    for check in ("portal", "gateway"):
        for name, rows in (("history", local), ("VictoriaMetrics", central)):
            row = rows[(SITE, check)]
            print(f"{check} from {name}: {row['outages']} outages, downtime "
                  f"{row['downtime_seconds']:.2f} s of {row['monitored_seconds']:.1f} s, "
                  f"availability {row['availability']}; "
                  + ", ".join(f"{o['start'][11:23]}..{(o['end'] or '')[11:23]}"
                              for o in row["outage_list"]))
    for check, n_outages in (("portal", 3), ("gateway", 2)):
        lrow, crow = local[(SITE, check)], central[(SITE, check)]
        assert lrow["outages"] == crow["outages"] == n_outages, (check, lrow, crow)
        for lo, co in zip(lrow["outage_list"], crow["outage_list"], strict=True):
            assert abs(_ts(lo["start"]) - _ts(co["start"])) <= tol, (check, lo, co)
            assert abs(_ts(lo["end"]) - _ts(co["end"])) <= tol, (check, lo, co)
        assert abs(lrow["downtime_seconds"] - crow["downtime_seconds"]) <= 2 * tol * n_outages
        assert abs(lrow["monitored_seconds"] - crow["monitored_seconds"]) <= tol
        assert abs(lrow["availability"] - crow["availability"]) <= (
            2 * tol * n_outages + tol) / lrow["monitored_seconds"]
        assert lrow["slo_met"] == crow["slo_met"] and lrow["enough_data"] == crow["enough_data"]
        figures.append(f"{check}: {lrow['outages']} outages, downtime "
                       f"{lrow['downtime_seconds']:.1f} s / {crow['downtime_seconds']:.1f} s, "
                       f"availability {lrow['availability']:.5f} / {crow['availability']:.5f}")
    print(f"cut {restored - cut:.0f} s, restart gap {restarted - stopped:.1f} s, drained "
          f"{drained - restored:.1f} s after restore; window samples expected {expected}, "
          f"arrived {arrived}, duplicates {duplicates} (in flight at the cut and re-sent: "
          f"{resent}); history / VictoriaMetrics: "
          + "; ".join(figures) + f"; wall {wall:.0f} s")


def _wait(cond: Any, timeout: float, what: str) -> Any:
    return wait_until(cond, timeout, what, interval=0.5)
