"""tcp, dns, http (and loss through icmp) probes seen from an office, over real hops.

Every probe runs inside the office namespace (tests/lab/probe_runner.py under `ip netns exec`),
against the lab's "internet" services; blackbox_exporter runs in the same namespace as the
reference. Needs root: `pytest tests/lab/test_probes_lab.py -m lab`.
"""

from __future__ import annotations

import json
import math
import queue
import re
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.lab.office import OfficeLab

RUNNER = str(Path(__file__).with_name("probe_runner.py"))
NET = "10.200.2.2"  # the lab's internet host (inside the lab namespaces only)


def run_checks(lab: OfficeLab, checks: list[dict[str, Any]],
               blackbox: list[dict[str, str]] | None = None) -> dict[str, dict[str, Any]]:
    """Run checks once from the office; results by check name (and blackbox ones by name)."""
    spec = {"checks": checks, "runs": 1, "blackbox": blackbox or []}
    res = lab.exec("office", [lab.python_exe, RUNNER, json.dumps(spec)], timeout=60, check=False)
    assert res.returncode == 0, f"probe_runner failed: {res.stderr[-2000:]}"
    out: dict[str, dict[str, Any]] = {}
    for line in res.stdout.splitlines():
        rec = json.loads(line)
        out[rec.get("name") or "bb:" + rec["blackbox"]] = rec
    return out


def value(rec: dict[str, Any], name: str, **labels: str) -> float | None:
    for n, ls, v in rec["samples"]:
        if n == name and all(ls.get(k) == w for k, w in labels.items()):
            return float(v)
    return None


