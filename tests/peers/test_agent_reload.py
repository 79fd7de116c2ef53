"""The running agent: SIGHUP and POST /-/reload apply a good config and refuse a broken one
while the old config keeps running."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

from tests.helpers.agent import pick, run_agent, run_cli

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
