"""Targets on loopback for probing pantau and blackbox_exporter side by side: an HTTP server,
HTTPS with a trusted and with an untrusted certificate, a POP3S-like TLS banner, a DNS server,
and a blackbox_exporter started on a blackbox.yml; all stopped on exit."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers.certs import issue, make_pki, new_ca, pem, pem_key
from tests.helpers.exporters import run_exporter

BODY = b"<html><body>Sistem Perizinan: status: OK</body></html>\n"


class _Portal(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        code = 500 if self.path == "/error" else 200
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(BODY)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer()

    def log_message(self, *args: Any) -> None:
        return


class _Banner(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):
            # then close: both probers see the end at once whether or not they matched
            self.request.sendall(b"+OK POP3 ready\r\n")


class _TlsBannerServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], ctx: ssl.SSLContext) -> None:
        super().__init__(addr, _Banner)
        self.ctx = ctx

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        sock.settimeout(5)
        try:
            return self.ctx.wrap_socket(sock, server_side=True), addr
        except (OSError, ssl.SSLError):
            sock.close()
            raise


class _DnsServer(threading.Thread):
    """Answers A portal.lab.test (with an NS authority and a glue record); NXDOMAIN else."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stopping = False

    def run(self) -> None:
        import dns.message
        import dns.rcode
        import dns.rrset

        self.sock.settimeout(0.2)
        while not self._stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            name = q.question[0].name.to_text()
            if name == "portal.lab.test.":
                r.answer.append(dns.rrset.from_text(name, 300, "IN", "A", "127.0.0.1"))
                r.authority.append(dns.rrset.from_text("lab.test.", 300, "IN", "NS",
                                                       "ns.lab.test."))
                r.additional.append(dns.rrset.from_text("ns.lab.test.", 300, "IN", "A",
                                                        "127.0.0.1"))
            else:
                r.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(r.to_wire(), peer)

    def stop(self) -> None:
        self._stopping = True
        self.join(2)
        self.sock.close()


@dataclass
class ProbePeers:
    http: str      # http://127.0.0.1:PORT
    https: str     # https://127.0.0.1:PORT (certificate from `ca`)
    https_bad: str  # https://127.0.0.1:PORT (certificate from an unknown CA)
    pop3s: str     # 127.0.0.1:PORT, TLS banner "+OK"
    dns: str       # 127.0.0.1:PORT
    ca: Path


def _serve(server: socketserver.BaseServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t


@contextlib.contextmanager
def probe_peers(directory: Path) -> Iterator[ProbePeers]:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    pki = make_pki(directory)
    now = dt.datetime.now(dt.UTC)
    other, other_key = new_ca("unknown CA", now + dt.timedelta(days=30))
    bad, bad_key = issue(other, other_key, "localhost",
                         [x509.DNSName("localhost"),
                          x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
                         ExtendedKeyUsageOID.SERVER_AUTH, now - dt.timedelta(days=1),
                         now + dt.timedelta(days=20))
    (directory / "bad.pem").write_bytes(pem(bad))
    (directory / "bad.key").write_bytes(pem_key(bad_key))

    def ctx(cert: str, key: str) -> ssl.SSLContext:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(cert, key)
        return c

    plain = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    good = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    good.socket = ctx(str(pki["server"]), str(pki["server_key"])).wrap_socket(
        good.socket, server_side=True)
    badsrv = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    badsrv.socket = ctx(str(directory / "bad.pem"), str(directory / "bad.key")).wrap_socket(
        badsrv.socket, server_side=True)
    pop = _TlsBannerServer(("127.0.0.1", 0), ctx(str(pki["server"]), str(pki["server_key"])))
    servers: list[socketserver.BaseServer] = [plain, good, badsrv, pop]
    for s in servers:
        s.daemon_threads = True  # type: ignore[attr-defined]
        _serve(s)
    dns_server = _DnsServer()
    dns_server.start()
    try:
        yield ProbePeers(
            http=f"http://127.0.0.1:{plain.server_address[1]}",
            https=f"https://127.0.0.1:{good.server_address[1]}",
            https_bad=f"https://127.0.0.1:{badsrv.server_address[1]}",
            pop3s=f"127.0.0.1:{pop.server_address[1]}",
            dns=f"127.0.0.1:{dns_server.port}", ca=pki["ca"])
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        dns_server.stop()


def blackbox_yml(ca: Path) -> str:
    """The modules of Debian's example blackbox.yml that pantau supports (pop3s_banner
    trusting the test CA), plus dns, https with the test CA, and failing variants."""
    return f"""\
modules:
  http_2xx:
    prober: http
  http_post_2xx:
    prober: http
    http:
      method: POST
  https_ca:
    prober: http
    http:
      fail_if_not_ssl: true
      tls_config:
        ca_file: {ca}
  http_regex:
    prober: http
    http:
      fail_if_body_not_matches_regexp: ["Dukcapil"]
  tcp_connect:
    prober: tcp
  pop3s_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: "^+OK"
      tls: true
      tls_config:
        ca_file: {ca}
        insecure_skip_verify: false
  pop3s_ok:
    prober: tcp
    tcp:
      query_response:
      - expect: "^\\\\+OK"
      tls: true
      tls_config:
        ca_file: {ca}
  icmp:
    prober: icmp
  dns_a:
    prober: dns
    dns:
      query_name: portal.lab.test
      query_type: A
      validate_answer_rrs:
        fail_if_not_matches_regexp:
        - "portal\\\\.lab\\\\.test\\\\.\\t300\\tIN\\tA\\t127\\\\.0\\\\.0\\\\.1"
  dns_nx:
    prober: dns
    dns:
      query_name: nosuch.lab.test
      query_type: A
"""


@contextlib.contextmanager
def run_blackbox(config: Path, log: Path) -> Iterator[str]:
    """prometheus-blackbox-exporter on a free loopback port; its base URL."""
    with run_exporter("prometheus-blackbox-exporter", config, log) as url:
        yield url
