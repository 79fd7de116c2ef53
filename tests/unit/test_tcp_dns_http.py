"""tcp, dns and http checks against real peers on loopback: config errors, reasons, metrics.

Peers: tests/lab/servers.py (HTTP, HTTPS with a generated CA, a TCP banner) and dnsmasq, all
on 127.0.0.1 with free ports, killed when the module ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from collectors import REGISTRY
from collectors.base import Context, Deadline, Observation
from collectors.common.hostport import split_host_port
from collectors.probe import DnsCollector, HttpCollector, TcpCollector
from tests.helpers.certs import make_pki
from tests.lab.office import make_certs

SERVERS = Path(__file__).resolve().parents[1] / "lab" / "servers.py"
LO = "127.0.0.1"


def free_port(udp_too: bool = False) -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind((LO, 0))
            port = int(s.getsockname()[1])
            if not udp_too:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((LO, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


@dataclass
class Peers:
    http: int
    https: int
    expired: int
    banner: int
    dns: int
    ca: Path
    not_after: float


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise AssertionError(f"{what} exited: {err}")
        with contextlib.suppress(OSError), socket.create_connection((LO, port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    d = tmp_path_factory.mktemp("certs")
    certs, not_after = make_certs(d, ips=())
    p = Peers(free_port(), free_port(), free_port(), free_port(), free_port(udp_too=True),
              certs["ca"], not_after)
    py, srv = sys.executable, str(SERVERS)
    cmds = {
        "http": [py, srv, "http", "--host", LO, "--port", str(p.http)],
        "https": [py, srv, "https", "--host", LO, "--port", str(p.https), "--cert",
                  str(certs["server_cert"]), "--key", str(certs["server_key"])],
        "expired": [py, srv, "https", "--host", LO, "--port", str(p.expired), "--cert",
                    str(certs["expired_cert"]), "--key", str(certs["expired_key"])],
        "banner": [py, srv, "banner", "--host", LO, "--port", str(p.banner), "--text",
                   "SSH-2.0-OpenSSH_9.2 lab"],
        "dns": ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--bind-interfaces", f"--listen-address={LO}",
                f"--port={p.dns}", "--user=root", "--group=root", "--pid-file=",
                "--local=/lab.test/", "--host-record=portal.lab.test,10.200.2.2",
                "--host-record=dual.lab.test,10.200.2.3", "--host-record=dual.lab.test,10.200.2.4",
                "--cname=www.lab.test,portal.lab.test",
                *[f"--txt-record=big.lab.test,{i:02d}-{'y' * 90}" for i in range(12)]],
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, cmd in cmds.items():
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            procs.append(proc)
            _wait_tcp(getattr(p, name), proc, name)
        yield p
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(5)


def run(cls: Any, deadline: float = 5.0, **cfg: Any) -> Observation:
    cfg.setdefault("name", "t")
    cfg.setdefault("type", cls.type)
    collector = cls(cls.Config.model_validate(cfg))
    obs: Observation = asyncio.run(collector.collect(Context(Deadline(deadline), "s", "t")))
    _contract(cls, obs)
    return obs


def _contract(cls: Any, obs: Observation) -> None:
    """Every sample is declared in METRICS with exactly its labels; probe metrics present."""
    specs = {m.name: m for m in cls.METRICS}
    for s in obs.samples:
        assert s.name in specs, f"{s.name} not declared in {cls.__name__}.METRICS"
        assert tuple(k for k, _ in s.labels) == specs[s.name].labels, s
    names = {s.name for s in obs.samples}
    assert {"pantau_probe_success", "pantau_probe_duration_seconds"} <= names
    success = [s.value for s in obs.samples if s.name == "pantau_probe_success"]
    assert success == [1.0 if obs.success else 0.0]
    assert obs.success or obs.reason, "a failure must say why"


def val(obs: Observation, name: str, **labels: str) -> float | None:
    for s in obs.samples:
        if s.name == name and all(dict(s.labels).get(k) == v for k, v in labels.items()):
            return s.value
    return None


# ---------------------------------------------------------------------------------------------
# config


def test_registered() -> None:
    assert REGISTRY["tcp"] is TcpCollector
    assert REGISTRY["dns"] is DnsCollector
    assert REGISTRY["http"] is HttpCollector


@pytest.mark.parametrize(("cls", "cfg", "message"), [
    (TcpCollector, {"target": "host"}, "invalid target 'host': use HOST:PORT"),
    (TcpCollector, {"target": "host:99999"}, "port must be 1-65535"),
    (TcpCollector, {"target": "h:1", "expect": "("}, "invalid regex"),
    (TcpCollector, {"target": "h:1", "tls_config": {"insecure_skip_verify": True}},
     "tls_config needs tls: true"),
    (DnsCollector, {"target": "dns.google", "query_name": "a.b"}, "must be an IP address"),
    (DnsCollector, {"target": LO, "query_name": "a.b", "query_type": "BOGUS"},
     "unknown DNS record type"),
    (DnsCollector, {"target": LO, "query_name": "a.b", "valid_rcodes": ["NOPE"]},
     "unknown DNS rcode"),
    (HttpCollector, {"target": "ftp://x/"}, "expected http://host"),
    (HttpCollector, {"target": "http://u:secret@x/"}, "credentials in the URL"),
    (HttpCollector, {"target": "http://x/", "valid_status_codes": ["2yy"]},
     "invalid status code"),
    (HttpCollector, {"target": "http://x/", "body_must_match": ["[a"]}, "invalid regex"),
    (HttpCollector, {"target": "http://x/", "method": "BREW"}, "method"),
])
def test_config_errors(cls: Any, cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        cls.Config.model_validate({"name": "t", "type": cls.type, **cfg})
    assert message in str(e.value)


def test_split_host_port() -> None:
    assert split_host_port("10.0.0.1:53") == ("10.0.0.1", 53)
    assert split_host_port("[fd00::1]:853") == ("fd00::1", 853)
    assert split_host_port("fd00::1", 53) == ("fd00::1", 53)
    assert split_host_port("ns.example", 53) == ("ns.example", 53)
    with pytest.raises(ValueError, match="missing"):
        split_host_port("[fd00::1:53")


def test_header_secret_is_not_printed() -> None:
    cfg = HttpCollector.Config.model_validate(
        {"name": "t", "type": "http", "target": "http://x/",
         "headers": {"Authorization": "Bearer s3cret"}})
    assert "s3cret" not in repr(cfg) and "s3cret" not in str(cfg.model_dump())


# ---------------------------------------------------------------------------------------------
# http


def test_http_ok_and_phases(peers: Peers) -> None:
    obs = run(HttpCollector, target=f"http://{LO}:{peers.http}/health",
              body_must_match=["Perizinan"])
    assert obs.success, obs.reason
    assert val(obs, "pantau_http_status_code") == 200
    assert val(obs, "pantau_http_redirects") == 0
    assert val(obs, "pantau_http_content_length") == val(obs, "pantau_http_body_bytes")
    assert (val(obs, "pantau_http_body_bytes") or 0) > 0
    phases = {dict(s.labels)["phase"]: s.value for s in obs.samples
              if s.name == "pantau_http_phase_seconds"}
    assert set(phases) == {"dns", "connect", "tls", "first_byte", "transfer", "total"}
    assert phases["connect"] > 0 and phases["first_byte"] > 0 and phases["tls"] == 0
    assert phases["total"] >= phases["connect"] + phases["first_byte"]


@pytest.mark.parametrize(("path", "extra", "reason"), [
    ("/error", {}, "status 500 not in [200-299]"),
    ("/missing", {"valid_status_codes": [200, "300-399"]}, "status 404 not in [200, 300-399]"),
    ("/loop", {"max_redirects": 2}, "too many redirects (more than 2)"),
    ("/", {"body_must_match": ["Dukcapil"]}, "body did not match 'Dukcapil'"),
    ("/", {"body_must_not_match": ["status: OK"]}, "body matched forbidden 'status: OK'"),
    ("/", {"max_body_bytes": 10}, "body larger than max_body_bytes (10)"),
])
def test_http_failure_reasons(peers: Peers, path: str, extra: dict[str, Any],
                              reason: str) -> None:
    obs = run(HttpCollector, target=f"http://{LO}:{peers.http}{path}", **extra)
    assert not obs.success
    assert obs.reason == reason


def test_http_redirect_followed_or_not(peers: Peers) -> None:
    obs = run(HttpCollector, target=f"http://{LO}:{peers.http}/redirect")
    assert obs.success and val(obs, "pantau_http_redirects") == 1
    assert val(obs, "pantau_http_status_code") == 200
    obs = run(HttpCollector, target=f"http://{LO}:{peers.http}/redirect",
              follow_redirects=False, valid_status_codes=[302])
    assert obs.success and val(obs, "pantau_http_status_code") == 302


def test_credentials_do_not_follow_redirects_elsewhere(peers: Peers) -> None:
    auth = {"Authorization": "Bearer s3cret"}
    same = f"http://{LO}:{peers.http}/redirect-to?url=/headers"
    obs = run(HttpCollector, target=same, headers=auth, body_must_match=["Bearer s3cret"])
    assert obs.success, obs.reason
    other = f"http://{LO}:{peers.http}/redirect-to?url=http://localhost:{peers.http}/headers"
    obs = run(HttpCollector, target=other, headers=auth, body_must_not_match=["s3cret"],
              body_must_match=["(?i)host: localhost"])
    assert obs.success, obs.reason
    assert val(obs, "pantau_http_redirects") == 1


def test_http_methods(peers: Peers) -> None:
    assert run(HttpCollector, target=f"http://{LO}:{peers.http}/", method="HEAD").success
    obs = run(HttpCollector, target=f"http://{LO}:{peers.http}/", method="POST", body="a=1",
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert obs.success, obs.reason


def test_http_refused_and_timeout(peers: Peers) -> None:
    obs = run(HttpCollector, target=f"http://{LO}:{free_port()}/")
    assert obs.reason == "connection refused"
    obs = run(HttpCollector, deadline=1.0, target=f"http://{LO}:{peers.http}/slow")
    assert obs.reason == "timeout after 1.0s while waiting for the response"
    assert 0.8 < obs.duration < 3


def test_http_to_non_http_peers(peers: Peers) -> None:
    obs = run(HttpCollector, target=f"http://{LO}:{peers.banner}/")
    assert obs.reason.startswith("HTTP protocol error while waiting for the response"), obs.reason
    assert val(obs, "pantau_http_status_code") == 0
    obs = run(HttpCollector, target=f"https://{LO}:{peers.http}/")
    assert obs.reason == "TLS handshake failed: WRONG_VERSION_NUMBER"


def test_https_reasons(peers: Peers) -> None:
    url = f"https://{LO}:{peers.https}/"
    obs = run(HttpCollector, target=url)
    assert obs.reason.startswith("certificate signed by an unknown authority"), obs.reason
    assert val(obs, "pantau_tls_chain_valid") == 0
    # The lab certificate names portal.lab.test, not 127.0.0.1.
    obs = run(HttpCollector, target=url, tls_config={"ca_file": str(peers.ca)})
    assert obs.reason.startswith("certificate does not match the host name"), obs.reason
    obs = run(HttpCollector, target=url, tls_config={"insecure_skip_verify": True})
    assert obs.success, obs.reason
    assert val(obs, "pantau_tls_chain_valid") is None  # not judged
    assert val(obs, "pantau_tls_cert_expiry_timestamp_seconds") == peers.not_after
    assert (val(obs, "pantau_http_phase_seconds", phase="tls") or 0) > 0


# ---------------------------------------------------------------------------------------------
# tcp


def test_tcp_banner(peers: Peers) -> None:
    target = f"{LO}:{peers.banner}"
    obs = run(TcpCollector, target=target, expect=r"^SSH-2\.0-")
    assert obs.success, obs.reason
    assert val(obs, "pantau_tcp_expect_match") == 1
    assert (val(obs, "pantau_tcp_connect_seconds") or 0) > 0
    obs = run(TcpCollector, target=target, expect="^220 ")
    assert obs.reason == "banner did not match '^220 ' (got 'SSH-2.0-OpenSSH_9.2 lab\\r\\n')"
    assert val(obs, "pantau_tcp_expect_match") == 0
    obs = run(TcpCollector, target=f"{LO}:{peers.http}", send="GET / HTTP/1.0\r\n\r\n",
              expect=r"HTTP/1\.\d 200")
    assert obs.success, obs.reason


def test_tcp_refused_and_timeout(peers: Peers) -> None:
    assert run(TcpCollector, target=f"{LO}:{free_port()}").reason == "connection refused"
    # The HTTP server says nothing until asked: waiting for a banner runs into the deadline.
    obs = run(TcpCollector, deadline=0.5, target=f"{LO}:{peers.http}", expect="never")
    assert obs.reason == "timeout after 0.5s while waiting for data matching 'never'"


def test_tcp_tls(peers: Peers) -> None:
    obs = run(TcpCollector, target=f"{LO}:{peers.https}", tls=True,
              tls_config={"ca_file": str(peers.ca), "server_name": "portal.lab.test"})
    assert obs.success, obs.reason
    assert val(obs, "pantau_tls_chain_valid") == 1
    assert val(obs, "pantau_tls_cert_expiry_timestamp_seconds") == peers.not_after
    obs = run(TcpCollector, target=f"{LO}:{peers.expired}", tls=True,
              tls_config={"ca_file": str(peers.ca), "server_name": "portal.lab.test"})
    assert obs.reason == "certificate expired"
    assert val(obs, "pantau_tls_chain_valid") == 0


# ---------------------------------------------------------------------------------------------
# dns


def test_dns_answers(peers: Peers) -> None:
    t = f"{LO}:{peers.dns}"
    obs = run(DnsCollector, target=t, query_name="portal.lab.test",
              expected_answers=["10.200.2.2"])
    assert obs.success, obs.reason
    assert val(obs, "pantau_dns_rcode") == 0 and val(obs, "pantau_dns_answer_rrs") == 1
    assert val(obs, "pantau_dns_expected_match") == 1
    assert val(obs, "pantau_dns_tcp_fallback") == 0
    assert (val(obs, "pantau_dns_lookup_seconds") or 0) > 0
    obs = run(DnsCollector, target=t, query_name="dual.lab.test", min_answers=2,
              answer_regex=r"^10\.200\.2\.[34]$")
    assert obs.success, obs.reason
    obs = run(DnsCollector, target=t, query_name="dual.lab.test", answer_regex=r"\.3$")
    assert obs.reason == "answer 10.200.2.4 did not match '\\\\.3$'"
    obs = run(DnsCollector, target=t, query_name="www.lab.test", query_type="CNAME",
              expected_answers=["portal.lab.test."])
    assert obs.success, obs.reason


def test_dns_failures(peers: Peers) -> None:
    t = f"{LO}:{peers.dns}"
    obs = run(DnsCollector, target=t, query_name="nosuch.lab.test")
    assert obs.reason == "DNS rcode NXDOMAIN" and val(obs, "pantau_dns_rcode") == 3
    assert val(obs, "pantau_dns_expected_match") is None
    obs = run(DnsCollector, target=t, query_name="nosuch.lab.test",
              valid_rcodes=["NOERROR", "NXDOMAIN"])
    assert obs.success, obs.reason
    obs = run(DnsCollector, target=t, query_name="portal.lab.test",
              expected_answers=["10.9.9.9"])
    assert obs.reason == ("answer mismatch: expected 10.9.9.9 for portal.lab.test A, "
                          "got 10.200.2.2")
    assert val(obs, "pantau_dns_expected_match") == 0
    obs = run(DnsCollector, target=t, query_name="portal.lab.test", query_type="AAAA",
              min_answers=1)
    assert obs.reason == "0 AAAA answers, expected at least 1"


def test_dns_tcp_fallback_and_tcp(peers: Peers) -> None:
    t = f"{LO}:{peers.dns}"
    obs = run(DnsCollector, target=t, query_name="big.lab.test", query_type="TXT")
    assert obs.success, obs.reason
    assert val(obs, "pantau_dns_tcp_fallback") == 1 and val(obs, "pantau_dns_answer_rrs") == 12
    obs = run(DnsCollector, target=t, query_name="portal.lab.test", transport="tcp")
    assert obs.success and val(obs, "pantau_dns_tcp_fallback") == 0


def test_dns_timeout() -> None:
    # A bound UDP socket that never answers: the query runs into the deadline.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((LO, 0))
        port = silent.getsockname()[1]
        obs = run(DnsCollector, deadline=0.5, target=f"{LO}:{port}", query_name="a.lab.test")
    assert obs.reason == f"timeout after 0.5s while querying {LO}:{port}"


def test_ip_protocol_preference() -> None:
    from collectors.probe.net import ProbeError, resolve

    async def go(prefer: Any, fallback: bool) -> str:
        return (await resolve("localhost", 80, prefer, fallback, 2.0)).address

    assert asyncio.run(go("ip4", False)) == "127.0.0.1"
    addrs = {i[4][0] for i in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)}
    if "::1" in addrs:
        assert asyncio.run(go("ip6", False)) == "::1"
    else:
        assert asyncio.run(go("ip6", True)) == "127.0.0.1"  # fell back to IPv4
        with pytest.raises(ProbeError, match="localhost has no IPv6 address"):
            asyncio.run(go("ip6", False))


def test_checks_with_the_same_tls_settings_share_one_context(tmp_path: Path) -> None:
    """One CA store in memory per TLS settings and probe type, not one per check; a CA file
    rewritten in place gets a new context, as a new check read it anew before."""
    import os

    from collectors.common.tls import TLSConfig
    from collectors.probe.net import probe_tls_context

    pki = make_pki(tmp_path)
    system, ca = TLSConfig(), TLSConfig(ca_file=pki["ca"])
    first = probe_tls_context(system, "http")
    assert probe_tls_context(TLSConfig(), "http") is first
    assert probe_tls_context(system, "tcp") is not first  # httpcore sets ALPN on http's
    with_ca = probe_tls_context(ca, "http")
    assert with_ca is not first and probe_tls_context(ca, "http") is with_ca
    insecure = probe_tls_context(TLSConfig(insecure_skip_verify=True), "http")
    assert insecure is not first and insecure.verify_mode == 0
    st = pki["ca"].stat()
    os.utime(pki["ca"], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert probe_tls_context(ca, "http") is not with_ca


def test_system_ca_store_loaded_at_the_first_https_url_only(peers: Peers) -> None:
    """A check of a plain http:// URL makes no TLS context at all (and so never parses the
    system's CA store, ~1.3 MiB); the first https URL it reaches, through a redirect here,
    makes one with the store loaded, shared with the other checks of the same settings."""
    import ssl

    default = ssl.create_default_context()
    system_cas = default.cert_store_stats()["x509_ca"]
    assert system_cas > 0, "no system CA store to compare with (ca-certificates)"
    from collectors.common.tls import TLSConfig

    deferred = TLSConfig().client_context(defer_system_ca=True)
    settings = ("protocol", "verify_mode", "check_hostname", "verify_flags", "options",
                "minimum_version", "maximum_version", "post_handshake_auth")
    assert {a: getattr(deferred, a) for a in settings} == {
        a: getattr(default, a) for a in settings}  # create_default_context's, less its CAs
    assert deferred.cert_store_stats()["x509_ca"] == 0
    tls = {"min_version": "TLS12"}  # settings of this test alone: a context of its own
    plain = HttpCollector(HttpCollector.Config.model_validate(
        {"name": "p", "type": "http", "target": f"http://{LO}:{peers.http}/",
         "tls_config": tls}))
    obs = asyncio.run(plain.collect(Context(Deadline(5), "s", "p")))
    assert obs.success, obs.reason
    assert plain._ssl_ctx is None
    to_https = HttpCollector(HttpCollector.Config.model_validate(
        {"name": "r", "type": "http", "tls_config": tls,
         "target": f"http://{LO}:{peers.http}/redirect-to?url=https://{LO}:{peers.https}/"}))
    obs = asyncio.run(to_https.collect(Context(Deadline(5), "s", "r")))
    assert obs.reason.startswith("certificate signed by an unknown authority"), obs.reason
    ctx = to_https._ssl_ctx
    assert ctx is not None and ctx.cert_store_stats()["x509_ca"] == system_cas
    direct = HttpCollector(HttpCollector.Config.model_validate(
        {"name": "d", "type": "http", "tls_config": tls,
         "target": f"https://{LO}:{peers.https}/"}))
    obs = asyncio.run(direct.collect(Context(Deadline(5), "s", "d")))
    assert obs.reason.startswith("certificate signed by an unknown authority"), obs.reason
    assert direct._ssl_ctx is ctx  # the same settings share it
    # a tcp check with tls handshakes at once: its context has the store from its first run
    tcp = TcpCollector(TcpCollector.Config.model_validate(
        {"name": "t", "type": "tcp", "target": f"{LO}:{peers.https}", "tls": True,
         "tls_config": tls}))
    obs = asyncio.run(tcp.collect(Context(Deadline(5), "s", "t")))
    assert obs.reason.startswith("certificate signed by an unknown authority"), obs.reason
    assert tcp._ssl_ctx is not None and tcp._ssl_ctx is not ctx
    assert tcp._ssl_ctx.cert_store_stats()["x509_ca"] == system_cas
