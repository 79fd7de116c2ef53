"""The running agent: SIGHUP and POST /-/reload apply a good config and refuse a broken one
while the old config keeps running."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

from tests.helpers.agent import pick, run_agent, run_cli
from tests.helpers.tarpit import Tarpit

GOOD = "site: kantor-a\nhost:\n  interval: 1s\n  timeout: 500ms\n"


def _post(url: str) -> tuple[int, str]:
    req = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_sighup_with_broken_config_keeps_old_one(tmp_path: Path) -> None:
    with run_agent(GOOD, tmp_path) as agent:
        m = agent.scrape()
        assert pick(m, "pantau_config_last_reload_successful") == [1.0]
        assert pick(m, "node_load1", site="kantor-a")

        agent.config_path.write_text("site: kantor-a\nhost:\n  interval: soon\n")
        agent.signal(signal.SIGHUP)
        agent.wait_for(lambda m: pick(m, "pantau_config_last_reload_successful") == [0.0])
        # still collecting with the old config
        before = pick(agent.scrape(), "pantau_collector_runs_total", collector="host")[0]
        agent.wait_for(lambda m: pick(m, "pantau_collector_runs_total", collector="host")[0]
                       > before, timeout=10)
        assert agent.proc.poll() is None
        assert "reload refused" in agent.log_text() and "host.interval" in agent.log_text()

        agent.config_path.write_text("site: kantor-b\nhost:\n  interval: 1s\n  timeout: 500ms\n")
        agent.signal(signal.SIGHUP)
        agent.wait_for(lambda m: pick(m, "pantau_config_last_reload_successful") == [1.0]
                       and pick(m, "node_load1", site="kantor-b"))


def test_post_reload_is_off_by_default(tmp_path: Path) -> None:
    """Like Prometheus' --web.enable-lifecycle: without the flag anyone who reaches the port
    could reload the agent, so POST /-/reload is refused and changes nothing."""
    with run_agent(GOOD, tmp_path) as agent:
        agent.config_path.write_text("site: kantor-lain\nhost:\n  enabled: false\n")
        status, body = _post(agent.url + "/-/reload")
        assert status == 403 and "--web.enable-lifecycle" in body
        time.sleep(0.5)
        m = agent.scrape()
        assert pick(m, "node_load1", site="kantor-a")  # still the old config
        assert not pick(m, "node_load1", site="kantor-lain")


def test_post_reload(tmp_path: Path) -> None:
    with run_agent(GOOD, tmp_path, extra_args=("--web.enable-lifecycle",)) as agent:
        agent.config_path.write_text("site: kantor-a\nbogus_key: 1\n")
        status, body = _post(agent.url + "/-/reload")
        assert status == 500 and "bogus_key" in body
        assert pick(agent.scrape(), "pantau_config_last_reload_successful") == [0.0]

        agent.config_path.write_text("site: kantor-a\nhost:\n  enabled: false\n")
        status, body = _post(agent.url + "/-/reload")
        assert status == 200, body
        agent.wait_for(lambda m: not pick(m, "node_load1")
                       and pick(m, "pantau_config_last_reload_successful") == [1.0])


def test_reload_storm_leaves_unchanged_checks_alone(tmp_path: Path) -> None:
    """40 reloads in about 10 s (the file rewritten with a change elsewhere each time): the
    unchanged tcp check keeps its 1 s schedule (no extra connections at its listener) and its
    series is in every scrape taken during the storm."""
    with Tarpit() as target:
        def config(n: int) -> str:
            return (f"site: kantor-a\nhost:\n  enabled: false\nchecks:\n"
                    f"  - name: portal\n    type: tcp\n    target: 127.0.0.1:{target.port}\n"
                    f"    interval: 1s\n    timeout: 500ms\n"
                    f"  - name: other\n    type: tcp\n    target: 127.0.0.1:{target.port + 0}\n"
                    f"    interval: {30 + n}s\n    timeout: 500ms\n")

        with run_agent(config(0), tmp_path, extra_args=("--web.enable-lifecycle",)) as agent:
            agent.wait_for(lambda m: pick(m, "pantau_probe_success", check="portal") == [1.0])
            time.sleep(1.0)
            before, t0 = target.accepted, time.monotonic()
            missing = 0
            scrapes = 0
            for n in range(1, 41):
                agent.config_path.write_text(config(n))
                status, body = _post(agent.url + "/-/reload")
                assert status == 200, body
                m = agent.scrape()
                scrapes += 1
                if pick(m, "pantau_probe_success", check="portal") != [1.0]:
                    missing += 1
                time.sleep(0.2)
            elapsed = time.monotonic() - t0
            # "other" changes every time and is restarted (one connection each); "portal"
            # is probed once a second whatever the reloads do
            portal_runs = pick(agent.scrape(), "pantau_collector_runs_total",
                               collector="tcp")
            extra = target.accepted - before - 40  # minus one per restarted "other"
            assert missing == 0, f"portal missing from {missing} of {scrapes} scrapes"
            assert extra <= elapsed + 2, (extra, elapsed, portal_runs)


def test_reload_with_broken_web_config_is_reported(tmp_path: Path) -> None:
    """A reload whose web config is unreadable is a failed reload, in the metric too."""
    with run_agent(GOOD, tmp_path) as agent:
        web = tmp_path / "web.yml"
        web.write_text("basic_auth_users:\n  admin: not-a-bcrypt-hash\n")
        agent.config_path.write_text(GOOD + f"web_config_file: {web}\n")
        agent.signal(signal.SIGHUP)
        agent.wait_for(lambda m: pick(m, "pantau_config_last_reload_successful") == [0.0])
        assert agent.get("/-/healthy")[0] == 200  # still serving, on the old settings
        assert "not a bcrypt hash" in agent.log_text()


def test_version_and_help() -> None:
    r = run_cli("version")
    assert r.returncode == 0 and r.stdout.startswith("pantau ")
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("run", "check-config", "version"):
        assert cmd in r.stdout


def test_bad_listen_is_exit_2() -> None:
    r = run_cli("run", "--listen", "nope")
    assert r.returncode == 2 and "--listen" in r.stderr and "Traceback" not in r.stderr


def test_print_config_has_discovered_checks() -> None:
    r = run_cli("run", "--print-config")
    assert r.returncode == 0, r.stderr
    assert "site:" in r.stdout and "listen: 0.0.0.0:9877" in r.stdout