def http(name: str, target: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": "http", "target": target, "timeout": "3s", **kw}


# ---------------------------------------------------------------------------------------------
# (a) precise reasons


def test_http_tcp_dns_reasons(office_lab: OfficeLab) -> None:
    lab = office_lab
    ca = str(lab.ca_file)
    checks = [
        http("ok", "http://portal.lab.test/", body_must_match=["Sistem Perizinan"]),
        http("tls_ok", "https://portal.lab.test/", tls_config={"ca_file": ca}),
        http("err500", f"http://{NET}/error"),
        http("expired", "https://portal.lab.test:8443/", tls_config={"ca_file": ca}),
        http("untrusted", "https://portal.lab.test/"),  # system CAs don't know the lab CA
        http("redirect", f"http://{NET}/redirect"),
        http("loop", f"http://{NET}/loop", max_redirects=3),
        http("body", "http://portal.lab.test/", body_must_match=["Dukcapil"]),
        http("forbidden", "http://portal.lab.test/", body_must_not_match=["status: OK"]),
        http("nxname", "http://nosuch.lab.test/"),
        http("slow", f"http://{NET}/slow", timeout="1s"),
        {"name": "banner", "type": "tcp", "target": f"{NET}:2525", "expect": r"^220 .*ESMTP"},
        {"name": "banner_bad", "type": "tcp", "target": f"{NET}:2525", "expect": r"^SSH-2\.0"},
        {"name": "tcp_tls", "type": "tcp", "target": "portal.lab.test:443", "tls": True,
         "tls_config": {"ca_file": ca}},
        {"name": "dns_ok", "type": "dns", "target": NET, "query_name": "portal.lab.test",
         "expected_answers": [NET]},
        {"name": "dns_nx", "type": "dns", "target": NET, "query_name": "nosuch.lab.test"},
        {"name": "dns_mismatch", "type": "dns", "target": NET, "query_name": "portal.lab.test",
         "expected_answers": ["10.200.9.9"]},
        {"name": "dns_big", "type": "dns", "target": f"{NET}:53", "query_name": "big.lab.test",
         "query_type": "TXT", "min_answers": 12},
    ]
    r = run_checks(lab, checks)
    assert r["ok"]["success"], r["ok"]["reason"]
    assert value(r["ok"], "pantau_http_status_code") == 200
    assert value(r["ok"], "pantau_probe_success", type="http",
                 target="http://portal.lab.test/") == 1
    # The name went through the lab's DNS server, so the dns phase took real time.
    assert (value(r["ok"], "pantau_http_phase_seconds", phase="dns") or 0) > 0

    assert r["tls_ok"]["success"], r["tls_ok"]["reason"]
    assert value(r["tls_ok"], "pantau_tls_chain_valid") == 1
    assert value(r["tls_ok"], "pantau_tls_cert_expiry_timestamp_seconds") == lab.cert_not_after
    assert (value(r["tls_ok"], "pantau_http_phase_seconds", phase="tls") or 0) > 0

    assert not r["err500"]["success"]
    assert r["err500"]["reason"] == "status 500 not in [200-299]"
    assert value(r["err500"], "pantau_http_status_code") == 500
    assert r["expired"]["reason"] == "certificate expired"
    assert value(r["expired"], "pantau_tls_chain_valid") == 0
    assert r["untrusted"]["reason"].startswith("certificate signed by an unknown authority")
    assert r["redirect"]["success"] and value(r["redirect"], "pantau_http_redirects") == 1
    assert r["loop"]["reason"] == "too many redirects (more than 3)"
    assert r["body"]["reason"] == "body did not match 'Dukcapil'"
    assert r["forbidden"]["reason"] == "body matched forbidden 'status: OK'"
    assert r["nxname"]["reason"].startswith("DNS lookup of nosuch.lab.test failed")
    assert r["slow"]["reason"] == "timeout after 1.0s while waiting for the response"

    assert r["banner"]["success"], r["banner"]["reason"]
    assert r["banner_bad"]["reason"] == (
        "banner did not match '^SSH-2\\\\.0' (got '220 mail.lab.test ESMTP pantau-lab\\r\\n')")
    assert value(r["banner_bad"], "pantau_tcp_expect_match") == 0
    assert r["tcp_tls"]["success"], r["tcp_tls"]["reason"]
    assert value(r["tcp_tls"], "pantau_tls_cert_expiry_timestamp_seconds") == lab.cert_not_after

    assert r["dns_ok"]["success"], r["dns_ok"]["reason"]
    assert value(r["dns_ok"], "pantau_dns_rcode") == 0
    assert value(r["dns_ok"], "pantau_dns_expected_match") == 1
    assert r["dns_nx"]["reason"] == "DNS rcode NXDOMAIN"
    assert value(r["dns_nx"], "pantau_dns_rcode") == 3
    assert r["dns_mismatch"]["reason"] == (
        "answer mismatch: expected 10.200.9.9 for portal.lab.test A, got 10.200.2.2")
    assert r["dns_big"]["success"], r["dns_big"]["reason"]
    assert value(r["dns_big"], "pantau_dns_tcp_fallback") == 1  # truncated UDP -> TCP
    assert value(r["dns_big"], "pantau_dns_answer_rrs") == 12


def test_ip_protocol_preference(office_lab: OfficeLab) -> None:
    lab = office_lab
    ca = str(lab.ca_file)
    r = run_checks(lab, [
        http("v4", "https://portal.lab.test/", tls_config={"ca_file": ca}),
        http("v6", "https://portal.lab.test/", tls_config={"ca_file": ca},
             preferred_ip_protocol="ip6"),
        http("v6only_strict", "http://v6only.lab.test/", ip_protocol_fallback=False),
        http("v6only_fallback", "http://v6only.lab.test/"),
        http("literal6", f"https://[{lab.addresses['internet6']}]/",
             tls_config={"ca_file": ca}),
        {"name": "tcp6", "type": "tcp", "target": f"[{lab.addresses['internet6']}]:2525",
         "expect": "^220 "},
        {"name": "dns6", "type": "dns", "target": f"[{lab.addresses['internet6']}]:53",
         "query_name": "portal.lab.test", "query_type": "AAAA",
         "expected_answers": [lab.addresses["internet6"]]},
    ])
    for name in ("v4", "v6", "v6only_fallback", "literal6", "tcp6", "dns6"):
        assert r[name]["success"], (name, r[name]["reason"])
    assert value(r["v4"], "pantau_http_ip_protocol") == 4
    assert value(r["v6"], "pantau_http_ip_protocol") == 6
    assert value(r["v6only_fallback"], "pantau_http_ip_protocol") == 6
    assert r["v6only_strict"]["reason"] == "v6only.lab.test has no IPv4 address"


def test_stopped_services_are_refused_or_time_out(office_lab: OfficeLab) -> None:
    lab = office_lab
    lab.stop_service("portal")
    lab.stop_service("banner")
    lab.stop_service("dns")
    r = run_checks(lab, [
        http("portal", f"http://{NET}/", timeout="2s"),
        {"name": "banner", "type": "tcp", "target": f"{NET}:2525", "timeout": "2s"},
        {"name": "dns", "type": "dns", "target": NET, "query_name": "portal.lab.test",
         "timeout": "1500ms"},
    ])
    assert r["portal"]["reason"] == "connection refused"
    assert value(r["portal"], "pantau_probe_success", type="http", target=f"http://{NET}/") == 0
    assert r["banner"]["reason"] == "connection refused"
    # dnsmasq gone: the UDP query goes unanswered until the deadline.
    assert r["dns"]["reason"] == f"timeout after 1.5s while querying {NET}"
    lab.start_service("portal")
    assert run_checks(lab, [http("portal", f"http://{NET}/")])["portal"]["success"]


# ---------------------------------------------------------------------------------------------
# (b) a cut link is reported down within one interval + timeout


@pytest.mark.parametrize("how", ["cut", "blackhole"])
def test_broken_uplink_detected_within_interval_plus_timeout(office_lab: OfficeLab,
                                                             how: str) -> None:
    """`cut`: link down, the router answers "network unreachable" at once; `blackhole`: the
    link stays up but drops everything (100 % loss), so only the timeout can tell."""
    lab = office_lab
    interval, timeout = 2.0, 1.5  # the agent requires timeout < interval
    spec = {"checks": [http("portal", f"http://{NET}/health", timeout=f"{timeout}s")],
            "runs": 15, "interval": interval}
    proc = lab.popen("office", [lab.python_exe, RUNNER, json.dumps(spec)],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=pump, daemon=True).start()

    def next_result(limit: float) -> dict[str, Any]:
        try:
            return lines.get(timeout=limit)
        except queue.Empty:
            raise AssertionError(f"no probe result within {limit}s") from None

    try:
        rec = next_result(15)
        assert rec["success"], f"lab portal not healthy before the cut: {rec['reason']}"
        cut_at = time.time()
        if how == "cut":
            lab.cut("uplink")
        else:
            lab.loss("uplink", 1.0)
        while True:
            rec = next_result(10)
            if not rec["success"]:
                break
            assert rec["started"] < cut_at, "a run that started after the cut succeeded"
        detected = rec["t"] - cut_at
        # Small slack for process scheduling on a loaded 2-core machine.
        assert detected <= interval + timeout + 0.5, f"down reported {detected:.2f}s after cut"
        print(f"{how}: down reported {detected:.2f}s after the change: {rec['reason']}")
        if how == "cut":
            assert rec["reason"] in ("network unreachable", "host unreachable"), rec["reason"]
            lab.restore("uplink")
        else:
            assert rec["reason"] == "timeout after 1.5s while connecting", rec["reason"]
            lab.clear_loss("uplink")
        for _ in range(10):
            rec = next_result(10)
            if rec["success"]:
                break
        assert rec["success"], f"not back up after restore: {rec['reason']}"
    finally:
        proc.kill()
        proc.wait(5)


# ---------------------------------------------------------------------------------------------
# (c) side by side with prometheus-blackbox-exporter


BLACKBOX_YML = """\
modules:
  http_2xx:
    prober: http
    timeout: 3s
    http:
      preferred_ip_protocol: ip4
      tls_config: {{ca_file: {ca}}}
  tcp_connect:
    prober: tcp
    timeout: 3s
    tcp: {{preferred_ip_protocol: ip4}}
  dns_portal:
    prober: dns
    timeout: 3s
    dns: {{query_name: portal.lab.test, query_type: A, preferred_ip_protocol: ip4}}
  dns_nx:
    prober: dns
    timeout: 3s
    dns: {{query_name: nosuch.lab.test, query_type: A, preferred_ip_protocol: ip4}}
"""


def test_agrees_with_blackbox_exporter(office_lab: OfficeLab, tmp_path: Path) -> None:
    lab = office_lab
    cfg = tmp_path / "blackbox.yml"
    cfg.write_text(BLACKBOX_YML.format(ca=lab.ca_file))
    port = 9115  # the office namespace's own loopback: nobody else is there
    bb = lab.popen("office", ["prometheus-blackbox-exporter", f"--config.file={cfg}",
                              f"--web.listen-address=127.0.0.1:{port}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if lab.exec("office", ["ss", "-Hltn", f"sport = :{port}"], check=False).stdout:
                break
            assert bb.poll() is None, f"blackbox exited: {bb.stderr.read() if bb.stderr else ''}"
            time.sleep(0.1)
        else:
            raise AssertionError("blackbox_exporter did not listen")
        ca = str(lab.ca_file)
        cases: list[tuple[str, str, str, dict[str, Any]]] = [
            # name, blackbox module, target, pantau check
            ("http_ok", "http_2xx", "http://portal.lab.test/", {"type": "http"}),
            ("http_500", "http_2xx", f"http://{NET}/error", {"type": "http"}),
            ("http_redirect", "http_2xx", f"http://{NET}/redirect", {"type": "http"}),
            ("https_ok", "http_2xx", "https://portal.lab.test/",
             {"type": "http", "tls_config": {"ca_file": ca}}),
            ("https_expired", "http_2xx", "https://portal.lab.test:8443/",
             {"type": "http", "tls_config": {"ca_file": ca}}),
            ("http_refused", "http_2xx", f"http://{NET}:81/", {"type": "http"}),
            ("http_404", "http_2xx", "http://portal.lab.test/missing", {"type": "http"}),
            ("tcp_ok", "tcp_connect", f"{NET}:2525", {"type": "tcp"}),
            ("tcp_refused", "tcp_connect", f"{NET}:2526", {"type": "tcp"}),
            ("dns_ok", "dns_portal", NET, {"type": "dns", "query_name": "portal.lab.test"}),
            ("dns_nx", "dns_nx", NET, {"type": "dns", "query_name": "nosuch.lab.test"}),
        ]
        checks = [{"name": n, "target": t, "timeout": "3s", **extra}
                  for n, _, t, extra in cases]
        bbx = [{"name": n, "url": f"http://127.0.0.1:{port}/probe?" + urllib.parse.urlencode(
            {"module": m, "target": t})} for n, m, t, _ in cases]
        r = run_checks(lab, checks, bbx)
        table = []
        for name, module, _, _extra in cases:
            mine, ref = r[name], r["bb:" + name]["metrics"]
            assert "probe_success" in ref, f"{name}: blackbox gave no probe_success: {ref}"
            table.append((name, mine["success"], ref["probe_success"], mine["reason"]))
            assert float(mine["success"]) == ref["probe_success"], (
                f"{name}: pantau {mine['success']} ({mine['reason']}) vs blackbox "
                f"{ref['probe_success']}")
            if module == "http_2xx":
                status = value(mine, "pantau_http_status_code") or 0.0
                assert status == ref["probe_http_status_code"], (name, status, ref)
        print("\n".join(f"{n:15} pantau={int(s)} blackbox={int(b)} {why}"
                        for n, s, b, why in table))
        # Both kinds were compared: the agreement is not "everything is up".
        assert {row[1] for row in table} == {True, False}
    finally:
        bb.kill()
        bb.wait(5)


# ---------------------------------------------------------------------------------------------
# (d) injected loss measured through the path


def _fping_loss(lab: OfficeLab, count: int) -> float:
    res = lab.exec("office", ["fping", "-q", "-c", str(count), "-p", "10", "-t", "300",
                              NET], check=False, timeout=60)
    m = re.search(r"xmt/rcv/%loss = (\d+)/(\d+)/", res.stderr)
    assert m, f"unexpected fping output: {res.stderr!r}"
    sent, received = int(m.group(1)), int(m.group(2))
    assert sent == count
    return 1 - received / sent


def _pantau_icmp_loss(lab: OfficeLab, count: int) -> float:
    """Loss measured by pantau's icmp check (collectors/probe/icmp.py) from the office."""
    r = run_checks(lab, [{"name": "icmp", "type": "icmp", "target": NET, "count": count,
                          "packet_interval": "10ms", "timeout": "4s",
                          "interval": "30s"}])["icmp"]
    for name, _, v in r["samples"]:
        if name == "pantau_icmp_packet_loss_ratio":
            return float(v)
    raise AssertionError(f"icmp check gave no loss ratio: {r}")


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5])
def test_injected_loss_is_measured(office_lab: OfficeLab, p: float) -> None:
    """Loss `p` is dropped on both ends of router<->isp, so a ping round trip (request and
    reply each cross the link once) is lost with e = 1-(1-p)^2: 0, 0.36, 0.75. The binomial
    tolerance is 4 standard deviations of a 200-ping sample plus 0.02."""
    lab = office_lab
    n = 200
    lab.loss("uplink", p, "both")
    expected = 1 - (1 - p) ** 2
    tol = 4 * math.sqrt(expected * (1 - expected) / n) + 0.02
    measured = {"fping": _fping_loss(lab, n), "pantau": _pantau_icmp_loss(lab, n)}
    print(f"p={p} expected={expected:.3f} tol={tol:.3f} measured={measured}")
    for tool, loss in measured.items():
        assert abs(loss - expected) <= tol, f"{tool}: loss {loss:.3f}, expected {expected:.3f}"


# ---------------------------------------------------------------------------------------------
# the same checks through a real `pantau run` in the office


def test_agent_in_office_exposes_probes(office_lab: OfficeLab, tmp_path: Path) -> None:
    from tests.helpers.agent import pick, run_agent

    lab = office_lab
    config = {
        "site": "dpmptsp-lab",
        "checks": [
            {"name": "portal", "type": "http", "target": "https://portal.lab.test/health",
             "tls_config": {"ca_file": str(lab.ca_file)}, "interval": "2s", "timeout": "1500ms"},
            {"name": "dns-lab", "type": "dns", "target": NET, "query_name": "portal.lab.test",
             "expected_answers": [NET], "interval": "2s", "timeout": "1500ms"},
            {"name": "mail", "type": "tcp", "target": f"{NET}:2525", "expect": "^220 ",
             "interval": "2s", "timeout": "1500ms"},
        ],
    }
    with run_agent(config, tmp_path, netns=lab.ns["office"]) as agent:
        def all_up(m: dict[Any, float]) -> bool:
            return all(pick(m, "pantau_probe_success", site="dpmptsp-lab", check=c) == [1.0]
                       for c in ("portal", "dns-lab", "mail"))

        agent.wait_for(all_up, timeout=20)
        m = agent.scrape()
        assert pick(m, "pantau_http_status_code", check="portal") == [200.0]
        assert pick(m, "pantau_probe_success", check="portal", type="http",
                    target="https://portal.lab.test/health") == [1.0]
        assert pick(m, "pantau_tls_cert_expiry_timestamp_seconds",
                    check="portal") == [lab.cert_not_after]
        lab.cut("transit")
        cut_at = time.monotonic()
        agent.wait_for(lambda m: all(
            pick(m, "pantau_probe_success", check=c) == [0.0]
            for c in ("portal", "dns-lab", "mail")), timeout=15)
        detected = time.monotonic() - cut_at
        print(f"agent: all three probes down {detected:.2f}s after the cut")
        # interval 2 s + timeout 1.5 s, plus up to ~1 s for polling /metrics from the namespace
        assert detected <= 2.0 + 1.5 + 1.0, f"down only {detected:.2f}s after the cut"
